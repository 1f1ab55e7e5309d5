"""The index of a process (``PeriodIndex``): built once, synchronised with the change log before each
answer; how the app installs it (``init_app``) and how ``queries.counts`` asks it (``counts_from_index``)."""

from __future__ import annotations

import logging
import threading
import time

from learning.reporting.period_index import query
from learning.reporting.period_index.build import load
from learning.reporting.period_index.changes import sync
from learning.reporting.period_index.common import COMPACT_FROM
from learning.reporting.period_index.state import State

log = logging.getLogger("learning.reporting.period_index")


class PeriodIndex:
    """The process's index: built once (in a thread, or in the first request), synchronised with the
    change log before each answer, one request at a time (a lock: an answer takes milliseconds)."""

    def __init__(self, app, background: bool = True):
        self.app = app
        self.background = background
        self.state: State | None = None
        self.lock = threading.Lock()
        self.building: threading.Thread | None = None
        self.build_seconds: float | None = None
        self.error: BaseException | None = None

    def engine(self):
        from learning.extensions import db

        with self.app.app_context():
            return db.engine

    def reset(self) -> None:
        """Forget everything (the next use builds again): tests emptying the tables use it."""
        with self.lock:
            self.state = None

    def _build(self) -> State:
        started = time.perf_counter()
        with self.engine().connect() as connection:
            state = load(connection)
        _give_memory_back()  # the COPY's buffers and the sorts' temporaries
        self.build_seconds = time.perf_counter() - started
        log.info("period index built in %.1f s", self.build_seconds)
        return state

    def _build_in_background(self) -> None:
        if self.building is not None and self.building.is_alive():
            return

        def work() -> None:
            try:
                state = self._build()
                state.compact_in_place = False
            except BaseException as error:  # logged; the facts path keeps answering
                self.error = error
                log.exception("period index build failed")
                return
            with self.lock:
                self.state = state

        self.building = threading.Thread(target=work, name="period-index", daemon=True)
        self.building.start()

    def answer(self, report, group, synced: bool = False):
        """The rows of ``counts(report, group)``, or None (not built yet: the caller counts the facts).
        ``synced``: the caller's transaction has had the log read already (a summary's five counts)."""
        with self.lock:
            if self.state is None and not self.background:
                self.state = self._build()
            if self.state is not None and not synced:
                with self.engine().connect() as connection:
                    if not sync(self.state, connection):
                        self.state = None
                        if not self.background:
                            self.state = self._build()
            if self.state is None:
                self._build_in_background()
                return None
            if self.background and self.state.overlay_rows() > COMPACT_FROM:
                # Many people changed since the build: a fresh state is built aside, from a newer snapshot,
                # and swapped in when done; this one keeps answering meanwhile (compacting it here would
                # hold every report of the process for as long as a build: minutes at 10M enrolments).
                self._build_in_background()
            return query.answer(self.state, report, group)


def _give_memory_back() -> None:
    """Return the heap freed after a build to the system (glibc keeps it otherwise)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def enabled(app) -> bool:
    setting = app.config.get("REPORT_PERIOD_INDEX")
    if setting is None or setting == "auto":
        return app.config.get("SQLALCHEMY_DATABASE_URI", "").startswith("postgresql")
    return bool(setting)


def init_app(app) -> None:
    if enabled(app):
        app.extensions["period_index"] = PeriodIndex(
            app, background=app.config.get("REPORT_PERIOD_INDEX_BUILD", "background") != "sync")


WROTE_FACTS_KEY = "reporting_wrote_facts_in"
SYNCED_KEY = "reporting_period_index_synced_in"


def counts_from_index(report, group):
    """``queries.counts`` asks here first for a period the cells do not answer: None means "count the
    facts" (no index in this process, not built yet, or this transaction rewrote facts it has not
    committed, which the index, reading committed rows only, cannot see)."""
    from flask import current_app, has_app_context

    from learning.extensions import db

    if not has_app_context():
        return None
    index = current_app.extensions.get("period_index")
    if index is None:
        return None
    session = db.session()
    transaction = session.get_transaction()
    if session.info.get(WROTE_FACTS_KEY) is not None and session.info[WROTE_FACTS_KEY] is transaction:
        return None
    # The log is read once per transaction of the asking session (a request, or a test's step): the
    # counts of one summary come from one synchronisation, as the facts path's come from one request.
    synced = transaction is not None and session.info.get(SYNCED_KEY) is transaction and index.state is not None
    rows = index.answer(report, group, synced=synced)
    if transaction is not None:
        session.info[SYNCED_KEY] = transaction
    return rows
