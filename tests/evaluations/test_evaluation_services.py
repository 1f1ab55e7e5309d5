"""The evaluation form's rules: who is asked what, once per enrolment, bad answers refused whole."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from learning.errors import ValidationFailed
from learning.evaluations import services
from learning.evaluations.models import Evaluation, EvaluationAnswer
from learning.extensions import db
from tests import factories_cohorts as cohorts
from tests import factories_evaluations as fe


def stored_count() -> tuple[int, int]:
    return (db.session.scalar(select(func.count()).select_from(Evaluation)),
            db.session.scalar(select(func.count()).select_from(EvaluationAnswer)))


def test_a_completed_enrolment_is_evaluated_once_with_the_attribution_it_recorded(make):
    learner = make.user(country="CO", sector="education")
    enrolment = make.completed_enrolment(learner)
    learner.country, learner.sector = "KE", "health"  # a later profile change does not rewrite history
    db.session.commit()
    assert services.evaluation_state(enrolment) == services.OPEN
    evaluation = services.submit_evaluation(enrolment, {"relevance": 5, "usefulness": "4", "recommend": "yes",
                                                        "change": "  Listen first.  ", "comments": ""}, "es")
    db.session.commit()
    assert (evaluation.country, evaluation.sector, evaluation.course_id) == ("CO", "education", enrolment.course_id)
    assert evaluation.language == "es"
    assert services.answers_as_data(evaluation) == {"change": "Listen first.", "recommend": "yes", "relevance": 5,
                                                    "usefulness": 4}
    assert services.evaluation_state(enrolment) == services.DONE
    with pytest.raises(services.AlreadyEvaluated):
        services.submit_evaluation(enrolment, {"relevance": 1})
    db.session.rollback()
    assert services.answers_as_data(services.evaluation_of(enrolment.id))["relevance"] == 5


def test_only_a_completed_course_is_evaluated(make):
    enrolment = make.enrolment(make.user())
    assert services.evaluation_state(enrolment) is None
    with pytest.raises(services.NotCompleted):
        services.submit_evaluation(enrolment, {"relevance": 3})
    assert stored_count() == (0, 0)


def test_cohort_members_also_rate_the_trainer_and_sessions_self_paced_learners_do_not(make):
    cohort = cohorts.cohort()
    member = cohorts.member(cohort)
    self_paced = make.enrolment(make.user())
    assert {"trainer", "sessions"} <= {q.key for q in services.questions_for(member)}
    assert not {"trainer", "sessions"} & {q.key for q in services.questions_for(self_paced)}


@pytest.mark.parametrize("answers, field", [
    ({"relevance": 0}, "relevance"),
    ({"relevance": 6}, "relevance"),
    ({"relevance": -1}, "relevance"),
    ({"relevance": 4.5}, "relevance"),
    ({"relevance": "5.0"}, "relevance"),
    ({"relevance": "٥"}, "relevance"),
    ({"relevance": True}, "relevance"),
    ({"relevance": [5]}, "relevance"),
    ({"relevance": 2**40}, "relevance"),
    ({"recommend": "maybe"}, "recommend"),
    ({"recommend": 1}, "recommend"),
    ({"change": 12}, "change"),
    ({"change": "x" * 2001}, "change"),
    ({"favourite_colour": "blue"}, "favourite_colour"),
    ({"trainer": 5}, "trainer"),  # a self-paced learner is not asked about a trainer
    ({}, "answers"),
    ({"relevance": None, "change": "   "}, "answers"),
])
def test_bad_answers_are_refused_whole_and_nothing_is_stored(make, answers, field):
    enrolment = make.completed_enrolment(make.user())
    with pytest.raises(ValidationFailed) as refused:
        services.submit_evaluation(enrolment, {"usefulness": 4, **answers} if field != "answers" else answers)
    assert field in refused.value.fields
    db.session.rollback()
    assert stored_count() == (0, 0)


def test_every_bad_answer_is_named_at_once(make):
    enrolment = make.completed_enrolment(make.user())
    with pytest.raises(ValidationFailed) as refused:
        services.submit_evaluation(enrolment, {"relevance": 9, "recommend": "perhaps", "nope": 1})
    assert set(refused.value.fields) == {"relevance", "recommend", "nope"}


def test_evaluations_of_a_person_are_theirs_only(make):
    enrolment, evaluation = fe.evaluated()
    fe.evaluated()
    assert services.evaluations_of_person(enrolment.user_id) == [evaluation]
