"""Reporting's background work: exports built by a worker.

Importing this module (done at app start) also installs the session hooks of
``rollup`` that keep the statistics exact in every transaction.
"""

from __future__ import annotations

from learning.outbox.services import handles
from learning.reporting import rollup  # noqa: F401  (installs the rollup's session hooks)
from learning.reporting.exports import build_export


@handles("report.export_requested")
def export_requested(payload: dict) -> None:
    """Build the export's file; a repeat after success does nothing."""
    build_export(int(payload["export_id"]))
