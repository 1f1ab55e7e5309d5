"""Property-based: the summary always equals a brute-force recount, and the past never moves.

Random histories of enrolments, completions and certificates are written
through the ORM (so the rollup is maintained incrementally, as in production);
every filter combination the API accepts, aligned to the cells or not, must
give exactly what counting sets of people in Python gives.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from learning.extensions import db
from learning.reporting import queries, rollup, services
from learning.reporting import (
    queries as queries_module,  # a test's own argument is named ``queries``
)
from learning.reporting.models import ReportCell, ReportFact
from learning.reporting.queries import ReportFilter
from learning.reporting.rebuild import rebuild
from tests import factories_reporting as rf

COUNTRIES = ["CO", "KE", "FR", None]
SECTORS = ["law_enforcement", "health", "education", None]
START = date(2023, 11, 1)
DAYS = 500  # Nov 2023 .. Mar 2025: crosses two year and many month boundaries

settings.register_profile("reporting", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PROPERTY = settings.get_profile("reporting")

enrolment_specs = st.lists(
    st.fixed_dictionaries({
        "person": st.integers(0, 5),
        "course": st.integers(0, 2),
        "cohort": st.sampled_from([None, 0, 1]),
        "organisation": st.sampled_from([None, 0, 1]),
        "country": st.sampled_from(COUNTRIES),
        "sector": st.sampled_from(SECTORS),
        "enrolled": st.integers(0, DAYS),
        "completed_after": st.one_of(st.none(), st.integers(0, 120)),
        "certificate_after": st.one_of(st.none(), st.integers(0, 3)),
    }),
    min_size=0, max_size=14,
)

periods = st.one_of(
    st.just((None, None)),
    st.sampled_from([(date(2024, 1, 1), date(2024, 12, 31)), (date(2023, 1, 1), date(2023, 12, 31)),
                     (date(2024, 2, 1), date(2024, 2, 29)), (date(2025, 3, 1), date(2025, 3, 31))]),
    st.tuples(st.integers(0, DAYS), st.integers(0, 200)).map(
        lambda t: (START + timedelta(days=t[0]), START + timedelta(days=t[0] + t[1]))),
    st.tuples(st.none(), st.integers(0, DAYS).map(lambda d: START + timedelta(days=d))),
)

dimension_filters = st.fixed_dictionaries({}, optional={
    "country": st.sampled_from(["CO", "KE", "FR"]),
    "sector": st.sampled_from(["law_enforcement", "health", "education"]),
    "course": st.integers(0, 2),
    "cohort": st.integers(0, 1),
    "organisation": st.integers(0, 1),
})


@pytest.fixture(autouse=True, params=["per-person", "set-based"])
def refresh_path(request, monkeypatch):
    """Every property holds on both ways of refreshing the rollup: per person in Python (a learner's
    own changes) and set-based in SQL (a roster import or a cohort's close)."""
    if request.param == "set-based":
        monkeypatch.setattr(rollup, "SET_BASED_FROM", 1)
    return request.param


groupings = st.one_of(
    st.just(()),
    st.tuples(st.sampled_from(queries.GROUPS)),
    st.tuples(st.sampled_from(list(rollup.DIMENSIONS)), st.sampled_from(queries.GROUPS)).filter(
        lambda pair: pair[0] != pair[1]),
)


def build(specs) -> dict:
    """Write the random history; returns the objects tests refer to by index."""
    courses = [rf.course() for _ in range(3)]
    orgs = [rf.organisation() for _ in range(2)]
    cohorts = [rf.cohort(courses[i]) for i in range(2)]
    people = [rf.person() for _ in range(6)]
    for spec in specs:
        enrolled = START + timedelta(days=spec["enrolled"])
        completed = enrolled + timedelta(days=spec["completed_after"]) if spec["completed_after"] is not None else None
        certified = (completed + timedelta(days=spec["certificate_after"])
                     if completed and spec["certificate_after"] is not None else None)
        rf.enrolment(people[spec["person"]], courses[spec["course"]], enrolled, completed, certified,
                     cohort_id=cohorts[spec["cohort"]].id if spec["cohort"] is not None else None,
                     country=spec["country"], sector=spec["sector"],
                     organisation_id=orgs[spec["organisation"]].id if spec["organisation"] is not None else None)
    db.session.commit()
    return {"courses": courses, "orgs": orgs, "cohorts": cohorts, "people": people}


def resolve(made: dict, dims: dict) -> tuple[dict, dict]:
    """(filter for the service, filter for the recount) from indexes into what was made."""
    service, brute = {}, {}
    for name, value in dims.items():
        if name == "course":
            service[name], brute[name] = made["courses"][value].id, made["courses"][value].slug
        elif name == "cohort":
            service[name] = brute[name] = made["cohorts"][value].id
        elif name == "organisation":
            service[name] = brute[name] = made["orgs"][value].id
        else:
            service[name] = brute[name] = value
    return service, brute


def summary_of(period, service_dims) -> dict:
    return rf.comparable(services.summary(ReportFilter(date_from=period[0], date_to=period[1], **service_dims)))


@given(specs=enrolment_specs, queries=st.lists(st.tuples(periods, dimension_filters), min_size=1, max_size=4))
@PROPERTY
def test_summary_always_equals_a_brute_force_recount(app_context, specs, queries):
    rf.wipe()
    made = build(specs)
    rows = rf.snapshot()
    for period, dims in queries:
        service_dims, brute_dims = resolve(made, dims)
        expected = rf.recount(rows, period[0], period[1], **brute_dims)
        assert summary_of(period, service_dims) == expected, (period, dims)


unaligned_periods = st.tuples(st.integers(0, DAYS), st.integers(0, 400)).map(
    lambda t: (START + timedelta(days=t[0]), START + timedelta(days=t[0] + t[1])))


@given(specs=enrolment_specs, queries=st.lists(st.tuples(unaligned_periods, dimension_filters), min_size=1,
                                               max_size=4))
@PROPERTY
def test_unaligned_periods_equal_a_recount_whichever_index_the_facts_are_read_through(
        app_context, monkeypatch, specs, queries):
    """A period that is not a whole year or month is counted from the facts, its people selected either
    by named kinds (PostgreSQL: the covering ``(kind, day)`` index) or as "not certified" (a filter's own
    index): with any filters, both give what counting the raw rows in Python gives."""
    rf.wipe()
    made = build(specs)
    rows = rf.snapshot()
    for period, dims in queries:
        service_dims, brute_dims = resolve(made, dims)
        expected = rf.recount(rows, period[0], period[1], **brute_dims)
        for indexed in ((), queries_module.INDEXED_FILTERS, tuple(rollup.DIMENSIONS)):
            monkeypatch.setattr(queries_module, "INDEXED_FILTERS", indexed)
            assert summary_of(period, service_dims) == expected, (period, dims, indexed)


@given(specs=enrolment_specs, queries_=st.lists(st.tuples(periods, dimension_filters, groupings), min_size=1,
                                                max_size=4))
@PROPERTY
def test_every_grouping_reads_the_same_from_cells_as_from_facts(app_context, specs, queries_):
    """Whichever cells the rollup keeps, a report they answer equals counting the facts directly."""
    rf.wipe()
    made = build(specs)
    for period, dims, group in queries_:
        service_dims, _ = resolve(made, dims)
        report = ReportFilter(date_from=period[0], date_to=period[1], **service_dims)
        planned = [(row.key, row.reached, row.trained, row.certified) for row in queries.counts(report, group)]
        direct = [(row.key, row.reached, row.trained, row.certified)
                  for row in queries._pivot(queries._from_facts(report, group))]
        assert planned == direct, (period, dims, group)


@given(specs=enrolment_specs, changes=st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["move", "erase"])),
                                               min_size=1, max_size=6))
