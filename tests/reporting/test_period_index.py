"""The period index (``learning/reporting/period_index/``): any period, exact, from memory.

Every answer is compared with a recount of the raw enrolments and certificates and with the facts path
(``queries._from_facts``); changes made between queries (through this session or another connection,
committed before or after the index synchronised, and rebuilds in place or aside) are in the next
answer; two instances of the index agree. PostgreSQL only: on SQLite the facts path stays.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from learning.certificates.models import Certificate
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.reporting import period_index, queries, rollup, services
from learning.reporting.queries import ReportFilter
from tests import factories_reporting as rf

START = date(2022, 11, 20)
DAYS = 800
COUNTRIES = ["CO", "KE", "FR", None]
SECTORS = ["law_enforcement", "health", "education", None]
GROUPINGS = [(), ("country",), ("sector",), ("course",), ("cohort",), ("organisation",), ("year",), ("month",),
             ("country", "sector"), ("country", "course"), ("sector", "course"), ("course", "month"),
             ("cohort", "month"), ("organisation", "year"), ("country", "year"), ("sector", "month")]


@pytest.fixture
def postgresql(app_context):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the period index is PostgreSQL's (SQLite keeps the facts path)")
    from flask import current_app

    index = current_app.extensions["period_index"]
    index.reset()
    assert not index.background  # tests build it in the request (tests/conftest.py)
    return index


def history(seed: int, people: int = 14, enrolments: int = 60) -> dict:
    rng = random.Random(seed)
    courses = [rf.course() for _ in range(3)]
    orgs = [rf.organisation() for _ in range(2)]
    cohorts = [rf.cohort(courses[i]) for i in range(2)]
    persons = [rf.person() for _ in range(people)]
    made = []
    for _ in range(enrolments):
        enrolled = START + timedelta(days=rng.randrange(DAYS))
        completed = enrolled + timedelta(days=rng.randrange(200)) if rng.random() < 0.6 else None
        certified = completed + timedelta(days=rng.randrange(3)) if completed and rng.random() < 0.7 else None
        cohort = rng.choice([None, *cohorts])
        made.append(rf.enrolment(rng.choice(persons), rng.choice(courses), enrolled, completed, certified,
                                 cohort_id=cohort.id if cohort else None, country=rng.choice(COUNTRIES),
                                 sector=rng.choice(SECTORS),
                                 organisation_id=rng.choice([None, orgs[0].id, orgs[1].id])))
    db.session.commit()
    return {"courses": courses, "orgs": orgs, "cohorts": cohorts, "people": persons, "enrolments": made}


def unaligned(rng: random.Random) -> tuple[date, date]:
    first = START + timedelta(days=rng.randrange(-30, DAYS))
    return first, first + timedelta(days=rng.randrange(0, 500))


def filters(rng: random.Random, made: dict) -> tuple[dict, dict]:
    """(the service's filter, the recount's) of a random combination of dimensions."""
    service, brute = {}, {}
    for name in rng.sample(["country", "sector", "course", "cohort", "organisation"], rng.randrange(0, 4)):
        if name == "country":
            service[name] = brute[name] = rng.choice(["CO", "KE", "FR"])
        elif name == "sector":
            service[name] = brute[name] = rng.choice(["law_enforcement", "health", "education"])
        elif name == "course":
            course = rng.choice(made["courses"])
            service[name], brute[name] = course.id, course.slug
        elif name == "cohort":
            service[name] = brute[name] = rng.choice(made["cohorts"]).id
        else:
            service[name] = brute[name] = rng.choice(made["orgs"]).id
    return service, brute


def from_facts(report, group):
    return [(row.key, row.reached, row.trained, row.certified)
            for row in queries._pivot(queries._from_facts(report, group))]


def from_index(index, report, group):
    rows = index.answer(report, group)
    assert rows is not None, "the index did not answer"
    return [(row.key, row.reached, row.trained, row.certified) for row in rows]


def check(index, rng: random.Random, made: dict, queries_: int = 12) -> None:
    """Random unaligned periods and filters: every grouping equals the facts path, the summary a recount."""
    rows = rf.snapshot()
    for _ in range(queries_):
        period = unaligned(rng)
        service, brute = filters(rng, made)
        report = ReportFilter(date_from=period[0], date_to=period[1], **service)
        for group in GROUPINGS:
            assert from_index(index, report, group) == from_facts(report, group), (period, service, group)
        expected = rf.recount(rows, period[0], period[1], **brute)
        assert rf.comparable(services.summary(report)) == expected, (period, service)


@pytest.mark.parametrize("refresh", ["per-person", "set-based"])
def test_any_period_and_filters_equal_a_recount_and_the_facts(postgresql, monkeypatch, refresh):
    if refresh == "set-based":
        monkeypatch.setattr(rollup, "SET_BASED_FROM", 1)
    made = history(seed=7)
    rng = random.Random(11)
    check(postgresql, rng, made, queries_=25)
    # Open-ended periods, and periods beyond the facts, too.
    for report in (ReportFilter(date_from=None, date_to=START + timedelta(days=100)),
                   ReportFilter(date_from=START + timedelta(days=300), date_to=None),
                   ReportFilter(date_from=date(2010, 3, 3), date_to=date(2011, 1, 1)),
                   ReportFilter(date_from=date(2010, 3, 3), date_to=date(2031, 1, 1), country="KE")):
        for group in GROUPINGS:
            assert from_index(postgresql, report, group) == from_facts(report, group), (report, group)


def test_the_summary_is_answered_by_the_index(postgresql, monkeypatch):
    history(seed=3)
    calls = []
    real = period_index.query.answer  # the module the process's index answers through
    monkeypatch.setattr(period_index.query, "answer", lambda *a: calls.append(a) or real(*a))
    services.summary(ReportFilter(date_from=date(2023, 3, 15), date_to=date(2024, 9, 20)))
    assert len(calls) == 5  # total, country, sector, course, year: none from the facts


def test_changes_between_queries_are_in_the_next_answer(postgresql):
    made = history(seed=5)
    rng = random.Random(5)
    check(postgresql, rng, made, queries_=3)
    built = postgresql.state
    people, enrolments = made["people"], made["enrolments"]
    # Enrolments, completions, certificates, withdrawals, moves between days and dimensions.
    newcomer = rf.person(country="KE", sector="health")
    rf.enrolment(newcomer, made["courses"][0], START + timedelta(days=400), START + timedelta(days=420),
                 START + timedelta(days=421))
    db.session.commit()
    check(postgresql, rng, made, queries_=3)
    open_ones = [e for e in enrolments if e.completed_at is None]
    open_ones[0].completed_at = rf.at(START + timedelta(days=700))
    enrolments[1].enrolled_at = rf.at(START + timedelta(days=3))
    enrolments[2].country = "FR"
    db.session.commit()
    check(postgresql, rng, made, queries_=3)
    done = [e for e in enrolments if e.completed_at is not None and e.id not in
            {c for (c,) in db.session.execute(text("SELECT enrolment_id FROM certificates"))}]
    rf.certificate(done[0], (done[0].completed_at + timedelta(days=1)).date())
    db.session.execute(delete(Certificate).where(Certificate.id == db.session.scalar(
        text("SELECT min(id) FROM certificates"))))
    db.session.execute(delete(Certificate).where(Certificate.enrolment_id == enrolments[4].id))
    db.session.delete(enrolments[4])  # a withdrawal that removes the enrolment
    db.session.commit()
    check(postgresql, rng, made, queries_=3)
    # Erasure of a person: whatever it does to their rows, the index follows.
    rf.erase(people[0])
    db.session.execute(delete(Certificate).where(Certificate.user_id == people[1].id))
    for item in db.session.query(Enrolment).filter_by(user_id=people[1].id):
        db.session.delete(item)
    db.session.commit()
    check(postgresql, rng, made, queries_=3)
    assert postgresql.state is built  # all of it applied from the change log, no reload


def test_a_change_by_another_connection_committed_after_the_sync_is_seen_next_time(postgresql):
    made = history(seed=9)
    report = ReportFilter(date_from=START + timedelta(days=1), date_to=START + timedelta(days=DAYS - 3))
    before = from_index(postgresql, report, ("country",))
    other = Session(bind=db.engine)
    try:
        person = other.get(type(made["people"][0]), made["people"][0].id)
        other.add(Enrolment(user_id=person.id, course_id=made["courses"][1].id, status="withdrawn",
                            enrolled_at=rf.at(START + timedelta(days=10)), country="ZA", sector="health",
                            language="en"))
        other.flush()
        rollup.refresh_people(other, [person.id])  # its facts and its change row, not committed yet
        assert from_index(postgresql, report, ("country",)) == before  # synchronised while in flight
        other.commit()
    finally:
        other.close()
    after = from_index(postgresql, report, ("country",))
    assert after == from_facts(report, ("country",)) and after != before
    assert ("ZA",) in [key for key, *_ in after]


def test_two_instances_agree(postgresql, app):
    made = history(seed=13)
    second = period_index.PeriodIndex(app, background=False)
    rng = random.Random(13)
    for round_ in range(3):
        for _ in range(4):
            period = unaligned(rng)
            service, _brute = filters(rng, made)
            report = ReportFilter(date_from=period[0], date_to=period[1], **service)
            for group in GROUPINGS[:8]:
                assert from_index(postgresql, report, group) == from_index(second, report, group)
        rf.enrolment(made["people"][round_], made["courses"][round_], START + timedelta(days=50 * round_),
                     START + timedelta(days=50 * round_ + 7))
        db.session.commit()


def test_rebuilds_in_place_and_aside_are_followed(postgresql):
    from learning.reporting.rebuild import rebuild, rebuild_aside

    made = history(seed=17)
    rng = random.Random(17)
    check(postgresql, rng, made, queries_=2)
    first = postgresql.state
    db.session.commit()  # the rebuild locks the tables: no transaction of ours may hold them
    with db.engine.begin() as connection:
        rebuild(connection)
    check(postgresql, rng, made, queries_=2)
    assert postgresql.state is not first  # a new generation of the facts: reloaded
    second = postgresql.state
    db.session.commit()
    rebuild_aside(db.engine, workers=1)
    rf.enrolment(made["people"][2], made["courses"][2], START + timedelta(days=33))
    db.session.commit()
    check(postgresql, rng, made, queries_=2)
    assert postgresql.state is not second


def test_pruning_the_log_makes_an_older_index_reload(postgresql):
    made = history(seed=19)
    report = ReportFilter(date_from=START + timedelta(days=5), date_to=START + timedelta(days=600))
    from_index(postgresql, report, ())
    stale = postgresql.state
    rf.enrolment(made["people"][3], made["courses"][0], START + timedelta(days=44))
    db.session.commit()
    assert db.session.scalar(text("SELECT count(*) FROM report_changes")) > 0
    assert period_index.prune_changes(db.session(), hours=0) > 0
    db.session.commit()
    assert db.session.scalar(text("SELECT count(*) FROM report_changes")) == 0
    assert from_index(postgresql, report, ("course",)) == from_facts(report, ("course",))
    assert postgresql.state is not stale  # its snapshot was older than the pruned log: reloaded


def test_uncommitted_facts_of_this_transaction_are_counted_from_the_facts(postgresql):
    made = history(seed=23)
    report = ReportFilter(date_from=START + timedelta(days=5), date_to=START + timedelta(days=600))
    assert list(queries.counts(report, ("country",)))  # built
    rf.enrolment(made["people"][0], made["courses"][0], START + timedelta(days=40))
    rollup.refresh_people(db.session(), [made["people"][0].id])
    inside = [(r.key, r.reached, r.trained, r.certified) for r in queries.counts(report, ("country",))]
    assert inside == from_facts(report, ("country",))
    db.session.rollback()


def test_the_refresh_writes_its_change_rows_in_its_own_statements(postgresql):
    """No round trip of its own: the change rows come with the facts (one statement per refresh on the
    per-person path, the note statement on the set-based path)."""
    made = history(seed=29, enrolments=10)
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    from sqlalchemy import event

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        rf.enrolment(made["people"][0], made["courses"][0], START + timedelta(days=40))
        db.session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert not [s for s in statements if s.lstrip().upper().startswith("INSERT INTO REPORT_CHANGES")]
    assert any("INSERT INTO report_changes" in s for s in statements)
    assert db.session.scalar(text("SELECT count(*) FROM report_changes WHERE user_id = :u"),
                             {"u": made["people"][0].id}) >= 1


def test_certificates_far_outside_the_days_known_at_the_build_are_counted(postgresql):
    """The certificates' daily sums grow to hold a day years before or after the ones they were built
    with (a back-dated import, a clock far ahead): every grouping still equals the facts."""
    made = history(seed=9)
    rng = random.Random(9)
    check(postgresql, rng, made, queries_=2)
    built = postgresql.state
    early, late = rf.person(country="KE", sector="health"), rf.person(country="CO")
    rf.enrolment(early, made["courses"][1], date(2012, 2, 1), date(2012, 3, 1), date(2012, 3, 2))
    rf.enrolment(late, made["courses"][2], date(2031, 5, 1), date(2031, 6, 1), date(2031, 6, 3))
    db.session.commit()
    for report in (ReportFilter(date_from=date(2012, 1, 15), date_to=date(2031, 12, 1)),
                   ReportFilter(date_from=date(2012, 3, 2), date_to=date(2012, 3, 2)),
                   ReportFilter(date_from=date(2031, 6, 2), date_to=date(2032, 1, 1)),
                   ReportFilter(date_from=None, date_to=date(2023, 2, 3))):
        for group in GROUPINGS:
            assert from_index(postgresql, report, group) == from_facts(report, group), (report, group)
    assert postgresql.state is built
    assert built.cert_origin <= period_index._day(date(2012, 3, 2))


def test_an_erasure_replaces_the_persons_change_rows_and_an_index_behind_them_still_follows(postgresql, app):
    """Erasure reaches the change log (``learning/reporting/erasure.py``): the rows giving the times of
    the person's learning go, replaced by one row of the erasure's own transaction, so that an index
    which had not read them yet still reloads the person's facts (no full reload, no missed change)."""
    from learning.accounts.privacy import erase_user

    made = history(seed=31)
    person, other = made["people"][0], made["people"][1]
    report = ReportFilter(date_from=START + timedelta(days=2), date_to=START + timedelta(days=DAYS - 5))
    behind = period_index.PeriodIndex(app, background=False)
    assert from_index(behind, report, ("country",)) == from_facts(report, ("country",))
    built = behind.state
    # Changes of both people that ``behind`` has not read, over two transactions.
    first, second = rf.course(), rf.course()
    rf.enrolment(person, first, START + timedelta(days=61), START + timedelta(days=62), country="ZA",
                 sector="health")
    rf.enrolment(other, first, START + timedelta(days=63), country="GH")
    db.session.commit()
    rf.enrolment(person, second, START + timedelta(days=64), country="ZA")
    db.session.commit()
    rows = "SELECT xid::text, at FROM report_changes WHERE user_id = :u ORDER BY id"
    assert len(db.session.execute(text(rows), {"u": person.id}).all()) >= 2
    others_before = db.session.execute(text(rows), {"u": other.id}).all()
    erasure_started = db.session.scalar(text("SELECT clock_timestamp()"))
    db.session.commit()

    assert erase_user(person.id) is True

    [(xid, at)] = db.session.execute(text(rows), {"u": person.id}).all()
    assert at >= erasure_started  # the erasure's time, not their learning's
    assert db.session.execute(text(rows), {"u": other.id}).all() == others_before  # no one else's rows
    db.session.commit()
    for group in GROUPINGS:
        assert from_index(behind, report, group) == from_facts(report, group), group
    assert behind.state is built  # followed from the log, no reload
    assert ("ZA",) in [key for key, *_ in from_index(behind, report, ("country",))]
    # Erasing again changes nothing; a person without change rows gets none.
    assert erase_user(person.id) is False
    assert db.session.execute(text("SELECT xid::text FROM report_changes WHERE user_id = :u"),
                              {"u": person.id}).scalars().all() == [xid]
    db.session.execute(text("DELETE FROM report_changes WHERE user_id = :u"), {"u": other.id})
    db.session.commit()
    assert erase_user(other.id) is True
    assert db.session.scalar(text("SELECT count(*) FROM report_changes WHERE user_id = :u"), {"u": other.id}) == 0


