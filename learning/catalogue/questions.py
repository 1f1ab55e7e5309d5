"""Multiple-choice questions, as the course's quiz and the knowledge tests (pre-test, post-test) ask them.

Their definition is checked by ``validation.validate_quiz``; here is what both do with a learner's
answers: an answer maps a question id to one of its choice ids, an unknown question or choice is a
422 naming each answer at fault (nothing is scored), a question left unanswered counts as wrong, and
the score is the percent of the questions answered right. Which choices are right is never sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from flask_babel import LazyString
from flask_babel import gettext as _

from learning.errors import ValidationFailed


class Choice(Protocol):
    id: int
    correct: bool


class Question(Protocol):
    id: int
    choices: Sequence[Choice]


@dataclass(frozen=True)
class Scored:
    """Answers checked and scored: the choice taken per question, and how many were right."""

    chosen: dict[int, int]
    correct: int
    questions: int

    @property
    def percent(self) -> int:
        """The percent of the questions answered right, 0-100 (0 when there are none)."""
        return round(100 * self.correct / self.questions) if self.questions else 0

    def answers_as_data(self) -> dict[str, int]:
        """The choices as the attempt stores them (JSON keys are strings)."""
        return {str(question_id): choice_id for question_id, choice_id in self.chosen.items()}


def score_answers(answers, questions: Mapping[int, Question], *, not_asked: LazyString) -> Scored:
    """Check ``answers`` against ``questions`` (by id) and score them; ``ValidationFailed`` if any is
    invalid. ``not_asked`` is the message for an id that is not one of these questions: lazy, so that
    scoring valid answers translates nothing (a translation fixes the request's language)."""
    chosen = _checked_answers(answers, questions, not_asked)
    correct = sum(1 for question_id, question in questions.items()
                  if chosen.get(question_id) in {c.id for c in question.choices if c.correct})
    return Scored(chosen, correct, len(questions))


def _checked_answers(answers, questions: Mapping[int, Question], not_asked: LazyString) -> dict[int, int]:
    if not isinstance(answers, dict):
        raise ValidationFailed(_("The answers must map question ids to choice ids."),
                               {"answers": [_("Must be an object.")]})
    errors: dict[str, list[str]] = {}
    chosen: dict[int, int] = {}
    for key, value in answers.items():
        try:
            question_id = int(key)
        except (TypeError, ValueError):
            errors.setdefault(f"answers.{key}", []).append(_("Not a question id."))
            continue
        question = questions.get(question_id)
        if question is None:
            errors.setdefault(f"answers.{key}", []).append(str(not_asked))
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value not in {c.id for c in question.choices}:
            errors.setdefault(f"answers.{key}", []).append(_("Not a choice of this question."))
            continue
        chosen[question_id] = value
    if errors:
        raise ValidationFailed(_("Some answers are invalid."), errors)
    return chosen
