"""Reporting's background work: exports built by a worker (registered by ``learning.reporting.init_app``)."""

from __future__ import annotations

from celery import shared_task
from flask import current_app

from learning.extensions import db
from learning.reporting.exports import build_export
from learning.reporting.period_index import prune_changes


def export_requested(payload: dict) -> None:
    """Build the export's file; a repeat after success does nothing."""
    build_export(int(payload["export_id"]))


@shared_task(name="reporting.prune_changes", acks_late=True)
def prune_report_changes() -> int:
    """Prune the facts' change log (beat, hourly): rows older than REPORT_CHANGES_RETENTION_HOURS."""
    return prune_changes(db.session(), int(current_app.config.get("REPORT_CHANGES_RETENTION_HOURS", 24)))
