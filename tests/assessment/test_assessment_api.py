"""The knowledge tests API and the learning-gain report: shapes, filters, suppression, bad input."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import func, select

from learning.assessment.models import KnowledgeTest, KnowledgeTestAttempt
from learning.audit.models import AuditEntry
from learning.extensions import db
from tests import factories_assessment as fa
from tests import factories_reporting as rf


def attempts() -> int:
    return db.session.scalar(select(func.count()).select_from(KnowledgeTestAttempt))


# --- authoring and taking ------------------------------------------------------------------

def test_an_admin_sets_the_tests_and_reads_them_back_with_the_answers(api, make):
    course = make.course()
    admin = api.as_user(make.admin())
    response = admin.request("PUT", f"courses/{course.slug}/knowledge-tests", json=fa.definition(pre=2, post=3))
    assert response.status_code == 200
    body = response.json
    assert len(body["pre"]["questions"]) == 2 and body["post"]["same_as_pre"] is False
    assert [c["correct"] for c in body["post"]["questions"][0]["choices"]] == [False, True, False]
    assert admin.get(f"courses/{course.slug}/knowledge-tests").json == body
    assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.action == "course.knowledge_tests_set"))


@pytest.mark.parametrize("body, field", [
    ({"pre": {"questions": [{"text": "", "choices": []}]}}, "pre.questions.0.text"),
    ({"post": {"same_as_pre": True}}, "pre"),
    ({"pre": "yes"}, "pre"),
    ({"post": {"same_as_pre": "yes"}}, "post.same_as_pre"),  # true or false, not a word that looks like one
    ({"extra": 1}, "_schema"),
])
def test_a_bad_definition_answers_422_naming_the_field_and_changes_nothing(api, make, body, field):
    course = make.course()
    response = api.as_user(make.admin()).request("PUT", f"courses/{course.slug}/knowledge-tests", json=body)
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]
    assert db.session.scalar(select(func.count()).select_from(KnowledgeTest)) == 0


def test_a_learner_takes_the_pre_test_then_the_post_test_and_sees_the_gain(api, make):
    course = make.course()
    fa.give_tests(course, pre=4)
    learner = make.user()
    enrolment = make.enrolment(learner, course)
    client = api.as_user(learner)
    state = client.get(f"enrolments/{enrolment.id}/knowledge-tests").json
    pre = next(t for t in state["tests"] if t["kind"] == "pre")
    post = next(t for t in state["tests"] if t["kind"] == "post")
    assert pre["open"] and not post["open"] and post["questions"] == []
    assert "correct" not in str(pre["questions"])  # which choice is right never leaves the server
    taken = client.post(f"enrolments/{enrolment.id}/knowledge-tests/pre/attempts",
                        json={"answers": fa.answers(course.id, "pre", 1)})
    assert taken.status_code == 201 and taken.json["score"] == 25 and taken.json["gain"] is None
    refused = client.post(f"enrolments/{enrolment.id}/knowledge-tests/post/attempts",
                          json={"answers": fa.answers(course.id, "post", 4)})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "post_test_not_open"
    fa.finish_lessons(enrolment)
    done = client.post(f"enrolments/{enrolment.id}/knowledge-tests/post/attempts",
                       json={"answers": fa.answers(course.id, "post", 4)})
    assert done.status_code == 201 and (done.json["score"], done.json["gain"]) == (100, 75)
    assert client.get(f"enrolments/{enrolment.id}/knowledge-tests").json["gain"] == 75


def test_a_pre_test_after_the_post_test_is_refused_with_409_and_changes_nothing(api, make):
    course = make.course()
    fa.give_tests(course)
    learner = make.user()
    enrolment = make.enrolment(learner, course)
    fa.finish_lessons(enrolment)
    client = api.as_user(learner)
    assert client.post(f"enrolments/{enrolment.id}/knowledge-tests/post/attempts",
                       json={"answers": {}}).status_code == 201
    response = client.post(f"enrolments/{enrolment.id}/knowledge-tests/pre/attempts",
                           json={"answers": fa.answers(course.id, "pre", 2)})
    assert response.status_code == 409
    assert response.json["error"]["code"] == "pre_test_after_post_test"
    assert "post-test" in response.json["error"]["message"]
    assert attempts() == 1


@pytest.mark.parametrize("body, status", [
    ({"answers": {"999999": 1}}, 422),
    ({"answers": {"FIRST": 999999}}, 422),
    ({"answers": "all right"}, 422),
    ({}, 422),
    (None, 422),
])
def test_bad_answers_are_refused_and_change_nothing(api, make, body, status):
    course = make.course()
    fa.give_tests(course)
    learner = make.user()
    enrolment = make.enrolment(learner, course)
    if body and isinstance(body.get("answers"), dict) and "FIRST" in body["answers"]:
        first = next(iter(fa.answers(course.id, "pre", 0)))
        body = {"answers": {first: body["answers"]["FIRST"]}}
    response = api.as_user(learner).post(f"enrolments/{enrolment.id}/knowledge-tests/pre/attempts", json=body)
    assert response.status_code == status and response.json["error"]["code"] == "validation_error"
    assert attempts() == 0


def test_an_unknown_test_or_someone_elses_enrolment_is_not_found(api, make):
    course = make.course()
    fa.give_tests(course)
    enrolment = make.enrolment(make.user(), course)
    owner_client = api.as_user(enrolment.user)
    assert owner_client.post(f"enrolments/{enrolment.id}/knowledge-tests/during/attempts",
                             json={"answers": {}}).status_code == 404
    stranger = api.as_user(make.user())
    assert stranger.post(f"enrolments/{enrolment.id}/knowledge-tests/pre/attempts",
                         json={"answers": {}}).status_code == 404
    assert stranger.get(f"enrolments/{enrolment.id}/knowledge-tests").status_code == 404
    assert attempts() == 0


# --- the report ------------------------------------------------------------------------------

def pair(person, course, day: date, pre: int, post: int, **attribution):
    """An enrolment with a pre-test on its first day and a post-test on ``day``."""
    item = rf.enrolment(person, course, day, **attribution)
    db.session.add_all([
        KnowledgeTestAttempt(enrolment_id=item.id, kind="pre", score=pre, correct=0, questions=1,
                             submitted_at=rf.at(day, 9)),
        KnowledgeTestAttempt(enrolment_id=item.id, kind="post", score=post, correct=0, questions=1,
                             submitted_at=rf.at(day, 17)),
    ])
    return item


@pytest.fixture
def results(app_context):
    """Six people in Colombia (one with two courses), two in Kenya, all in 2024; one in 2023."""
    police, school = rf.course("policing", "Policing"), rf.course("school", "School safety")
    people = [rf.person("CO", "law_enforcement") for _ in range(6)]
    for n, person in enumerate(people):
        pair(person, police, date(2024, 3, 1 + n), 40, 70 + n)
    pair(people[0], school, date(2024, 5, 1), 60, 90)  # Ana's own means: pre 50, post 80
    for _ in range(2):
        pair(rf.person("KE", "health"), school, date(2024, 6, 1), 20, 50)
    pair(rf.person("KE", "health"), school, date(2023, 6, 1), 0, 100)
    solo = rf.enrolment(rf.person("FR", "health"), school, date(2024, 6, 1))  # a pre-test alone never counts
    db.session.add(KnowledgeTestAttempt(enrolment_id=solo.id, kind="pre", score=10, correct=0, questions=1,
                                        submitted_at=rf.at(date(2024, 6, 1))))
    db.session.commit()
    return {"police": police, "school": school}


def test_the_report_counts_people_who_took_both_and_suppresses_small_groups(api, make, results):
    response = api.as_user(make.admin()).get("reports/learning-gain?from=2024-01-01&to=2024-12-31")
    assert response.status_code == 200
    body = response.json
    # People: six in Colombia, two in Kenya. Ana weighs once, with her own means (50, 80).
    # pre (50 + 40 * 5 + 20 * 2) / 8 = 36.25, post (80 + 71 + 72 + 73 + 74 + 75 + 50 * 2) / 8 = 68.125,
    # gain 31.875: exact, then rounded half away from zero.
    assert body["people"] == 8
    assert (body["pre_mean"], body["post_mean"], body["gain"]) == (36.3, 68.1, 31.9)
    # Kenya's two people would be 8 - 6: with only two countries nothing protects them, so the column is
    # withheld whole (the same rule as every published table).
    assert {row["country"]: row["people"] for row in body["by_country"]} == {"CO": "x", "KE": "x"}
    assert all(row["pre_mean"] is None and row["gain"] is None for row in body["by_country"])
    by_course = {row["course"]: row for row in body["by_course"]}
    assert by_course["policing"]["people"] == 6 and by_course["policing"]["pre_mean"] == 40.0
    assert by_course["policing"]["post_mean"] == 72.5 and by_course["policing"]["gain"] == 32.5


def test_the_period_applies_to_the_post_test_and_filters_narrow_it(api, make, results):
    admin = api.as_user(make.admin())
    assert admin.get("reports/learning-gain").json["people"] == 9
    assert admin.get("reports/learning-gain?to=2023-12-31").json["people"] == "<5"
    colombia = admin.get("reports/learning-gain?country=CO&course=policing").json
    assert (colombia["people"], colombia["pre_mean"], colombia["post_mean"]) == (6, 40.0, 72.5)
    assert colombia["by_country"] == [{"country": "CO", "people": 6, "pre_mean": 40.0, "post_mean": 72.5,
                                       "gain": 32.5}]


@pytest.mark.parametrize("query, field", [
    ("from=2024-13-01", "from"), ("country=XX", "country"), ("course=nope", "course"),
    ("from=2024-05-01&to=2024-01-01", "to"), ("cohort=abc", "cohort"), ("sector=pirates", "sector"),
])
def test_bad_filters_answer_422_naming_the_field(api, make, query, field):
    response = api.as_user(make.admin()).get(f"reports/learning-gain?{query}")
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]


def test_only_admins_read_the_report(api, make, results):
    assert api.get("reports/learning-gain").status_code == 401
    assert api.as_user(make.user()).get("reports/learning-gain").status_code == 403
    assert api.as_user(make.trainer()).get("reports/learning-gain.csv").status_code == 403


def test_the_csv_export_is_suppressed_labelled_and_audited(api, make, results):
    response = api.as_user(make.admin()).get("reports/learning-gain.csv?group_by=course&from=2024-01-01")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["course", "course_title", "people", "pre_mean", "post_mean", "gain"]
    assert rows[1:] == [["policing", "Policing", "6", "40.0", "72.5", "32.5"], ["school", "School safety", "<5", "", "", ""]]
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "report.exported")).one()
    assert entry.details["report"] == "learning_gain" and entry.details["group_by"] == "course"


def test_an_unknown_grouping_is_refused(api, make):
    response = api.as_user(make.admin()).get("reports/learning-gain.csv?group_by=year")
    assert response.status_code == 422 and "group_by" in response.json["error"]["fields"]
