"""The evaluation form's questions: one set for every course, two more for a cohort's trainer and sessions.

Questions are identified by a stable ``key`` (what is stored with each answer and what the
reports and the API name); their wording is an interface text, translated like every other,
so a learner reads the form in their own language and reports read in the admin's. A question
that is retired keeps its key in ``QUESTIONS`` (``retired=True``) so that past answers still
report under their own wording.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

SCALE, CHOICE, TEXT = "scale", "choice", "text"
KINDS = (SCALE, CHOICE, TEXT)
SCALE_POINTS = (1, 2, 3, 4, 5)
TEXT_MAX = 2000  # characters of one free-text answer


@dataclass(frozen=True)
class Question:
    """One question of the form: a 1-5 rating scale, a choice among a few values, or free text."""

    key: str
    kind: str
    text: object  # a lazy translated string
    low: object = None  # the scale's words for 1 and 5
    high: object = None
    choices: tuple[tuple[str, object], ...] = ()
    cohort_only: bool = False
    retired: bool = False

    @property
    def values(self) -> tuple:
        """The answers a scale or choice question accepts (empty for free text)."""
        if self.kind == SCALE:
            return SCALE_POINTS
        return tuple(value for value, _label in self.choices)

    def label_of(self, value) -> str:
        """How one answer value is worded (a scale's points are their digits)."""
        return str(dict(self.choices).get(value, value))


QUESTIONS: tuple[Question, ...] = (
    Question("relevance", SCALE, _l("How relevant was this course to your work?"),
             _l("Not relevant"), _l("Very relevant")),
    Question("usefulness", SCALE, _l("How useful will what you learned be in your daily work?"),
             _l("Not useful"), _l("Very useful")),
    Question("confidence", SCALE, _l("How confident do you feel about applying what you learned?"),
             _l("Not confident"), _l("Very confident")),
    Question("trainer", SCALE, _l("How well did the trainer explain and guide the group?"),
             _l("Poorly"), _l("Very well"), cohort_only=True),
    Question("sessions", SCALE, _l("How well were the sessions organised (time, place, materials)?"),
             _l("Poorly"), _l("Very well"), cohort_only=True),
    Question("recommend", CHOICE, _l("Would you recommend this course to a colleague?"),
             choices=(("yes", _l("Yes, I would")), ("no", _l("No, I would not")),
                      ("not_sure", _l("Not sure")))),
    Question("change", TEXT, _l("What will you do differently in your work after this course?")),
    Question("comments", TEXT, _l("Anything else you would like to tell us about the course?")),
)
BY_KEY: dict[str, Question] = {question.key: question for question in QUESTIONS}


def form_questions(in_cohort: bool) -> list[Question]:
    """The questions a learner is asked: the trainer and sessions only when they took it in a cohort."""
    return [q for q in QUESTIONS if not q.retired and (in_cohort or not q.cohort_only)]
