"""Property-based: the learning-gain report always equals a recount from the raw rows.

Random histories of enrolments with a pre-test, a post-test, both or neither are written through
the ORM; for every filter the API accepts and every grouping, the exact figures must equal what
counting people in Python gives, and the published answer must be that recount, rounded and
suppressed by the one disclosure rule. A pre-test alone, or a post-test alone, never counts.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from learning.assessment import report as gain
from learning.assessment.models import KnowledgeTestAttempt
from learning.extensions import db
from learning.reporting import disclosure
from learning.reporting.queries import ReportFilter
from tests import factories_reporting as rf

START = date(2024, 1, 1)
DAYS = 400
PROPERTY = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

histories = st.lists(st.fixed_dictionaries({
    "person": st.integers(0, 6),
    "course": st.integers(0, 2),
    "cohort": st.sampled_from([None, 0, 1]),
    "organisation": st.sampled_from([None, 0, 1]),
    "country": st.sampled_from(["CO", "KE", "FR", None]),
    "sector": st.sampled_from(["health", "education", None]),
    "enrolled": st.integers(0, DAYS),
    "pre": st.one_of(st.none(), st.integers(0, 100)),
    "post": st.one_of(st.none(), st.tuples(st.integers(0, 100), st.integers(0, 90))),  # (score, days after)
}), max_size=16)

periods = st.one_of(
    st.just((None, None)),
    st.tuples(st.integers(0, DAYS), st.integers(0, 200)).map(
        lambda t: (START + timedelta(days=t[0]), START + timedelta(days=t[0] + t[1]))),
    st.tuples(st.none(), st.integers(0, DAYS).map(lambda d: START + timedelta(days=d))),
    st.tuples(st.integers(0, DAYS).map(lambda d: START + timedelta(days=d)), st.none()),
)

filters = st.fixed_dictionaries({}, optional={
    "country": st.sampled_from(["CO", "KE", "FR"]), "sector": st.sampled_from(["health", "education"]),
    "course": st.integers(0, 2), "cohort": st.integers(0, 1), "organisation": st.integers(0, 1)})


def build(specs) -> tuple[dict, list[dict]]:
    """Write the history; returns what was made and the raw rows of every pair, for the recount."""
    made = {"course": [rf.course() for _ in range(3)], "organisation": [rf.organisation() for _ in range(2)]}
    made["cohort"] = [rf.cohort(made["course"][i]) for i in range(2)]
    people = [rf.person() for _ in range(7)]
    rows = []
    for spec in specs:
        enrolled = START + timedelta(days=spec["enrolled"])
        item = rf.enrolment(
            people[spec["person"]], made["course"][spec["course"]], enrolled,
            cohort_id=made["cohort"][spec["cohort"]].id if spec["cohort"] is not None else None,
            organisation_id=made["organisation"][spec["organisation"]].id if spec["organisation"] is not None else None,
            country=spec["country"], sector=spec["sector"])
        if spec["pre"] is not None:
            db.session.add(KnowledgeTestAttempt(enrolment_id=item.id, kind="pre", score=spec["pre"], correct=0,
                                                questions=1, submitted_at=rf.at(enrolled, 10)))
        if spec["post"] is not None:
            db.session.add(KnowledgeTestAttempt(enrolment_id=item.id, kind="post", score=spec["post"][0], correct=0,
                                                questions=1,
                                                submitted_at=rf.at(enrolled + timedelta(days=spec["post"][1]), 16)))
        if spec["pre"] is not None and spec["post"] is not None:
            rows.append({"user": item.user_id, "pre": spec["pre"], "post": spec["post"][0],
                         "day": enrolled + timedelta(days=spec["post"][1]), "country": item.country,
                         "sector": item.sector, "course": item.course_id, "cohort": item.cohort_id,
                         "organisation": item.organisation_id})
    db.session.commit()
    return made, rows


def recount(rows, period, dims, group):
    """The exact figures, the slow obvious way: per group, each person's own mean, then the mean over people."""
    def within(day):
        return (period[0] is None or day >= period[0]) and (period[1] is None or day <= period[1])

    chosen = [r for r in rows if within(r["day"]) and all(r[k] == v for k, v in dims.items())]
    groups: dict = {}
    for r in chosen:
        person = groups.setdefault(r[group] if group else None, {}).setdefault(r["user"], [])
        person.append((r["pre"], r["post"]))
    result = {}
    for key, people in groups.items():
        pre = sum(Fraction(sum(p for p, _ in pairs), len(pairs)) for pairs in people.values()) / len(people)
        post = sum(Fraction(sum(q for _, q in pairs), len(pairs)) for pairs in people.values()) / len(people)
        result[key] = (len(people), pre, post)
    return result


def rounded(value: Fraction) -> float:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def published_groups(rows, period, dims, group, people: int, threshold: int, name=lambda key: key) -> list[dict]:
    """What the report must publish by ``group``, from the recount: each group's people protected as
    the one-way suppression does, and its means only when shown (never of fewer than the threshold).
    ``name``: how a group's key reads in the report (a course's id as its slug)."""
    exact = recount(rows, period, dims, group)
    keys = sorted(exact, key=lambda k: (k is not None, str(k) if k is not None else ""))
    cells, _whole = disclosure.protect_one_way([exact[k][0] for k in keys], people, threshold)
    expected = []
    for key, shown in zip(keys, cells, strict=True):
        n, pre, post = exact[key]
        visible = isinstance(shown, int)
        assert not visible or n >= threshold  # never a mean of fewer people than the threshold
        expected.append({group: name(key), "people": shown, "pre_mean": rounded(pre) if visible else None,
                         "post_mean": rounded(post) if visible else None,
                         "gain": rounded(post - pre) if visible else None})
    return expected


def resolve(made, dims):
    return {name: made[name][value].id if name in made else value for name, value in dims.items()}


@given(specs=histories, queries=st.lists(st.tuples(periods, filters, st.sampled_from((None, *gain.GROUPS))),
                                         min_size=1, max_size=4))
@PROPERTY
def test_the_exact_figures_equal_a_recount_from_the_raw_rows(app_context, specs, queries):
    rf.wipe()
    made, rows = build(specs)
    for period, dims, group in queries:
        service_dims = resolve(made, dims)
        report = ReportFilter(date_from=period[0], date_to=period[1], **service_dims)
        expected = recount(rows, period, service_dims, group)
        found = {row.key: (row.people, row.pre_mean, row.post_mean) for row in gain.gain_rows(report, group)
                 if row.people}
        assert found == expected, (period, dims, group)


@given(specs=histories, period=periods, dims=filters, threshold=st.sampled_from([2, 3, 5]))
@PROPERTY
def test_the_published_answer_is_the_recount_rounded_and_suppressed(app_context, specs, period, dims, threshold):
    rf.wipe()
    made, rows = build(specs)
    service_dims = resolve(made, dims)
    report = ReportFilter(date_from=period[0], date_to=period[1], **service_dims)
    answer = gain.learning_gain(report, threshold, groups=("country", "sector", "cohort"))
    total = recount(rows, period, service_dims, None).get(None, (0, None, None))
    people = total[0]
    if people >= threshold:
        assert (answer["people"], answer["pre_mean"], answer["post_mean"], answer["gain"]) == (
            people, rounded(total[1]), rounded(total[2]), rounded(total[2] - total[1]))
    else:
        assert answer["people"] == (f"<{threshold}" if people else 0)
        assert answer["pre_mean"] is answer["post_mean"] is answer["gain"] is None
    for group in ("country", "sector", "cohort"):
        assert answer[f"by_{group}"] == published_groups(rows, period, service_dims, group, people, threshold), group
