"""A pooled PostgreSQL connection is checked before use without a round trip to the server.

``pool_pre_ping`` sends ``SELECT 1`` on every checkout, so on every request: one round trip of the
learner's five or six (docs/PERFORMANCE.md, helper "hotpath3"). What it protects against is a
connection the server closed while it sat in the pool: a backend ended (``pg_terminate_backend``,
``idle_session_timeout``), the server restarted, a proxy cut it. In each of these the server's last
message (``FATAL: terminating connection …``) or the end of the stream is already waiting on the
socket when the pool hands the connection out, and a connection the pool holds idle has nothing
else to read. So at checkout the socket is polled, not written: nothing to read and libpq's state
good means the connection is used as it is; anything to read means a real ping, and a failed ping
(or a closed or broken connection) raises ``DisconnectionError``, on which SQLAlchemy's pool
discards the connection and checks out another (a fresh one if need be) before the request sees
anything — the learner gets no error, as with ``pool_pre_ping``.

What neither check sees in time is a peer that vanished without a word (a cable pulled, a firewall
dropping idle flows): TCP keepalives (``KEEPALIVES``, in the connection's arguments) make the kernel
notice it, and then the socket polls readable (error or hang-up) like any other end. The one
remaining window, a connection killed between the check and its first statement, exists with
``pool_pre_ping`` too (between the ping and the statement).
"""

from __future__ import annotations

import select

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

# TCP keepalives for PostgreSQL connections (libpq parameters): a dead peer found within about
# 60 + 3 × 10 s of silence instead of the kernel's two hours.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 60, "keepalives_interval": 10, "keepalives_count": 3}


def _has_input(fd: int) -> bool:
    """Whether the socket has something to read, or an error or hang-up, right now (no waiting)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def looks_alive(dbapi_connection) -> bool:
    """A psycopg 3 connection that is open, idle, in libpq's good state and has nothing unread."""
    from psycopg import pq

    if dbapi_connection.closed or dbapi_connection.broken:
        return False
    pgconn = dbapi_connection.pgconn
    if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.IDLE:
        return False
    return not _has_input(pgconn.socket)


def check_on_checkout(engine: Engine) -> None:
    """Attach the check to ``engine``'s pool (PostgreSQL through psycopg 3; other drivers keep
    ``pool_pre_ping``, see ``learning.config``). Attaching it again does nothing."""
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
        return
    if not event.contains(engine, "checkout", _checkout):
        event.listen(engine, "checkout", _checkout)


def _checkout(dbapi_connection, connection_record, connection_proxy) -> None:
    try:
        alive = looks_alive(dbapi_connection)
    except Exception:  # noqa: BLE001 — a connection that cannot even be inspected is not used
        alive = False
    if alive:
        return
    if not dbapi_connection.closed and not dbapi_connection.broken:
        # Something unread that may be harmless (a notice, a parameter's new value): ask the server.
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            dbapi_connection.rollback()
            return
        except Exception:  # noqa: BLE001 — any failure: the connection goes, another is checked out
            pass
    raise exc.DisconnectionError("the server closed this pooled connection")


# --- the hot statements prepared on their first execution ------------------------------------------------

# An execution option for the statements every request of the learner's hot path sends (the caller's, the
# enrolment's, the lesson's): psycopg prepares a statement only after five executions on a connection
# (``prepare_threshold``), so on each new pooled connection PostgreSQL parsed, analysed and planned each of
# them five times over (~0.5 ms of server CPU each, the CTEs' planning) before the sixth was prepared
# (docs/PERFORMANCE.md, helper "hotpath7"). Marked statements are prepared on the first; nothing else changes
# (the same cursor, SQLAlchemy's cursor events, the statement counts). Other statements keep the threshold.
PREPARE_AT_ONCE = "learning_prepare_at_once"


def prepare_marked_statements(engine: Engine) -> None:
    """Attach ``_execute_prepared`` to ``engine`` (PostgreSQL through psycopg 3; others ignore the option).
    Attaching it again does nothing."""
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
        return
    if not event.contains(engine, "do_execute", _execute_prepared):
        event.listen(engine, "do_execute", _execute_prepared)


def _execute_prepared(cursor, statement, parameters, context) -> bool:
    if context.execution_options.get(PREPARE_AT_ONCE):
        cursor.execute(statement, parameters, prepare=True)
        return True
    return False  # SQLAlchemy's own ``do_execute``
