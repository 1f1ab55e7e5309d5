"""Reporting's background work: exports built by a worker (registered by ``learning.reporting.init_app``)."""

from __future__ import annotations

from learning.reporting.exports import build_export


def export_requested(payload: dict) -> None:
    """Build the export's file; a repeat after success does nothing."""
    build_export(int(payload["export_id"]))
