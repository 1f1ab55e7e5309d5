"""The change log's catch-up (``sync``) and pruning (``prune_changes``): ``report_changes``, written by
the refresh's own statements, read by transaction id against the index's last snapshot."""

from __future__ import annotations

from sqlalchemy import text

from learning.reporting.period_index.common import RELOAD_FROM
from learning.reporting.period_index.state import State

_SYNC_SQL = text(
    "WITH changed AS (SELECT DISTINCT user_id FROM report_changes WHERE xid >= CAST(:w AS xid8) "
    "AND NOT pg_visible_in_snapshot(xid, CAST(:snapshot AS pg_snapshot))), "
    "fresh AS (SELECT user_id, kind, day - DATE '1970-01-01' AS day, country, sector, course_id, cohort_id, "
    "organisation_id, weight FROM report_facts WHERE user_id IN (SELECT user_id FROM changed) "
    f"AND (SELECT count(*) FROM changed) <= {RELOAD_FROM}) "
    "SELECT CAST(pg_current_snapshot() AS text), pg_relation_filenode('report_facts'), "
    "(SELECT CAST(pruned_below AS text) FROM report_changes_horizon WHERE id = 1), "
    "(SELECT count(*) FROM changed), (SELECT array_agg(user_id) FROM changed), "
    "(SELECT json_agg(json_build_array(user_id, kind, day, country, sector, course_id, cohort_id, "
    "organisation_id, weight)) FROM fresh)"
)


def sync(state: State, connection) -> bool:
    """Apply the changes logged since ``state``'s snapshot; False when only a full reload will do."""
    snapshot, generation, pruned_below, count, users, facts = connection.execute(
        _SYNC_SQL, {"w": str(state.xmin), "snapshot": state.snapshot}).one()
    connection.rollback()
    if int(generation) != state.generation or state.xmin < int(pruned_below or 0) or count > RELOAD_FROM:
        return False
    if users:
        state.apply(users, facts or [])
    state.snapshot = snapshot
    return True


PRUNE_SQL = text(
    "WITH horizon AS (SELECT COALESCE((SELECT min(xid) FROM report_changes "
    "WHERE at >= now() - make_interval(hours => :hours)), pg_snapshot_xmax(pg_current_snapshot())) AS below), "
    "raised AS (INSERT INTO report_changes_horizon (id, pruned_below) SELECT 1, below FROM horizon "
    "ON CONFLICT (id) DO UPDATE SET pruned_below = GREATEST(report_changes_horizon.pruned_below, excluded.pruned_below)) "
    "DELETE FROM report_changes WHERE xid < (SELECT below FROM horizon)"
)


def prune_changes(session, hours: int = 24) -> int:
    """Delete the change rows older than ``hours``: every row (committed, so visible) whose transaction
    id is below the horizon, the oldest id of a row written in that window (or, with none, the next
    id). The horizon is raised in the same statement: a process whose snapshot's ``xmin`` is below it
    may have missed a pruned row, so it reloads; a transaction still in flight keeps its rows."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    return session.execute(PRUNE_SQL, {"hours": hours}).rowcount
