"""The evaluations API: a learner's form and answers; the admins' anonymous report, its filters,
suppression, CSV, bad input and who may call it."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import func, select

from learning.audit.models import AuditEntry
from learning.evaluations.models import Evaluation, EvaluationAnswer
from learning.extensions import db
from tests import factories_evaluations as fe
from tests import factories_reporting as rf


@pytest.fixture
def evaluations(app_context):
    """Six evaluations of one course in Colombia (2024), one in Kenya (2025) of another."""
    police = rf.course("policing", "Policing")
    school = rf.course("school", "School safety")
    bogota = rf.cohort(police, "CO", "Bogotá 2024")
    for n, rating in enumerate([5, 5, 4, 4, 3, 1]):
        fe.stored(police.id, {"relevance": rating, "recommend": "yes" if rating > 3 else "no",
                              "change": f"Idea {chr(ord('F') - n)}", "trainer": 5},
                  day=date(2024, 3, 1 + n), cohort_id=bogota.id)
    fe.stored(school.id, {"relevance": 2, "comments": "Too short"}, day=date(2025, 1, 5), country="KE",
              sector="education")
    db.session.commit()
    return {"police": police, "school": school, "bogota": bogota}


def question(body: dict, key: str) -> dict:
    return next(item for item in body["questions"] if item["question"] == key)


def test_the_report_gives_each_question_its_answers_mean_and_counts(api, make, evaluations):
    response = api.as_user(make.admin()).get("reports/evaluations?course=policing")
    assert response.status_code == 200
    body = response.json
    assert body["respondents"] == 6 and body["small_cell_threshold"] == 5
    relevance = question(body, "relevance")
    assert relevance["responses"] == 6 and relevance["mean"] == 3.67 and not relevance["suppressed"]
    assert relevance["counts"] == {"1": 1, "2": 0, "3": 1, "4": 2, "5": 2}
    assert question(body, "recommend")["counts"] == {"yes": 4, "no": 2, "not_sure": 0}
    # Free texts without names or dates, in alphabetical order whatever order they came in.
    assert question(body, "change")["answers"] == ["Idea A", "Idea B", "Idea C", "Idea D", "Idea E", "Idea F"]
    assert question(body, "usefulness") == {**question(body, "usefulness"), "responses": 0, "mean": None,
                                            "counts": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}}
    assert "full_name" not in response.get_data(as_text=True) and "email" not in response.get_data(as_text=True)


def test_small_groups_are_suppressed(api, make, evaluations):
    body = api.as_user(make.admin()).get("reports/evaluations?country=KE").json
    assert body["respondents"] == "<5"
    relevance = question(body, "relevance")
    assert relevance == {**relevance, "responses": "<5", "suppressed": True, "mean": None, "counts": None}
    assert question(body, "comments")["answers"] is None
    assert "Too short" not in str(body)


@pytest.mark.parametrize("query, respondents, mean", [
    ("", 7, 3.43),
    ("from=2024-03-02&to=2024-03-06", 5, 3.4),  # the UTC days the evaluations were sent on
    ("from=2025-01-01", "<5", None),
    ("sector=law_enforcement&country=co", 6, 3.67),
    ("cohort={bogota}", 6, 3.67),
    ("course=school", "<5", None),
    ("organisation=Nobody%27s", None, None),
])
def test_the_summary_filters_select_the_evaluations(api, make, evaluations, query, respondents, mean):
    if "organisation" in query:
        rf.organisation("Nobody's")
        db.session.commit()
    response = api.as_user(make.admin()).get("reports/evaluations?" + query.format(bogota=evaluations["bogota"].id))
    assert response.status_code == 200
    body = response.json
    assert body["respondents"] == (respondents if respondents is not None else 0)
    assert question(body, "relevance")["mean"] == mean


@pytest.mark.parametrize("query, field", [
    ("country=XX", "country"), ("from=2024-13-01", "from"), ("from=2024-05-01&to=2024-04-01", "to"),
    ("course=no-such-course", "course"), ("cohort=abc", "cohort"), ("organisation=Nowhere", "organisation"),
    ("sector=pirates", "sector"), ("from=", "from"),
])
def test_bad_filters_answer_422_naming_the_field(api, make, evaluations, query, field):
    response = api.as_user(make.admin()).get("reports/evaluations?" + query)
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]


def test_only_admins_read_the_report(api, make, evaluations):
    assert api.get("reports/evaluations").status_code == 401
    for person in (make.user(), make.trainer(), make.user(roles=("org_manager",))):
        assert api.as_user(person).get("reports/evaluations").status_code == 403
        assert api.as_user(person).get("reports/evaluations.csv").status_code == 403


def test_the_csv_export_is_suppressed_like_the_report_and_audited(api, make, evaluations):
    admin = make.admin()
    response = api.as_user(admin).get("reports/evaluations.csv?from=2024-01-01&to=2024-12-31")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    relevance = {row["answer"]: row for row in rows if row["question"] == "relevance"}
    assert relevance["4"]["count"] == "2" and relevance["4"]["responses"] == "6" and relevance["4"]["mean"] == "3.67"
    assert "Idea" not in response.get_data(as_text=True)  # free texts are not exported
    kenya = list(csv.DictReader(io.StringIO(api.as_user(admin).get("reports/evaluations.csv?country=KE")
                                            .get_data(as_text=True))))
    assert {(row["count"], row["responses"], row["mean"]) for row in kenya if row["question"] == "relevance"} == {
        ("x", "<5", "x")}
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "report.exported")) == 2


# --- the learner's side ----------------------------------------------------------------------

def test_a_learner_reads_the_form_and_sends_it_once(api, make):
    learner = make.user(language="fr")
    enrolment = make.completed_enrolment(learner)
    client = api.as_user(learner)
    form = client.get(f"enrolments/{enrolment.id}/evaluation")
    assert form.status_code == 200
    assert form.json["state"] == "open" and form.json["answers"] is None
    assert [q["question"] for q in form.json["questions"]] == ["relevance", "usefulness", "confidence", "recommend",
                                                               "change", "comments"]
    sent = client.post(f"enrolments/{enrolment.id}/evaluation",
                       json={"answers": {"relevance": 5, "recommend": "not_sure", "change": "Plus d'écoute"}})
    assert sent.status_code == 201
    assert sent.json["state"] == "done"
    assert sent.json["answers"] == {"relevance": 5, "recommend": "not_sure", "change": "Plus d'écoute"}
    again = client.post(f"enrolments/{enrolment.id}/evaluation", json={"answers": {"relevance": 1}})
    assert again.status_code == 409 and again.json["error"]["code"] == "already_evaluated"
    assert client.get(f"enrolments/{enrolment.id}/evaluation").json["answers"]["relevance"] == 5


@pytest.mark.parametrize("body, field", [
    ({"answers": {"relevance": 6}}, "relevance"),
    ({"answers": {"relevance": 0, "usefulness": 5}}, "relevance"),
    ({"answers": {"recommend": "perhaps"}}, "recommend"),
    ({"answers": {"unknown": 3}}, "unknown"),
    ({"answers": {"relevance": "high"}}, "relevance"),
    # Outside check: the contract says an integer; digits in a string are the wrong type (the form's
    # radio buttons, which send strings, are read by the page, not by this API).
    ({"answers": {"relevance": "5"}}, "relevance"),
    ({"answers": {"relevance": True}}, "relevance"),
    ({"answers": {"relevance": 10**30}}, "relevance"),
    ({"answers": {}}, "answers"),
    ({"answers": [5]}, "answers"),
    ({}, "answers"),
])
def test_answers_out_of_range_answer_422_and_nothing_is_stored(api, make, body, field):
    learner = make.user()
    enrolment = make.completed_enrolment(learner)
    response = api.as_user(learner).post(f"enrolments/{enrolment.id}/evaluation", json=body)
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]
    assert db.session.scalar(select(func.count()).select_from(Evaluation)) == 0
    assert db.session.scalar(select(func.count()).select_from(EvaluationAnswer)) == 0


def test_someone_else_s_enrolment_is_not_found_and_an_unfinished_one_is_a_conflict(api, make):
    learner, other = make.user(), make.user()
    finished = make.completed_enrolment(learner)
    unfinished = make.enrolment(learner)
    assert api.as_user(other).get(f"enrolments/{finished.id}/evaluation").status_code == 404
    assert api.as_user(other).post(f"enrolments/{finished.id}/evaluation",
                                   json={"answers": {"relevance": 3}}).status_code == 404
    response = api.as_user(learner).post(f"enrolments/{unfinished.id}/evaluation", json={"answers": {"relevance": 3}})
    assert response.status_code == 409 and response.json["error"]["code"] == "not_completed"
    assert api.as_user(learner).get(f"enrolments/{unfinished.id}/evaluation").json["state"] is None


def test_a_learner_s_data_export_holds_their_evaluations(api, make):
    learner = make.user()
    enrolment, _evaluation = fe.evaluated(learner, answers={"relevance": 3, "change": "More role play"})
    fe.evaluated()  # someone else's
    exported = api.as_user(learner).get("me/export").json["evaluations"]
    assert [(e["enrolment_id"], e["answers"]) for e in exported] == [
        (enrolment.id, {"change": "More role play", "relevance": 3})]
