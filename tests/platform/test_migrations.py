"""The migrations build exactly the schema the models describe, as one head."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import Migrate

from learning.extensions import db


def test_migrations_have_a_single_head(app_context, app):
    config = app.extensions["migrate"].migrate.get_config()
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_migrated_database_matches_the_models(app_context):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_migrate_is_configured(app):
    assert isinstance(app.extensions["migrate"].migrate, Migrate)


def test_no_migration_imports_application_code():
    """A migration is frozen: the application's code moves on and must not change what an old
    revision does."""
    import ast
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parents[2] / "migrations" / "versions").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not [name for name in names if name.split(".")[0] == "learning"], path.name


def test_the_reporting_migration_builds_the_rollup_the_application_keeps(app_context):
    """0002's frozen copy of the rollup, trimmed as 0004 trims it, gives exactly the facts and cells
    that the application's hooks maintained for the same enrolments and certificates."""
    import importlib.util
    from datetime import date
    from pathlib import Path

    from sqlalchemy import delete, select

    from learning.reporting.models import ReportCell, ReportFact
    from learning.reporting.rollup import grain_of, has_cells
    from tests import factories_reporting as rf

    org = rf.organisation()
    first, second = rf.course(), rf.course()
    group = rf.cohort(first)
    people = [rf.person(), rf.person(country="KE", sector="health", organisation=org), rf.person(sector="")]
    rf.enrolment(people[0], first, date(2024, 1, 5), completed=date(2024, 2, 1), certified=date(2024, 2, 2),
                 cohort_id=group.id)
    rf.enrolment(people[0], second, date(2024, 1, 5))
    rf.enrolment(people[1], first, date(2023, 12, 31), completed=date(2024, 1, 1), certified=date(2024, 3, 1))
    rf.enrolment(people[1], second, date(2024, 5, 5), completed=date(2024, 5, 6), country=None)
    rf.enrolment(people[2], first, date(2025, 7, 7), cohort_id=group.id)
    db.session.commit()

    def rollup():
        facts = sorted(tuple(row)[1:] for row in db.session.execute(select(*ReportFact.__table__.c)))
        cells = sorted(tuple(row) for row in db.session.execute(select(*ReportCell.__table__.c)))
        return facts, cells

    maintained = rollup()
    assert maintained[0] and maintained[1]
    path = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "0002_reporting_rollup_and_exports.py"
    spec = importlib.util.spec_from_file_location("frozen_0002_reporting", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with db.engine.begin() as connection:
        connection.execute(delete(ReportCell.__table__))
        connection.execute(delete(ReportFact.__table__))
        migration.build_rollup(connection)
    db.session.expire_all()
    facts, cells = rollup()
    kept = [cell for cell in cells if has_cells(cell[1], grain_of(cell[2]))]  # what 0004 keeps
    assert (facts, kept) == maintained
    assert len(cells) > len(kept)
