"""Factories for reporting tests: enrolment histories with chosen dates and attributions.

They write rows through the ORM, as the services do, so that the rollup's
session hooks see every change; ``recount`` is the brute-force answer the
rollup must always equal.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import delete, select, text

from learning.accounts.models import Organisation, User
from learning.catalogue.models import Course, CourseTranslation
from learning.certificates.models import Certificate
from learning.cohorts.models import Cohort
from learning.enrolment.models import Enrolment
from learning.extensions import db

_seq = itertools.count(1)


def at(day: date, hour: int = 12) -> datetime:
    """A UTC moment on that day."""
    return datetime.combine(day, time(hour), tzinfo=UTC)


def person(country: str = "CO", sector: str = "law_enforcement", organisation: Organisation | None = None,
           **fields) -> User:
    n = next(_seq)
    user = User(email=f"rp{n}@example.org", full_name=f"Reporting Person {n}", country=country, sector=sector,
                language="en", organisation=organisation, **fields)
    db.session.add(user)
    db.session.flush()
    return user


def organisation(name: str | None = None, country: str = "CO") -> Organisation:
    org = Organisation(name=name or f"Organisation {next(_seq)}", country=country)
    db.session.add(org)
    db.session.flush()
    return org


def course(slug: str | None = None, title: str | None = None, language: str = "en") -> Course:
    n = next(_seq)
    item = Course(slug=slug or f"report-course-{n}", language=language, status="published")
    item.translations = [CourseTranslation(language=language, title=title or f"Course {n}", summary="")]
    db.session.add(item)
    db.session.flush()
    return item


def cohort(of_course: Course, country: str = "CO", name: str | None = None) -> Cohort:
    item = Cohort(course_id=of_course.id, name=name or f"Cohort {next(_seq)}", country=country,
                  delivery="in_person", starts_on=date(2024, 1, 1), ends_on=date(2024, 1, 31))
    db.session.add(item)
    db.session.flush()
    return item


def enrolment(user: User, of_course: Course, enrolled: date, completed: date | None = None,
              certified: date | None = None, cohort_id: int | None = None, country: str | None = "",
              sector: str | None = "", organisation_id: int | None = -1) -> Enrolment:
    """An enrolment recording the person's profile as of now unless told otherwise."""
    item = Enrolment(
        user_id=user.id, course_id=of_course.id, cohort_id=cohort_id,
        status="completed" if completed else "withdrawn",
        enrolled_at=at(enrolled, 9), completed_at=at(completed, 15) if completed else None,
        country=user.country if country == "" else country,
        sector=user.sector if sector == "" else sector,
        organisation_id=user.organisation_id if organisation_id == -1 else organisation_id,
        language="en",
    )
    db.session.add(item)
    db.session.flush()
    if certified:
        certificate(item, certified)
    return item


def certificate(item: Enrolment, issued: date) -> Certificate:
    cert = Certificate(code=f"CODE{next(_seq):08d}", enrolment_id=item.id, user_id=item.user_id,
                       course_id=item.course_id, holder_name="Someone", course_title="A course",
                       course_language="en", issued_at=at(issued, 18))
    db.session.add(cert)
    db.session.flush()
    return cert


def erase(user: User) -> None:
    """What an erasure does to the account (the privacy feature will own the real one)."""
    from learning.models_base import utcnow

    user.full_name = ""
    user.email = f"erased-{user.id}@invalid"
    user.erased_at = utcnow()
    user.password_hash = None


def wipe() -> None:
    """Empty every table (between Hypothesis examples, which share one test's database)."""
    db.session.rollback()
    tables = [t for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(t.name for t in tables)} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(delete(table))
    db.session.commit()


# --- the brute-force answer -------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    user_id: int
    course: str
    cohort_id: int | None
    organisation_id: int | None
    country: str | None
    sector: str | None
    enrolled: date
    completed: date | None
    certified: tuple[date, ...]


def snapshot() -> list[Row]:
    """Every enrolment as the database holds it, with its certificates' days."""
    certs: dict[int, list[date]] = {}
    for enrolment_id, issued_at in db.session.execute(select(Certificate.enrolment_id, Certificate.issued_at)):
        certs.setdefault(enrolment_id, []).append(issued_at.date())
    rows = []
    for item, slug in db.session.execute(select(Enrolment, Course.slug).join(Course, Course.id == Enrolment.course_id)):
        rows.append(Row(item.user_id, slug, item.cohort_id, item.organisation_id, item.country, item.sector,
                        item.enrolled_at.date(), item.completed_at.date() if item.completed_at else None,
                        tuple(certs.get(item.id, ()))))
    return rows


def recount(rows: list[Row], date_from=None, date_to=None, **dims) -> dict:
    """The summary, counted the slow obvious way: sets of people in Python."""

    def within(day):
        return day is not None and (date_from is None or day >= date_from) and (date_to is None or day <= date_to)

    attribute = {"country": "country", "sector": "sector", "course": "course", "cohort": "cohort_id",
                 "organisation": "organisation_id"}

    def matches(row):
        return all(getattr(row, attribute[k]) == v for k, v in dims.items())

    chosen = [r for r in rows if matches(r)]
    groups = {"country": lambda r, d: r.country, "sector": lambda r, d: r.sector,
              "course": lambda r, d: r.course, "year": lambda r, d: d.year}
    result = {
        "professionals_reached": len({r.user_id for r in chosen if within(r.enrolled)}),
        "professionals_trained": len({r.user_id for r in chosen if within(r.completed)}),
        "certificates_issued": sum(1 for r in chosen for d in r.certified if within(d)),
    }
    for name, key in groups.items():
        table: dict = {}
        for r in chosen:
            if within(r.enrolled):
                table.setdefault(key(r, r.enrolled), [set(), set(), 0])[0].add(r.user_id)
            if within(r.completed):
                table.setdefault(key(r, r.completed), [set(), set(), 0])[1].add(r.user_id)
            for d in r.certified:
                if within(d):
                    table.setdefault(key(r, d), [set(), set(), 0])[2] += 1
        result[f"by_{name}"] = sorted(
            ({name: k, "reached": len(v[0]), "trained": len(v[1]), "certificates": v[2]} for k, v in table.items()),
            key=lambda item: str(item[name]),
        )
    result["countries_reached"] = sum(1 for row in result["by_country"] if row["country"] and row["reached"])
    result["countries_trained"] = sum(1 for row in result["by_country"] if row["country"] and row["trained"])
    return result


def comparable(summary: dict) -> dict:
    """A summary with its breakdowns in a fixed order, to compare with ``recount``."""
    result = dict(summary)
    for name in ("country", "sector", "course", "year"):
        result[f"by_{name}"] = sorted(summary[f"by_{name}"], key=lambda item: str(item[name]))
    return result


def rollup_state() -> tuple[dict, list]:
    """The rollup as plain values: its non-zero cells by key, and its facts sorted (for comparing two builds)."""
    from learning.reporting.models import ReportCell, ReportFact

    cells = {(c.kind, c.dims, c.period, c.country, c.sector, c.course_id, c.cohort_id, c.organisation_id): c.n
             for c in db.session.scalars(select(ReportCell)) if c.n}
    facts = sorted((f.user_id, f.kind, f.day, f.country, f.sector, f.course_id, f.cohort_id, f.organisation_id,
                    f.weight) for f in db.session.scalars(select(ReportFact)))
    return cells, facts

