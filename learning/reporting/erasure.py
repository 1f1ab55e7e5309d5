"""Erasure (DESIGN.md rule 8) and the statistics' change log ``report_changes``.

The facts and cells are anonymous history and stay as they were (``docs/REPORTING.md``). The change log
(``period_index/``) is not history: each row says that a transaction, at its time, rewrote a person's
facts, so until the log is pruned (``REPORT_CHANGES_RETENTION_HOURS``) it would keep the times, to the
second, of the erased person's learning. Those rows cannot simply go: a process whose index has not
yet read one would never reload that person's facts. So the erasure *replaces* them, in its own
transaction, by one row of its own (its ``xid``, its time):

* a process whose snapshot saw the erasure's transaction also saw every row the erasure deleted (the
  ``DELETE`` sees committed rows only, so their transactions committed before the erasure did): it
  had applied them already;
* a process whose snapshot did not see it reads the erasure's row at its next synchronisation, whatever
  the order of the transaction ids, and reloads the person's facts: the same as reading the old rows
  (applying a person's change is a reload of their current facts, so one row does for many).

What stays for at most the retention is the person's id (the same key their anonymous facts keep) and
the time of the erasure (which the audit log keeps as well). Nothing replaces rows when the person had
none (every change of theirs is older than the pruned horizon, and a process behind it reloads all).
"""

from __future__ import annotations

from sqlalchemy import text

from learning.extensions import db
from learning.signals import ErasedPerson, user_erased

_REPLACE_PG = text(
    "WITH gone AS (DELETE FROM report_changes WHERE user_id = :user_id RETURNING 1) "
    "INSERT INTO report_changes (user_id) SELECT :user_id WHERE EXISTS (SELECT 1 FROM gone)"
)
_DELETE = text("DELETE FROM report_changes WHERE user_id = :user_id")


def forget_change_times(user_id: int) -> None:
    """Replace the person's rows of the change log by one row of this transaction (see above)."""
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    # SQLite keeps no index and writes no change rows: nothing there needs the replacement.
    db.session.execute(_REPLACE_PG if postgresql else _DELETE, {"user_id": user_id})


def _on_user_erased(person: ErasedPerson) -> None:
    forget_change_times(person.user_id)


def connect_erasure() -> None:
    user_erased.connect(_on_user_erased)
