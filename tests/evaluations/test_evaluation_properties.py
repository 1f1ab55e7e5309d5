"""Property-based: the evaluation report always equals a recount from the raw rows.

Random evaluations (courses, cohorts, organisations, countries, sectors, days at the edges of
UTC days, answers to any subset of the questions, texts of erased people among them) are
written through the ORM; for every filter combination the API accepts and any small-cell
threshold, the published report must be exactly what counting the stored rows in Python gives:
respondents, each question's answers, mean, counts and listed texts, with the same suppression.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from learning.evaluations import report
from learning.evaluations.models import Evaluation, EvaluationAnswer
from learning.evaluations.questions import CHOICE, QUESTIONS, SCALE, TEXT
from learning.extensions import db
from learning.reporting.queries import ReportFilter
from learning.signals import ERASED
from tests import factories_reporting as rf
from tests.factories_evaluations import kind_columns

START = date(2023, 12, 20)
DAYS = 40  # few days, so that periods often start or end on a day with evaluations at its edges
MOMENTS = (time(0, 0), time(12, 0), time(23, 59, 59))

settings.register_profile("evaluations", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PROPERTY = settings.get_profile("evaluations")


def answer_of(question):
    if question.kind == SCALE:
        return st.integers(1, 5)
    if question.kind == CHOICE:
        return st.sampled_from(list(question.values))
    return st.sampled_from(["Listen first", "listen first", "Ask open questions", "Écouter", "أسأل أولاً",
                            "zebra", ERASED])


answers = st.fixed_dictionaries({}, optional={q.key: answer_of(q) for q in QUESTIONS}).filter(bool)

evaluation_specs = st.lists(st.fixed_dictionaries({
    "course": st.integers(0, 2),
    "cohort": st.sampled_from([None, 0, 1]),
    "organisation": st.sampled_from([None, 0, 1]),
    "country": st.sampled_from(["CO", "KE", "FR", None]),
    "sector": st.sampled_from(["law_enforcement", "health", None]),
    "day": st.integers(0, DAYS),
    "moment": st.sampled_from(MOMENTS),
    "answers": answers,
}), max_size=16)

periods = st.one_of(
    st.just((None, None)),
    st.tuples(st.integers(0, DAYS), st.integers(0, 20)).map(
        lambda t: (START + timedelta(days=t[0]), START + timedelta(days=t[0] + t[1]))),
    st.tuples(st.none(), st.integers(0, DAYS).map(lambda d: START + timedelta(days=d))),
    st.tuples(st.integers(0, DAYS).map(lambda d: START + timedelta(days=d)), st.none()),
)

dimension_filters = st.fixed_dictionaries({}, optional={
    "country": st.sampled_from(["CO", "KE", "FR"]),
    "sector": st.sampled_from(["law_enforcement", "health"]),
    "course": st.integers(0, 2),
    "cohort": st.integers(0, 1),
    "organisation": st.integers(0, 1),
})


def build(specs) -> dict:
    courses = [rf.course() for _ in range(3)]
    orgs = [rf.organisation() for _ in range(2)]
    cohorts = [rf.cohort(courses[i]) for i in range(2)]
    for spec in specs:
        evaluation = Evaluation(
            course_id=courses[spec["course"]].id,
            cohort_id=cohorts[spec["cohort"]].id if spec["cohort"] is not None else None,
            organisation_id=orgs[spec["organisation"]].id if spec["organisation"] is not None else None,
            country=spec["country"], sector=spec["sector"], language="en",
            submitted_at=datetime.combine(START + timedelta(days=spec["day"]), spec["moment"], tzinfo=UTC))
        db.session.add(evaluation)
        db.session.flush()
        evaluation.answers = [EvaluationAnswer(question=key, **kind_columns(key, value))
                              for key, value in spec["answers"].items()]
    db.session.commit()
    return {"course": [c.id for c in courses], "cohort": [c.id for c in cohorts], "organisation": [o.id for o in orgs]}


def raw_rows() -> list[dict]:
    """The stored evaluations as plain data, read back from the database."""
    return [{"day": e.submitted_at.date(), "course": e.course_id, "cohort": e.cohort_id,
             "organisation": e.organisation_id, "country": e.country, "sector": e.sector,
             "answers": {a.question: (a.rating, a.choice, a.text) for a in e.answers}}
            for e in db.session.scalars(select(Evaluation))]


def recount(rows, threshold, date_from, date_to, **dims) -> dict:
    """The report as it must be, counted in Python from the raw rows."""
    chosen = [row for row in rows
              if (date_from is None or row["day"] >= date_from) and (date_to is None or row["day"] <= date_to)
              and all(row[name] == value for name, value in dims.items())]

    def published(n):
        return f"<{threshold}" if 0 < n < threshold else n

    questions = []
    for question in QUESTIONS:
        given_answers = [row["answers"][question.key] for row in chosen if question.key in row["answers"]]
        n = len(given_answers)
        hidden = 0 < n < threshold
        item = {"question": question.key, "responses": published(n), "suppressed": hidden}
        if question.kind == SCALE:
            ratings = [rating for rating, _choice, _text in given_answers]
            item["mean"] = None if hidden or not n else round(sum(ratings) / n, 2)
            item["counts"] = None if hidden else {str(v): ratings.count(v) for v in range(1, 6)}
        elif question.kind == CHOICE:
            picked = [choice for _rating, choice, _text in given_answers]
            item["mean"] = None
            item["counts"] = None if hidden else {v: picked.count(v) for v in question.values}
        else:
            item["mean"], item["counts"] = None, None
            texts = [text for _rating, _choice, text in given_answers if text != ERASED]
            item["answers"] = None if hidden else sorted(texts, key=lambda t: (t.casefold(), t))
        questions.append(item)
    return {"respondents": published(len(chosen)), "questions": questions}


def comparable(figures: dict) -> dict:
    return {"respondents": figures["respondents"],
            "questions": [{key: item[key] for key in ("question", "responses", "suppressed", "mean", "counts")
                           + (("answers",) if item["kind"] == TEXT else ())}
                          for item in figures["questions"]]}


@given(specs=evaluation_specs, queries=st.lists(st.tuples(periods, dimension_filters, st.sampled_from([1, 2, 3, 5])),
                                                min_size=1, max_size=4))
@PROPERTY
def test_the_evaluation_report_always_equals_a_recount_from_the_raw_rows(app_context, specs, queries):
    rf.wipe()
    made = build(specs)
    rows = raw_rows()
    assert len(rows) == len(specs)
    for period, dims, threshold in queries:
        ids = {name: made[name][index] for name, index in dims.items() if name in made}
        ids.update({name: value for name, value in dims.items() if name not in made})
        filters = ReportFilter(date_from=period[0], date_to=period[1], **ids)
        expected = recount(rows, threshold, period[0], period[1], **ids)
        assert comparable(report.published(filters, threshold, with_texts=True)) == expected, (period, dims)