def test_groupings_with_the_time_first_and_repeated_queries_give_the_facts(postgresql):
    """A time grouping placed before a dimension, a filter that is also grouped, a pair grouped, and the
    same query twice all give the facts path's rows (the first facts' keys put back in the grouping's
    order, nothing of one answer left to change the next)."""
    history(seed=5)
    country = COUNTRIES[1]
    for report in (ReportFilter(date_from=START + timedelta(days=40), date_to=START + timedelta(days=DAYS - 35)),
                   ReportFilter(date_from=START + timedelta(days=17), date_to=START + timedelta(days=DAYS - 3),
                                country=country)):
        for group in (("year", "country"), ("month", "sector"), ("country",), ("year",), ("country", "sector")):
            first = from_index(postgresql, report, group)
            assert first == from_facts(report, group), (report, group)
            assert from_index(postgresql, report, group) == first, (report, group)


def test_long_periods_across_the_coarse_blocks_equal_a_recount_before_and_after_changes(postgresql):
    """Ten years of facts; periods of several years whose ends fall inside quarters, halves, 2-, 4- and
    8-year blocks (the index's blocks before it counted first facts): every grouping equals the facts path and the summary a recount of the raw rows. Then
    changes land inside coarse blocks after the build (a completion, an enrolment moved from one 4-year
    block to another, a country changed, a person's only enrolment of a block withdrawn) and are in the
    next answers, from the change log, without a reload."""
    from learning.reporting.period_index.common import PEOPLE
    from learning.reporting.period_index.firsts import FIRSTS_FAMILIES

    rng = random.Random(41)
    courses = [rf.course() for _ in range(3)]
    persons = [rf.person() for _ in range(16)]
    made = []
    first_day = date(2015, 2, 10)
    for _ in range(90):
        enrolled = first_day + timedelta(days=rng.randrange(3900))
        completed = enrolled + timedelta(days=rng.randrange(400)) if rng.random() < 0.6 else None
        certified = completed + timedelta(days=rng.randrange(3)) if completed and rng.random() < 0.7 else None
        made.append(rf.enrolment(rng.choice(persons), rng.choice(courses), enrolled, completed, certified,
                                 country=rng.choice(COUNTRIES), sector=rng.choice(SECTORS)))
    db.session.commit()
    periods = [(date(2017, 3, 15), date(2024, 9, 20)), (date(2015, 12, 31), date(2025, 1, 1)),
               (date(2018, 1, 1), date(2025, 12, 31)), (date(2016, 4, 2), date(2022, 6, 29)),
               (date(2019, 7, 1), date(2023, 12, 31)), (date(2020, 2, 29), date(2021, 1, 1))]
    periods += [(start, start + timedelta(days=rng.randrange(700, 3600)))
                for start in (first_day + timedelta(days=rng.randrange(900)) for _ in range(4))]
    dimensions = [{}, {"country": "KE"}, {"sector": "health"}, {"country": "CO", "sector": "education"}]

    def check_long() -> None:
        rows = rf.snapshot()
        for first, last in periods:
            for dims in dimensions:
                report = ReportFilter(date_from=first, date_to=last, **dims)
                for group in GROUPINGS:
                    assert from_index(postgresql, report, group) == from_facts(report, group), (first, last, dims, group)
                assert rf.comparable(services.summary(report)) == rf.recount(rows, first, last, **dims), (first, last, dims)
            course = rng.choice(courses)
            report = ReportFilter(date_from=first, date_to=last, course=course.id)
            assert rf.comparable(services.summary(report)) == rf.recount(rows, first, last, course=course.slug)

    check_long()
    built = postgresql.state
    # The people of the total and of country, sector and course (each, in pairs, all three) by their first facts.
    assert set(built.firsts.tables) == {(family, kind) for family in FIRSTS_FAMILIES for kind in PEOPLE}
    open_one = next(e for e in made if e.completed_at is None and e.enrolled_at.date() < date(2019, 6, 1))
    open_one.completed_at = rf.at(date(2019, 8, 17))  # inside 2018-2021, 2019's second half and third quarter
    moved = next(e for e in made if date(2018, 1, 1) <= e.enrolled_at.date() < date(2022, 1, 1))
    moved.enrolled_at = rf.at(date(2023, 5, 5))  # from the 2018-2021 block into 2022-2025
    made[5].country = "FR"
    db.session.commit()
    check_long()
    # A person whose only enrolment in 2022-2023 is withdrawn must leave that block's counts.
    alone = rf.person(country="KE", sector="health")
    only = rf.enrolment(alone, courses[0], date(2022, 10, 3), date(2023, 2, 1))
    rf.enrolment(alone, courses[1], date(2016, 6, 6))
    db.session.commit()
    check_long()
    db.session.delete(only)
    db.session.commit()
    check_long()
    # Certificates in a whole month of the periods (the pairs' monthly sums, helper period10m), and one far
    # beyond the months known at the build (the monthly arrays grow: the earlier months must stay put).
    certified = rf.person(country="KE", sector="health")
    rf.enrolment(certified, courses[0], date(2020, 4, 2), date(2020, 5, 9), date(2020, 5, 10))
    rf.enrolment(certified, courses[1], date(2040, 1, 2), date(2040, 1, 9), date(2040, 1, 10))
    db.session.commit()
    check_long()
    assert postgresql.state is built  # every change applied from the log, no reload