@PROPERTY
def test_profile_changes_and_erasures_never_change_past_figures(app_context, specs, changes):
    rf.wipe()
    made = build(specs)
    new_org = rf.organisation("Moved to", "KE")
    past = [(None, None), (date(2024, 1, 1), date(2024, 12, 31)), (date(2024, 3, 1), date(2024, 9, 15))]
    before = [summary_of(period, {}) for period in past] + [summary_of((None, None), {"country": "CO"})]
    for index, change in changes:
        user = made["people"][index]
        if change == "move":
            user.country, user.sector, user.organisation_id = "KE", "health", new_org.id
        else:
            rf.erase(user)
    db.session.commit()
    after = [summary_of(period, {}) for period in past] + [summary_of((None, None), {"country": "CO"})]
    assert after == before


@given(specs=enrolment_specs, edits=st.lists(st.tuples(st.integers(0, 13), st.integers(-40, 40)), max_size=4))
@PROPERTY
def test_incremental_rollup_equals_a_full_rebuild(app_context, specs, edits):
    """Whatever the order of changes (including moving dates and deleting), the cells are what a rebuild makes."""
    from learning.certificates.models import Certificate
    from learning.enrolment.models import Enrolment

    rf.wipe()
    build(specs)
    enrolments = db.session.scalars(select(Enrolment).order_by(Enrolment.id)).all()
    for index, shift in edits:
        if index < len(enrolments):
            item = enrolments[index]
            if shift % 5 == 0:
                db.session.execute(Certificate.__table__.delete().where(Certificate.enrolment_id == item.id))
                db.session.delete(item)
                enrolments[index] = None
                enrolments = [e for e in enrolments if e is not None]
            else:
                item.enrolled_at = item.enrolled_at + timedelta(days=shift)
    db.session.commit()

    def state():
        cells = {
            (c.kind, c.dims, c.period, c.country, c.sector, c.course_id, c.cohort_id, c.organisation_id): c.n
            for c in db.session.scalars(select(ReportCell)) if c.n}
        facts = sorted((f.user_id, f.kind, f.day, f.country, f.sector, f.course_id, f.cohort_id,
                        f.organisation_id, f.weight) for f in db.session.scalars(select(ReportFact)))
        return cells, facts

    incremental = state()
    db.session.commit()  # a rebuild empties the tables with TRUNCATE: no open transaction may hold them
    with db.engine.begin() as connection:
        rebuild(connection)
    assert state() == incremental
