"""Reporting's own tables: the statistics rollup and export jobs.

The rollup has two layers, both derived only from enrolments and certificates
(never from live profile fields, so profile edits and erasures cannot change
past figures, DESIGN.md rule 3):

* ``ReportFact``: one row per person, kind of event (``reached``, ``trained``,
  ``certified``), UTC day and the dimensions the enrolment recorded. It is the
  exact, de-duplicated history of one person, rebuilt whenever that person's
  enrolments or certificates change.
* ``ReportCell``: for every period (all time, a year, a month) and every
  combination of at most two of country, sector and course, and for each
  cohort and organisation by all time and year (``rollup.CELL_FAMILIES``), the
  number of distinct people (or of certificates). Kept exact by applying the difference between a person's old
  and new facts, so a summary reads a few hundred rows instead of counting
  distinct people over a million enrolments.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import base as postgresql_types
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

from learning.extensions import db
from learning.models_base import UTCDateTime, utcnow

FACT_KINDS = ("reached", "trained", "certified")
EXPORT_STATUSES = ("pending", "running", "ready", "failed")
# The columns ``ix_report_facts_kind_day`` carries besides its key: every column a report reads.
COVERED = ("user_id", "year", "month", "country", "sector", "course_id", "cohort_id", "organisation_id", "weight")


class ReportFact(db.Model):
    """One person's event on one day, attributed as the enrolment recorded it."""

    __tablename__ = "report_facts"
    __table_args__ = (
        # Covering (PostgreSQL): a period that is not a whole year or month is counted from an
        # index-only range scan of its facts (``queries._from_facts``), not a scan of the table.
        Index("ix_report_facts_kind_day", "kind", "day", postgresql_include=list(COVERED)),
        Index("ix_report_facts_country_day", "country", "day"),
        # Reports on one course, cohort or organisation combined with another dimension (or by month,
        # for cohorts and organisations) have no cells: they count these facts through these indexes.
        Index("ix_report_facts_course_day", "course_id", "day"),
        Index("ix_report_facts_cohort_day", "cohort_id", "day"),
        Index("ix_report_facts_organisation_day", "organisation_id", "day"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(12))
    day: Mapped[date] = mapped_column(Date)
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)  # YYYYMM
    country: Mapped[str] = mapped_column(String(2), default="")  # "" when none was recorded
    sector: Mapped[str] = mapped_column(String(32), default="")
    course_id: Mapped[int] = mapped_column(Integer)
    cohort_id: Mapped[int] = mapped_column(Integer, default=0)  # 0: no cohort (self-paced)
    organisation_id: Mapped[int] = mapped_column(Integer, default=0)  # 0: no organisation
    weight: Mapped[int] = mapped_column(Integer, default=1)  # certificates on that day; 1 otherwise


class ReportCell(db.Model):
    """A distinct count for one period and one combination of dimension values.

    ``period`` is 0 for all time, ``YYYY`` for a year, ``YYYYMM`` for a month.
    ``dims`` names the dimensions the cell is keyed by (``"country+sector"``);
    the columns of the other dimensions hold their neutral value ("" or 0).
    """

    __tablename__ = "report_cells"

    kind: Mapped[str] = mapped_column(String(12), primary_key=True)
    dims: Mapped[str] = mapped_column(String(40), primary_key=True)
    period: Mapped[int] = mapped_column(Integer, primary_key=True)
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    sector: Mapped[str] = mapped_column(String(32), primary_key=True)
    course_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cohort_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class ReportExport(db.Model):
    """An export built in the background; its file is downloadable by admins once ready."""

    __tablename__ = "report_exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    format: Mapped[str] = mapped_column(String(8))  # csv, xlsx
    group_by: Mapped[str] = mapped_column(String(40))
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    rows: Mapped[int | None] = mapped_column(Integer)
    file_path: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReportRebuild(db.Model):
    """One rebuild of the rollup (``rebuild.rebuild_aside``): ``building`` while it runs, then
    ``swapped`` (or ``failed``, or ``abandoned`` when a later rebuild found it unfinished)."""

    __tablename__ = "report_rebuilds"

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(12), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    counts: Mapped[dict | None] = mapped_column(JSON)


class ReportRebuildPending(db.Model):
    """A person whose facts were refreshed while a rebuild was building aside: the rebuild refreshes
    them again in the tables it built before swapping them in."""

    __tablename__ = "report_rebuild_pending"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class XID8(UserDefinedType):
    """PostgreSQL's 64-bit transaction id (``pg_current_xact_id()``)."""

    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "xid8"


# Reflection (Alembic's comparison of the models with the database) knows the type by its name.
postgresql_types.ischema_names.setdefault("xid8", XID8)


class ReportChange(db.Model):
    """A person whose facts a transaction rewrote: the change log that keeps every process's in-memory
    period index (``period_index/``) exact. Written by the refresh's own statements (PostgreSQL),
    read by ``xid``, pruned by ``period_index.prune_changes``."""

    __tablename__ = "report_changes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    xid = mapped_column(XID8().with_variant(Numeric(), "sqlite"), index=True,
                        server_default=text("pg_current_xact_id()"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True, server_default=func.now())


class ReportChangesHorizon(db.Model):
    """One row: change rows below ``pruned_below`` were pruned; a process synchronised before it
    reloads the whole index."""

    __tablename__ = "report_changes_horizon"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    pruned_below = mapped_column(XID8().with_variant(Numeric(), "sqlite"))