def test_distinct_people_by_group_equal_a_recount_of_the_rows():
    """``_distinct_by_group`` (a sort of packed (group, user) pairs, or a lexsort when the group ids do
    not fit in 31 bits) against a set per group counted in Python from the same rows."""
    import numpy as np

    from learning.reporting.period_index.query import _distinct_by_group

    rng = np.random.default_rng(16)
    for organisations, cohorts in ((7, 5), (70_000, 70_000)):  # the second: 4.9e9 group ids, the lexsort
        n = 5_000
        part = {"user": rng.integers(1, 300, n).astype(np.int32),
                "organisation": rng.integers(0, organisations, n).astype(np.int32),
                "cohort": rng.integers(0, cohorts, n).astype(np.int32)}
        part["organisation"][:3] = organisations - 1
        part["cohort"][:3] = cohorts - 1
        for names in ([], ["organisation"], ["organisation", "cohort"]):
            expected: dict[tuple, set] = {}
            for row in range(n):
                key = tuple(int(part[name][row]) for name in names)
                expected.setdefault(key, set()).add(int(part["user"][row]))
            assert _distinct_by_group(part, names) == {key: len(users) for key, users in expected.items()}
    assert _distinct_by_group({"user": np.array([], np.int32), "organisation": np.array([], np.int32)},
                              ["organisation"]) == {}


