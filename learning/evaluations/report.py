"""The evaluation report: per question, how many answered, the mean and spread of ratings, the
choices' counts, and (for admins) the free-text answers; anonymous, small groups suppressed.

Figures are counted in SQL from the stored evaluations with the reports' filters (``from`` and
``to`` are the UTC days the evaluations were submitted on; the dimensions are those the
enrolment recorded, DESIGN.md rule 3). Nothing in the report says who answered.

Suppression (``SMALL_CELL_THRESHOLD``, through ``learning.reporting.disclosure``): the unit
protected is the group of people who answered a question. A question answered by fewer than
the threshold (but more than nobody) is published as ``"<5"`` and nothing else about it is shown:
no mean, no counts, no texts. From the threshold up, the mean and the counts of each rating are
exact: within a group of at least five anonymous people, a count says what some of them answered,
not who. (Withholding small counts inside a large enough group would protect nothing: the exact
mean and number of answers already bound them.) Free texts are listed only to admins, without
names or dates, in alphabetical order, and only when the question's group is large enough.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, select

from learning.evaluations.models import Evaluation, EvaluationAnswer
from learning.evaluations.questions import BY_KEY, CHOICE, QUESTIONS, SCALE, TEXT, Question
from learning.extensions import db
from learning.reporting import disclosure
from learning.reporting.queries import ReportFilter
from learning.signals import ERASED

TEXT_LIST_LIMIT = 500  # the newest free-text answers listed (in alphabetical order) per question


@dataclass
class Tally:
    """The exact figures of one question: answers, and how many gave each rating or choice."""

    question: Question
    responses: int = 0
    counts: dict = field(default_factory=dict)

    @property
    def mean(self) -> float | None:
        """The mean rating, to two decimals (scales only)."""
        if self.question.kind != SCALE or not self.responses:
            return None
        return round(sum(value * n for value, n in self.counts.items()) / self.responses, 2)


def conditions(report: ReportFilter) -> list:
    """The report's filters on evaluations: the UTC days of submission, and the recorded attribution."""
    found = []
    if report.date_from is not None:
        found.append(Evaluation.submitted_at >= datetime.combine(report.date_from, time(0), tzinfo=UTC))
    if report.date_to is not None:
        found.append(Evaluation.submitted_at < datetime.combine(report.date_to + timedelta(days=1), time(0),
                                                                tzinfo=UTC))
    columns = {"country": Evaluation.country, "sector": Evaluation.sector, "course": Evaluation.course_id,
               "cohort": Evaluation.cohort_id, "organisation": Evaluation.organisation_id}
    for name, column in columns.items():
        value = getattr(report, name)
        if value is not None:
            found.append(column == value)
    return found


def respondents(report: ReportFilter) -> int:
    """How many evaluations the filters select (each is one person's, for one enrolment)."""
    return db.session.scalar(select(func.count()).select_from(Evaluation).where(*conditions(report))) or 0


def tallies(report: ReportFilter) -> dict[str, Tally]:
    """Every question's exact figures, by key: the current questions always, a retired one if answered."""
    found = {q.key: Tally(q) for q in QUESTIONS if not q.retired}
    statement = (
        select(EvaluationAnswer.question, EvaluationAnswer.rating, EvaluationAnswer.choice, func.count())
        .join(Evaluation, Evaluation.id == EvaluationAnswer.evaluation_id)
        .where(*conditions(report))
        .group_by(EvaluationAnswer.question, EvaluationAnswer.rating, EvaluationAnswer.choice)
    )
    for key, rating, choice, n in db.session.execute(statement):
        question = BY_KEY.get(key)
        if question is None:  # not a question this version knows: not reported
            continue
        tally = found.setdefault(key, Tally(question))
        tally.responses += n
        value = rating if question.kind == SCALE else choice
        if question.kind != TEXT and value is not None:
            tally.counts[value] = tally.counts.get(value, 0) + n
    for tally in found.values():
        for value in tally.question.values:
            tally.counts.setdefault(value, 0)
    return found


def texts(report: ReportFilter, key: str, limit: int = TEXT_LIST_LIMIT) -> list[str]:
    """The newest free-text answers to one question, in alphabetical order (so the order says nothing
    of who wrote what, or when); the texts of erased people are not listed."""
    statement = (
        select(EvaluationAnswer.text)
        .join(Evaluation, Evaluation.id == EvaluationAnswer.evaluation_id)
        .where(*conditions(report), EvaluationAnswer.question == key, EvaluationAnswer.text.is_not(None),
               EvaluationAnswer.text != ERASED)
        .order_by(Evaluation.submitted_at.desc(), Evaluation.id.desc())
        .limit(limit)
    )
    return sorted(db.session.scalars(statement), key=lambda text: (text.casefold(), text))


def published(report: ReportFilter, threshold: int, *, with_texts: bool) -> dict:
    """The report as published: ``{respondents, small_cell_threshold, questions: [...]}``.

    Each question: ``{question, text, kind, responses, suppressed, mean, counts, labels, answers}``;
    ``answers`` (free texts) only ``with_texts`` (admins) and only when not suppressed."""
    questions = []
    for tally in tallies(report).values():
        question = tally.question
        suppressed = 0 < tally.responses < threshold
        item = {
            "question": question.key, "text": str(question.text), "kind": question.kind,
            "responses": disclosure.publish_count(tally.responses, threshold), "suppressed": suppressed,
            "mean": None if suppressed else tally.mean,
            "counts": None if suppressed or question.kind == TEXT else
            {str(value): tally.counts[value] for value in question.values},
            "labels": labels_of(question),
        }
        if question.kind == TEXT:
            item["answers"] = None
            if with_texts and not suppressed:
                item["answers"] = texts(report, question.key) if tally.responses else []
        questions.append(item)
    return {"respondents": disclosure.publish_count(respondents(report), threshold),
            "small_cell_threshold": threshold, "questions": questions}


def labels_of(question: Question) -> dict[str, str]:
    """How the answer values read: a scale's two ends, a choice's every value."""
    if question.kind == SCALE:
        return {"1": str(question.low), "5": str(question.high)}
    if question.kind == CHOICE:
        return {value: str(label) for value, label in question.choices}
    return {}


def csv_rows(figures: dict) -> list[list]:
    """The published report as CSV rows (figures only: free texts stay on the admins' page and API).

    One row per question and answer value (a rating or a choice), with the question's answers and
    mean on each; a free-text question has one row, its number of answers. Suppressed figures are
    ``"<5"`` (the answers) and ``"x"`` (what is withheld with them)."""
    rows = [["question", "question_text", "kind", "answer", "answer_label", "count", "responses", "mean"]]
    for item in figures["questions"]:
        question = BY_KEY[item["question"]]
        mean = "" if item["mean"] is None else item["mean"]
        if item["suppressed"]:
            mean = disclosure.WITHHELD if question.kind == SCALE else ""
        if question.kind == TEXT:
            rows.append([item["question"], item["text"], item["kind"], "", "", "", item["responses"], ""])
            continue
        for value in question.values:
            count = disclosure.WITHHELD if item["suppressed"] else item["counts"][str(value)]
            label = question.label_of(value) if question.kind == CHOICE else item["labels"].get(str(value), "")
            rows.append([item["question"], item["text"], item["kind"], value, label, count, item["responses"], mean])
    return rows
