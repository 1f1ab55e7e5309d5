"""The evaluation form's rules: who is asked, what an answer may be, once per enrolment, erasure.

A learner who completed a course is offered its evaluation (optional; every
question may be left blank, but not all of them). It is given once per
enrolment: a second submission answers 409 and the first stands, so that
figures already read do not move (a learner who takes the course again, on a
new enrolment, evaluates it again). Bad answers (a rating outside 1-5, a
choice that is not offered, an unknown or cohort-only question, a text longer
than ``TEXT_MAX``) are refused whole with 422, each named by its question key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from learning.enrolment.models import Enrolment
from learning.errors import Conflict, ValidationFailed
from learning.evaluations.models import Evaluation, EvaluationAnswer
from learning.evaluations.questions import BY_KEY, SCALE, TEXT, TEXT_MAX, Question, form_questions
from learning.extensions import db
from learning.models_base import utcnow
from learning.parsing import InvalidInput, parse_int
from learning.signals import ERASED, ErasedPerson, user_erased

OPEN, DONE = "open", "done"


class AlreadyEvaluated(Conflict):
    code = "already_evaluated"


class NotCompleted(Conflict):
    code = "not_completed"


def questions_for(enrolment: Enrolment) -> list[Question]:
    """The questions this enrolment's learner is asked (a cohort's members also rate its trainer and sessions)."""
    return form_questions(enrolment.cohort_id is not None)


def evaluation_of(enrolment_id: int) -> Evaluation | None:
    return db.session.scalar(select(Evaluation).where(Evaluation.enrolment_id == enrolment_id))


def evaluation_state(enrolment: Enrolment) -> str | None:
    """``open`` (completed, not yet evaluated), ``done`` (evaluated), or None (nothing to evaluate yet)."""
    if enrolment.status != "completed":
        return None
    return DONE if evaluation_of(enrolment.id) is not None else OPEN


def evaluated_ids(enrolment_ids: list[int]) -> set[int]:
    """Which of these enrolments have been evaluated (one query, for "My learning")."""
    if not enrolment_ids:
        return set()
    return set(db.session.scalars(select(Evaluation.enrolment_id).where(Evaluation.enrolment_id.in_(enrolment_ids))))


def clean_answers(enrolment: Enrolment, raw: Mapping[str, Any], strict: bool = False) -> dict[str, Any]:
    """The answers as they are stored, by question key; every problem named in one ``ValidationFailed``.

    A blank answer (None, "" or only spaces) is a question left unanswered. Ratings may come as
    numbers or as digits (a form's radio button); ``strict`` (the JSON API, whose contract says an
    integer) refuses digits in a string as the wrong type."""
    asked = {question.key: question for question in questions_for(enrolment)}
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for key, value in raw.items():
        question = asked.get(key)
        if question is None:
            errors[str(key)] = [_("There is no such question in this evaluation.")]
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if question.kind == SCALE:
            try:
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                if not isinstance(value, int | str) or (strict and isinstance(value, str)):
                    raise InvalidInput("not a number")
                cleaned[key] = parse_int(value, minimum=1, maximum=5)
            except InvalidInput:
                errors[key] = [_("Choose a rating from 1 to 5.")]
        elif question.kind == TEXT:
            if not isinstance(value, str):
                errors[key] = [_("Write your answer as text.")]
            elif len(value.strip()) > TEXT_MAX:
                errors[key] = [_("Write at most %(count)d characters.", count=TEXT_MAX)]
            else:
                cleaned[key] = value.strip()
        else:
            if not isinstance(value, str) or value not in question.values:
                errors[key] = [_("Choose one of the answers offered: %(values)s.",
                                 values=", ".join(question.values))]
            else:
                cleaned[key] = value
    if errors:
        raise ValidationFailed(_("Some answers are invalid; nothing was saved."), errors)
    if not cleaned:
        raise ValidationFailed(_("Answer at least one question, or leave the evaluation for later."),
                               {"answers": [_("Answer at least one question.")]})
    return cleaned


def submit_evaluation(enrolment: Enrolment, raw: Mapping[str, Any], language: str | None = None,
                      strict: bool = False) -> Evaluation:
    """Store the learner's evaluation of a completed enrolment, attributed as the enrolment recorded it.

    Raises ``NotCompleted`` before completion, ``AlreadyEvaluated`` for a second one (also when two
    requests race: the unique enrolment id decides), ``ValidationFailed`` for bad answers."""
    if enrolment.status != "completed":
        raise NotCompleted(_("You can evaluate a course once you have completed it."))
    answers = clean_answers(enrolment, raw, strict=strict)
    if evaluation_of(enrolment.id) is not None:
        raise AlreadyEvaluated(_("You have already evaluated this course. Thank you!"))
    evaluation = Evaluation(
        enrolment_id=enrolment.id, course_id=enrolment.course_id, cohort_id=enrolment.cohort_id,
        country=enrolment.country, sector=enrolment.sector, organisation_id=enrolment.organisation_id,
        language=language or enrolment.language, submitted_at=utcnow(),
        answers=[_answer(BY_KEY[key], value) for key, value in answers.items()],
    )
    db.session.add(evaluation)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:  # a concurrent request stored one first
        raise AlreadyEvaluated(_("You have already evaluated this course. Thank you!")) from exc
    return evaluation


def _answer(question: Question, value) -> EvaluationAnswer:
    if question.kind == SCALE:
        return EvaluationAnswer(question=question.key, rating=value)
    if question.kind == TEXT:
        return EvaluationAnswer(question=question.key, text=value)
    return EvaluationAnswer(question=question.key, choice=value)


def answers_as_data(evaluation: Evaluation) -> dict[str, Any]:
    """An evaluation's answers by question key, as the API and the data export give them."""
    return {a.question: a.rating if a.rating is not None else (a.choice if a.choice is not None else a.text)
            for a in sorted(evaluation.answers, key=lambda a: a.question)}


def evaluations_of_person(user_id: int) -> list[Evaluation]:
    """The evaluations a person gave (for their data export)."""
    return list(db.session.scalars(
        select(Evaluation).join(Enrolment, Enrolment.id == Evaluation.enrolment_id)
        .where(Enrolment.user_id == user_id).order_by(Evaluation.id)))


# --- erasure -----------------------------------------------------------------------------------

def forget_person(person: ErasedPerson) -> None:
    """Detach the person's evaluations and blank what they wrote; scrub their name from others' texts.

    Their ratings and choices stay, anonymous, with the attribution their enrolment recorded, so
    past figures do not change (DESIGN.md rule 3). What they wrote could say who they are, so each
    of their texts becomes ``[erased]`` (still counted as an answer, never listed). Anyone else's
    text naming them (a trainer, a colleague) has the name or address replaced by ``[erased]``."""
    theirs = list(db.session.scalars(
        select(Evaluation).join(Enrolment, Enrolment.id == Evaluation.enrolment_id)
        .where(Enrolment.user_id == person.user_id)))
    for evaluation in theirs:
        for answer in evaluation.answers:
            if answer.text is not None:
                answer.text = ERASED
        evaluation.enrolment_id = None
    mentioning = select(EvaluationAnswer).where(EvaluationAnswer.text.is_not(None),
                                                person.mentioned_in_column(EvaluationAnswer.text))
    for answer in db.session.scalars(mentioning):
        if person.mentioned_in_text(answer.text):
            answer.text = person.scrub_text(answer.text)


def _on_user_erased(person: ErasedPerson) -> None:
    forget_person(person)


def connect_erasure() -> None:
    user_erased.connect(_on_user_erased)