def _synthetic_columns(rng, people: int, facts: int, first_user: int = 1_000) -> dict:
    """Columns as the build's COPY gives them (user ids, not the index's numbers), over two years."""
    import numpy as np

    from learning.reporting.period_index.common import DAY_BITS, _day

    users = rng.choice(np.arange(first_user, first_user + 7 * people, 7), facts).astype(np.int32)
    kinds = rng.integers(0, 3, facts)
    days = _day(date(2022, 1, 1)) + rng.integers(0, 730, facts)
    return {"user": users, "kd": ((kinds << DAY_BITS) + days).astype(np.int32),
            "country": rng.integers(0, 3, facts).astype(np.int32), "sector": rng.integers(0, 2, facts).astype(np.int32),
            "course": rng.integers(1, 5, facts).astype(np.int32), "cohort": rng.integers(1, 4, facts).astype(np.int32),
            "organisation": rng.integers(1, 6, facts).astype(np.int32),
            "weight": np.ones(facts, np.int32)}


def _facts_by_user_id(state) -> dict:
    """Every person's live facts in ``state`` (the base's and the overlay's) by user id (the index's numbers
    mapped back): {user id: sorted rows}, people with none left out."""
    numbering = state.numbering
    numbers = dict(zip(numbering.ids.tolist(), numbering.numbers.tolist(), strict=True)) | numbering.later
    found = {user_id: sorted(state._current_rows(number)) for user_id, number in numbers.items()}
    return {user_id: rows for user_id, rows in found.items() if rows}

