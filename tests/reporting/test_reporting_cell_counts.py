"""The cells of a rebuild aside counted in the process (``cell_counts``, numpy) are exactly the
cells the SQL statements count, and the cells the incremental maintenance keeps (PostgreSQL)."""

from __future__ import annotations

import pytest
from hypothesis import given

from learning.extensions import db
from learning.reporting import rebuild as rebuild_module
from learning.reporting.models import ReportCell
from learning.reporting.rebuild import rebuild_aside
from tests import factories_reporting as rf
from tests.reporting.test_reporting_properties import PROPERTY, build, enrolment_specs

state = rf.rollup_state


@given(specs=enrolment_specs)
@PROPERTY
def test_cells_counted_in_the_process_equal_the_sql_statements_and_the_incremental_rollup(
        app_context, specs, monkeypatch):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the rebuild aside is PostgreSQL's")
    rf.wipe()
    build(specs)
    incremental = state()
    db.session.commit()
    monkeypatch.setattr(rebuild_module, "CELLS_IN_PROCESS", True)
    rebuild_aside(db.engine, workers=2)
    in_process = state()
    db.session.commit()
    monkeypatch.setattr(rebuild_module, "CELLS_IN_PROCESS", False)
    rebuild_aside(db.engine, workers=2)
    by_sql = state()
    db.session.commit()
    assert in_process == by_sql == incremental


def test_a_country_the_live_cells_lack_is_read_from_the_facts(app_context, monkeypatch):
    """The dictionaries come from the live all-time cells; an empty or stale rollup falls back to the facts."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the rebuild aside is PostgreSQL's")
    rf.wipe()
    build([{"person": p, "course": p % 3, "cohort": None, "organisation": 1, "country": country, "sector": sector,
            "enrolled": 30 * p, "completed_after": 10, "certificate_after": 1}
           for p, (country, sector) in enumerate([("CO", "health"), ("KE", None), (None, "education")])])
    incremental = state()
    db.session.execute(ReportCell.__table__.delete())  # the live rollup knows no country nor sector
    db.session.commit()
    monkeypatch.setattr(rebuild_module, "CELLS_IN_PROCESS", True)
    rebuild_aside(db.engine, workers=1)
    assert state() == incremental
