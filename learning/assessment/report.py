"""The learning-gain report: pre-test and post-test means over the people who took both.

Definitions (docs/LEARNING_GAIN.md):

* A **pair** is an enrolment with both a pre-test and a post-test attempt. The report's period
  (``from``, ``to``: UTC days, inclusive) applies to the **post-test's** date: a gain is counted
  when it is measured. The other filters, and every grouping, use what the enrolment recorded
  when the learner enrolled (country, sector, organisation, course, cohort; DESIGN.md rule 3).
* **People** are counted once (rule 4). A person with several pairs in one group (two courses in
  the same country) weighs once in that group's means: their own scores are averaged first.
* ``pre_mean`` and ``post_mean`` are the means over people of those scores (percent, 0-100);
  ``gain`` is ``post_mean - pre_mean``. All three are exact fractions, rounded half away from zero
  to one decimal only when published (so the gain shown may differ by 0.1 from the difference of
  the rounded means).
* **Small groups**: a group of fewer than ``SMALL_CELL_THRESHOLD`` people has its count published
  as ``"<5"`` and no means; the complementary groups that would let it be worked out from the
  total are withheld the same way (``learning.reporting.disclosure``, as every published table).
  This holds for the API, the CSV and the dashboard alike: means of a few people's test scores
  come too close to the scores of someone identifiable.

The per-person sums are aggregated in SQL; the means of a group are added up in Python with
fractions, so the published figures equal a recount from the raw rows exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from fractions import Fraction

from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from learning.assessment.models import KnowledgeTestAttempt
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.reporting import disclosure
from learning.reporting.queries import ReportFilter
from learning.reporting.services import course_slugs

GROUPS = ("country", "sector", "course", "cohort", "organisation")
_COLUMNS = {"country": Enrolment.country, "sector": Enrolment.sector, "course": Enrolment.course_id,
            "cohort": Enrolment.cohort_id, "organisation": Enrolment.organisation_id}


@dataclass
class GainRow:
    """One group's exact figures: its people and the sums of their (per-person mean) scores."""

    key: object
    people: int = 0
    pre_total: Fraction = field(default_factory=Fraction)
    post_total: Fraction = field(default_factory=Fraction)

    @property
    def pre_mean(self) -> Fraction | None:
        return self.pre_total / self.people if self.people else None

    @property
    def post_mean(self) -> Fraction | None:
        return self.post_total / self.people if self.people else None

    @property
    def gain(self) -> Fraction | None:
        return self.post_mean - self.pre_mean if self.people else None


def _per_person(report: ReportFilter, group: str | None):
    """(group key, person, sum of pre scores, sum of post scores, pairs) for every person with a pair."""
    pre, post = aliased(KnowledgeTestAttempt), aliased(KnowledgeTestAttempt)
    key = _COLUMNS[group] if group else None
    columns = [key] if key is not None else []
    statement = (
        select(*columns, Enrolment.user_id, func.sum(pre.score), func.sum(post.score), func.count())
        .select_from(post)
        .join(Enrolment, Enrolment.id == post.enrolment_id)
        .join(pre, and_(pre.enrolment_id == Enrolment.id, pre.kind == "pre"))
        .where(post.kind == "post")
    )
    if report.date_from is not None:
        statement = statement.where(post.submitted_at >= datetime.combine(report.date_from, time(), tzinfo=UTC))
    if report.date_to is not None:
        statement = statement.where(
            post.submitted_at < datetime.combine(report.date_to + timedelta(days=1), time(), tzinfo=UTC))
    for name, value in report.dimensions().items():
        statement = statement.where(_COLUMNS[name] == value)
    return db.session.execute(statement.group_by(*columns, Enrolment.user_id)).all()


def gain_rows(report: ReportFilter, group: str | None = None) -> list[GainRow]:
    """Exact figures: one row for the whole filter (``group`` None), or one per group, in key order."""
    rows: dict[object, GainRow] = {}
    for record in _per_person(report, group):
        key = record[0] if group else None
        user_pre, user_post, pairs = record[-3:]
        row = rows.setdefault(key, GainRow(key))
        row.people += 1
        row.pre_total += Fraction(int(user_pre), int(pairs))
        row.post_total += Fraction(int(user_post), int(pairs))
    if group is None:
        return [rows.get(None, GainRow(None))]
    return sorted(rows.values(), key=lambda row: (row.key is not None, str(row.key) if row.key is not None else ""))


def one_decimal(value: Fraction | None) -> float | None:
    """A mean as published: rounded half away from zero to one decimal."""
    if value is None:
        return None
    tenths = abs(value) * 10
    rounded = int(tenths) + (1 if tenths - int(tenths) >= Fraction(1, 2) else 0)
    return (rounded if value >= 0 else -rounded) / 10


def _published_figures(row: GainRow, people: int | str) -> dict:
    shown = isinstance(people, int) and people > 0
    return {"people": people,
            "pre_mean": one_decimal(row.pre_mean) if shown else None,
            "post_mean": one_decimal(row.post_mean) if shown else None,
            "gain": one_decimal(row.gain) if shown else None}


def publish(total: GainRow, rows: Iterable[GainRow], threshold: int) -> tuple[dict, list[dict]]:
    """The total and the groups as published: counts below the threshold as ``"<5"``, the
    complementary counts that would give them away as ``"x"``, and no means where the count is
    not published."""
    rows = list(rows)
    headline = _published_figures(total, disclosure.publish_count(total.people, threshold))
    cells, _whole = disclosure.protect_one_way([row.people for row in rows], total.people, threshold)
    return headline, [{"key": row.key, **_published_figures(row, people)} for row, people in zip(rows, cells, strict=True)]


def published_groups(report: ReportFilter, group: str, threshold: int) -> tuple[dict, list[dict]]:
    return publish(gain_rows(report)[0], gain_rows(report, group), threshold)


def learning_gain(report: ReportFilter, threshold: int, groups: Iterable[str] = ("country",)) -> dict:
    """The API's answer: ``{people, pre_mean, post_mean, gain, by_country: [...], ...}`` as published."""
    total = gain_rows(report)[0]
    answer = _published_figures(total, disclosure.publish_count(total.people, threshold))
    answer["small_cell_threshold"] = threshold
    for group in groups:
        exact = gain_rows(report, group)
        _headline, rows = publish(total, exact, threshold)
        slugs = course_slugs([row.key for row in exact]) if group == "course" else {}
        answer[f"by_{group}"] = [
            {group: slugs.get(row["key"]) if group == "course" else row["key"],
             **{name: value for name, value in row.items() if name != "key"}} for row in rows]
    return answer