def test_people_are_numbered_by_country_and_sector_and_changes_keep_the_numbers_exact(monkeypatch):
    """The index numbers people itself (``state.Numbering``: a bijection from user ids, ordered by country,
    sector and organisation, so that each country's people are neighbours). After people are changed,
    added after the build (numbers past the end) and erased (no facts), and after a compaction, every
    person holds exactly the facts a fresh build from the same facts gives them, and the
    answers are the same."""
    import numpy as np

    from learning.reporting.period_index import state as state_module
    from learning.reporting.period_index.common import DAY_BITS, KINDS
    from learning.reporting.period_index.query import _masked, answer

    rng = np.random.default_rng(3)
    columns = _synthetic_columns(rng, people=400, facts=3_000)
    countries, sectors = ["CO", "FR", "KE"], ["health", "justice"]
    built = state_module.State(("10:10:", 1, 0), {k: v.copy() for k, v in columns.items()}, countries, sectors)
    numbering = built.numbering
    assert sorted(numbering.numbers.tolist()) == list(range(len(numbering.ids)))  # a bijection onto 0..n-1
    assert numbering.ids.tolist() == sorted(set(columns["user"].tolist()))
    # People of a country are neighbours: the country (of the fact that chose the order) never goes back.
    ids, first = np.unique(columns["user"], return_index=True)
    by_number = np.empty(len(ids), np.int64)
    by_number[numbering.local_of(ids)] = columns["country"][first]
    assert (np.diff(by_number) >= 0).all()

    # Changes: the facts of every person, as rows of the sync query, replaced in the index and in the columns.
    facts: dict[int, list] = {}
    for row in range(len(columns["user"])):
        kd = int(columns["kd"][row])
        facts.setdefault(int(columns["user"][row]), []).append(
            [int(columns["user"][row]), KINDS[kd >> DAY_BITS], kd & ((1 << DAY_BITS) - 1),
             countries[columns["country"][row]], sectors[columns["sector"][row]],
             *(int(columns[name][row]) for name in ("course", "cohort", "organisation", "weight"))])
    known = sorted(facts)
    changed, erased = known[:25], known[25:40]
    for user_id in changed:  # moved to another day, country and course
        facts[user_id] = [[user_id, kind, day + 40, "KE" if country != "KE" else "CO", sector, course % 4 + 1, *rest]
                          for _, kind, day, country, sector, course, *rest in facts[user_id]]
    for user_id in erased:
        facts[user_id] = []
    newcomers = [5, 99_999_999, 2_000_000_000]  # before, between and far past the ids known at the build
    for user_id in newcomers:
        facts[user_id] = [[user_id, kind, _day_of(2023, 6, 1 + n), "FR", "justice", 2, 1, 1, 1]
                          for n, kind in enumerate(KINDS)]
    for batch in (changed + newcomers[:1], erased, newcomers[1:]):
        built.apply(batch, [row for user_id in batch for row in facts[user_id]])
    assert [numbering.number(user_id) for user_id in newcomers] == list(range(len(ids), len(ids) + 3))
    assert numbering.number(newcomers[0]) == len(ids)  # asked again: the same number

    def fresh_state():
        rows = [row for user_rows in facts.values() for row in user_rows]
        return state_module.State(("10:10:", 1, 0), {
            "user": np.array([row[0] for row in rows], np.int32),
            "kd": np.array([(KINDS.index(row[1]) << DAY_BITS) + row[2] for row in rows], np.int32),
            "country": np.array([countries.index(row[3]) for row in rows], np.int32),
            "sector": np.array([sectors.index(row[4]) for row in rows], np.int32),
            **{name: np.array([row[5 + i] for row in rows], np.int32)
               for i, name in enumerate(("course", "cohort", "organisation", "weight"))}}, countries, sectors)

    expected = fresh_state()
    assert _facts_by_user_id(built) == _facts_by_user_id(expected)
    everyone = set(_facts_by_user_id(built))
    assert not everyone & set(erased) and set(newcomers) <= everyone

    def answers(state):
        found = []
        for first, last in ((date(2022, 3, 15), date(2023, 9, 20)), (date(2022, 1, 1), date(2024, 2, 9)),
                            (date(2023, 6, 2), date(2023, 6, 2))):
            for filters in ({}, {"country": "KE"}, {"sector": "justice"}, {"country": "FR", "sector": "justice"},
                            {"organisation": 3}):
                for group in GROUPINGS:
                    rows = answer(state, ReportFilter(date_from=first, date_to=last, **filters), group)
                    found.append([(row.key, row.reached, row.trained, row.certified) for row in rows])
        return found

    assert answers(built) == answers(expected)
    # Rows found through a dimension's row order (dead rows and the overlay included) are the slice's rows
    # meeting the filters, whichever condition is the most selective.
    assert built.dead_count and built.overlay
    for conditions in ({"country": 2}, {"sector": 1}, {"country": 1, "sector": 0}, {"country": 7}, {"sector": -1},
                       {"country": 0, "organisation": 3}):
        for kind in range(3):
            for first, last in ((_day_of(2022, 1, 1), _day_of(2023, 12, 31)), (_day_of(2023, 5, 9), _day_of(2023, 7, 1))):
                whole = _masked(built, built.rows(kind, first, last), conditions, kept=tuple(columns) + ("month",))
                ordered = _masked(built, built.rows(kind, first, last, conditions), conditions,
                                  kept=tuple(columns) + ("month",))
                assert sorted(zip(*(whole[name].tolist() for name in sorted(whole)), strict=True)) == sorted(
                    zip(*(ordered[name].tolist() for name in sorted(ordered)), strict=True)), (conditions, kind)
    # A compaction rebuilds the columns and first facts from the index's own numbers: the same facts again.
    monkeypatch.setattr(state_module, "COMPACT_FROM", 0)
    late = 7_000_000
    facts[late] = [[late, "reached", _day_of(2023, 2, 2), "CO", "health", 1, 1, 1, 1]]
    built.apply([late], facts[late])
    assert built.numbering is numbering and not built.overlay  # compacted, numbers kept
    assert numbering.number(late) == len(ids) + 3
    expected = fresh_state()
    assert _facts_by_user_id(built) == _facts_by_user_id(expected)
    assert answers(built) == answers(expected)


