"""The evaluation's pages: offered after completion, a form that works without JavaScript, a
trainer's summary of a closed cohort, the admins' report and the dashboard's section."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import func, select

from learning.cohorts import completion as cohort_services
from learning.evaluations.models import Evaluation
from learning.extensions import db
from tests import factories_cohorts as cohorts
from tests import factories_evaluations as fe
from tests import factories_reporting as rf
from tests.catalogue.test_catalogue_pages import sign_in, text


def evaluation_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Evaluation))


def test_a_completed_course_offers_its_evaluation_until_it_is_sent(client, make):
    learner = make.user()
    enrolment = make.completed_enrolment(learner)
    sign_in(client, learner)
    form_url = f"/learning/{enrolment.id}/evaluation"
    for page in (f"/courses/{enrolment.course.slug}", "/learning/", f"/learning/{enrolment.id}/quiz"):
        assert f'href="{form_url}"' in text(client.get(page)), page
    fe_answers = {"relevance": "5", "recommend": "yes", "change": "Ask before assuming."}
    response = client.post(form_url, data=fe_answers)
    assert response.status_code == 302 and response.headers["Location"].endswith(form_url)
    thanks = text(client.get(form_url))
    assert 'id="evaluation-done"' in thanks and "<form" not in thanks.split('id="evaluation-done"')[1].split("</main>")[0]
    assert 'data-evaluation="done"' in text(client.get("/learning/"))
    assert evaluation_count() == 1


def test_the_form_asks_in_the_learner_s_language_and_posts_without_javascript(client, make):
    learner = make.user(language="es")
    enrolment = make.completed_enrolment(learner)
    sign_in(client, learner)
    page = text(client.get(f"/learning/{enrolment.id}/evaluation"))
    assert "¿Hasta qué punto fue pertinente este curso para su trabajo?" in page
    form = page.split('id="evaluation-form"')[1].split("</form>")[0]
    fields = set(re.findall(r'name="([a-z_]+)"', form))
    assert fields - {"csrf_token"} == {"relevance", "usefulness", "confidence", "recommend", "change", "comments"}
    assert 'type="radio"' in form and "<textarea" in form  # plain controls: no script needed


def test_a_rating_out_of_range_is_refused_on_the_page_and_nothing_is_stored(client, make):
    learner = make.user()
    enrolment = make.completed_enrolment(learner)
    sign_in(client, learner)
    response = client.post(f"/learning/{enrolment.id}/evaluation", data={"relevance": "9", "change": "Kept"})
    assert response.status_code == 422
    page = text(response)
    assert "Choose a rating from 1 to 5." in page and 'id="relevance-error"' in page
    assert "Kept</textarea>" in page  # what was typed is not lost
    empty = client.post(f"/learning/{enrolment.id}/evaluation", data={})
    assert empty.status_code == 422 and "Answer at least one question" in text(empty)
    assert evaluation_count() == 0


def test_a_second_evaluation_is_refused_and_the_first_stands(client, make):
    learner = make.user()
    enrolment, _evaluation = fe.evaluated(learner, answers={"relevance": 2})
    sign_in(client, learner)
    response = client.post(f"/learning/{enrolment.id}/evaluation", data={"relevance": "5"})
    assert response.status_code == 409
    assert "You have already evaluated this course." in text(response)
    assert db.session.scalars(select(Evaluation)).one().answers[0].rating == 2


def test_an_unfinished_course_is_not_evaluated_yet_and_others_cannot_see_the_form(client, make):
    learner = make.user()
    unfinished = make.enrolment(learner)
    finished = make.completed_enrolment(make.user())
    sign_in(client, learner)
    response = client.get(f"/learning/{unfinished.id}/evaluation")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/courses/{unfinished.course.slug}")
    assert client.get(f"/learning/{finished.id}/evaluation").status_code == 404


# --- the trainer's summary -----------------------------------------------------------------------

def closed_cohort_with(ratings: list[int], trainer=None):
    trainer = trainer or make_trainer()
    cohort = cohorts.cohort(trainer)
    for rating in ratings:
        member = cohorts.member(cohort)
        cohort_services.sign_off(trainer, cohort, member.user_id)
        db.session.commit()
        from learning.evaluations import services

        services.submit_evaluation(member, {"trainer": rating, "relevance": rating, "change": "Secret plan"})
        db.session.commit()
    cohort_services.close_cohort(trainer, cohort)
    db.session.commit()
    return trainer, cohort


def make_trainer():
    from tests import factories

    return factories.trainer()


def test_a_trainer_sees_the_closed_cohort_s_summary_without_comments(client, make):
    trainer, cohort = closed_cohort_with([5, 5, 4, 4, 2])
    sign_in(client, trainer)
    show = text(client.get(f"/cohorts/{cohort.id}"))
    assert f'href="/cohorts/{cohort.id}/evaluation"' in show
    page = text(client.get(f"/cohorts/{cohort.id}/evaluation"))
    assert 'data-question="trainer"' in page and "4.00" in page
    assert "Secret plan" not in page  # comments are for admins, in aggregate


def test_a_small_cohort_s_summary_is_suppressed(client, make):
    trainer, cohort = closed_cohort_with([5, 1, 3])
    sign_in(client, trainer)
    page = text(client.get(f"/cohorts/{cohort.id}/evaluation"))
    assert "&lt;5" in page and "3.00" not in page


def test_an_open_cohort_shows_nothing_yet_and_other_trainers_find_nothing(client, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    sign_in(client, trainer)
    assert 'id="evaluation-not-yet"' in text(client.get(f"/cohorts/{cohort.id}/evaluation"))
    other = make.trainer()
    client.post("/account/logout")
    sign_in(client, other)
    assert client.get(f"/cohorts/{cohort.id}/evaluation").status_code == 404


# --- the admins' report and dashboard ----------------------------------------------------------

def test_the_dashboard_has_an_evaluation_section_with_a_chart_and_its_table(client, make):
    course = rf.course("policing", "Policing")
    for n in range(5):
        fe.stored(course.id, {"relevance": 4 + n % 2, "comments": f"Comment {n}"}, day=date(2024, 5, 1 + n))
    db.session.commit()
    sign_in(client, make.admin())
    page = text(client.get("/reports/?course=policing"))
    section = page.split('id="evaluations"')[1].split('class="card report-exports"')[0]
    assert 'id="chart-evaluations" role="img"' in section and 'id="evaluation-ratings"' in section
    assert "4.40" in section and "Comment 0" not in section
    assert 'href="/reports/evaluations?course=policing"' in section
    assert 'href="/api/v1/reports/evaluations.csv?course=policing"' in section
    report = text(client.get("/reports/evaluations?course=policing"))
    assert all(f"Comment {n}" in report for n in range(5))


def test_the_report_page_suppresses_small_groups_and_is_for_admins(client, make):
    course = rf.course("policing", "Policing")
    fe.stored(course.id, {"relevance": 1, "comments": "Only me said this"})
    db.session.commit()
    sign_in(client, make.admin())
    page = text(client.get("/reports/evaluations"))
    assert "Only me said this" not in page and "&lt;5" in page
    invalid = client.get("/reports/evaluations?country=XX")
    assert invalid.status_code == 200 and 'role="alert"' in text(invalid)
    client.post("/account/logout")
    sign_in(client, make.user())
    assert client.get("/reports/evaluations").status_code == 403