def _day_of(year: int, month: int, day: int) -> int:
    from learning.reporting.period_index.common import _day

    return _day(date(year, month, day))


@pytest.mark.parametrize("dense_up_to", [1 << 23, 0])  # the tables as they are here, and all of them sparse
def test_first_facts_count_the_people_of_any_period_as_sets_of_the_rows_do(monkeypatch, dense_up_to):
    """``firsts.FirstFacts`` (whole months from the tables, ragged days from the neighbours, the overlay
    apart): for random periods (within a month, across months and years, before and after the facts),
    every grouping of the total and of country, sector and course (each, in pairs, all three), with and
    without their filters, and by year or month, the people equal a set of user ids per group counted in
    Python from the same facts, before and after people are changed, erased and added (dead rows in the
    base, an overlay); with the tables dense (as a small index has them) and sparse (as the pairs' are at
    scale)."""
    import random as stdlib_random

    import numpy as np

    from learning.reporting.period_index import firsts
    from learning.reporting.period_index import state as state_module
    from learning.reporting.period_index.common import DAY_BITS, KINDS, _day
    from learning.reporting.period_index.query import answer

    monkeypatch.setattr(firsts, "DENSE_UP_TO", dense_up_to)
    rng = np.random.default_rng(21)
    columns = _synthetic_columns(rng, people=300, facts=4_000)
    countries, sectors = ["CO", "FR", "KE"], ["health", "justice"]
    state = state_module.State(("10:10:", 1, 0), {k: v.copy() for k, v in columns.items()}, countries, sectors)
    facts: dict[int, list] = {}
    for row in range(len(columns["user"])):
        kd = int(columns["kd"][row])
        facts.setdefault(int(columns["user"][row]), []).append(
            (KINDS[kd >> DAY_BITS], kd & ((1 << DAY_BITS) - 1), countries[columns["country"][row]],
             sectors[columns["sector"][row]], int(columns["course"][row])))

    def expected(first, last, filters, group):
        people: dict[tuple, list[set]] = {}
        for user_id, rows in facts.items():
            for kind, day, country, sector, course in rows:
                moment = date(1970, 1, 1) + timedelta(days=day)
                values = {"country": country, "sector": sector, "course": course, "year": moment.year,
                          "month": moment.year * 100 + moment.month}
                if kind == "certified" or not _day(first) <= day <= _day(last):
                    continue
                if any(values[name] != value for name, value in filters.items()):
                    continue
                key = tuple(values[name] for name in group)
                people.setdefault(key, [set(), set()])[KINDS.index(kind) - 1].add(user_id)
        return {key: (len(reached), len(trained)) for key, (reached, trained) in people.items()}

    def check(seed):
        pick = stdlib_random.Random(seed)
        for _ in range(60):
            first = date(2021, 10, 1) + timedelta(days=pick.randrange(900))
            last = first + timedelta(days=pick.choice([0, 9, 40, 200, 700]))
            if pick.random() < 0.3:
                first = first.replace(day=1)  # whole months at the start
            for filters, group in (({}, ()), ({}, ("country",)), ({}, ("course",)), ({}, ("year",)),
                                   ({}, ("month",)), ({}, ("sector", "year")), ({}, ("month", "course")),
                                   ({"country": "KE"}, ()), ({"course": 3}, ("year",)), ({"sector": "health"}, ()),
                                   ({"country": "FR"}, ("country", "month")), ({}, ("country", "sector")),
                                   ({"country": "KE"}, ("course",)), ({"course": 2}, ("sector", "country")),
                                   ({"country": "CO", "sector": "health"}, ("course", "year")),
                                   ({"sector": "justice"}, ("month", "course")), ({}, ("course", "country", "sector")),
                                   ({"country": "FR", "sector": "health", "course": 4}, ()),
                                   ({"country": "ZZ"}, ("course",))):
                rows = answer(state, ReportFilter(date_from=first, date_to=last, **filters), group)
                found = {row.key: (row.reached, row.trained) for row in rows if row.reached or row.trained}
                assert found == expected(first, last, filters, group), (first, last, filters, group)

    check(1)
    # People changed (other days, countries and courses), erased and added after the build.
    known = sorted(facts)
    for user_id in known[:30]:
        facts[user_id] = [(kind, day + 33, "KE" if country == "CO" else "CO", sector, course % 4 + 1)
                          for kind, day, country, sector, course in facts[user_id]]
    for user_id in known[30:45]:
        facts[user_id] = []
    for user_id in (3, 9_999_999):
        facts[user_id] = [("reached", _day(date(2022, 6, 30)), "FR", "justice", 2),
                          ("trained", _day(date(2022, 7, 1)), "FR", "justice", 2)]
    changed = known[:45] + [3, 9_999_999]
    state.apply(changed, [[user_id, *row[:4], row[4], 1, 1, 1] for user_id in changed for row in facts[user_id]])
    assert state.dead_count and state.overlay
    check(2)


def test_many_changes_rebuild_the_index_aside_while_the_old_one_answers(postgresql, monkeypatch):
    """A process that builds in the background does not compact its index in a request once the overlay
    of changed people is large (a rebuild that, at 10M enrolments, would hold every report of the process
    for minutes): it keeps answering from the current state, exactly, while a fresh one is built from the
    database in a thread, then swaps it in; the next answers come from it, exact as well."""
    import threading

    from learning.reporting.period_index import process

    made = history(seed=8)
    report = ReportFilter(date_from=START + timedelta(days=45), date_to=START + timedelta(days=DAYS - 20))
    assert from_index(postgresql, report, ("country",)) == from_facts(report, ("country",))  # built, in the request
    old = postgresql.state
    old.compact_in_place = False  # as a state built in the background is
    monkeypatch.setattr(postgresql, "background", True)
    monkeypatch.setattr(process, "COMPACT_FROM", 0)
    release, build = threading.Event(), postgresql._build
    monkeypatch.setattr(postgresql, "_build", lambda: (release.wait(60), build())[1])  # held until released
    for enrolment in made["enrolments"][:10]:
        enrolment.country = "FR" if enrolment.country != "FR" else "KE"
    db.session.commit()
    for group in GROUPINGS:  # from the current state, its overlay holding the changed people
        assert from_index(postgresql, report, group) == from_facts(report, group), group
    assert postgresql.state is old and old.overlay and postgresql.building.is_alive()
    release.set()
    postgresql.building.join(timeout=120)
    assert postgresql.error is None and postgresql.state is not old
    fresh = postgresql.state
    assert not fresh.overlay and fresh.compact_in_place is False
    for group in GROUPINGS:
        assert from_index(postgresql, report, group) == from_facts(report, group), group
