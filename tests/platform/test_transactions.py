"""Handlers never commit (learning/transactions.py): the request's unit of work commits once, and the
one exception, a failure's record kept although the request is refused, goes through
``keep_despite_failure``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import func, select

from learning.audit.models import AuditEntry
from learning.extensions import db
from learning.transactions import keep_despite_failure

LEARNING = Path(__file__).resolve().parents[2] / "learning"


def _handler_files() -> list[Path]:
    return sorted(LEARNING.rglob("views.py")) + sorted((LEARNING / "api").glob("*.py"))


def _is_cli_command(function: ast.FunctionDef) -> bool:
    """A ``@bp.cli.command`` in a views module is a command, its own unit of work, not a handler."""
    return any(isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == "command"
               for d in function.decorator_list)


def _bare_commits(path: Path) -> list[str]:
    found = []
    tree = ast.parse(path.read_text(), str(path))
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef) or _is_cli_command(function):
            continue
        for node in ast.walk(function):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "commit"
                    and ast.unparse(node.func.value) == "db.session"):
                found.append(f"{path.relative_to(LEARNING.parent)}:{node.lineno} in {function.name}")
    return found


def test_no_view_or_api_handler_commits_itself():
    files = _handler_files()
    assert len(files) > 10
    assert [where for path in files for where in _bare_commits(path)] == []


def _audit_lines(action: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))


def test_a_failure_record_is_kept_alone_and_the_rest_of_the_request_is_undone(app_context):
    from learning.audit.services import record

    record(None, "test.work_of_the_refused_request")  # what the request did before it failed
    kept = keep_despite_failure(lambda: record(None, "test.the_failure"))
    assert kept.id is not None
    db.session.rollback()  # the refused request's own rollback (an answer of 400 or more)
    assert _audit_lines("test.the_failure") == 1
    assert _audit_lines("test.work_of_the_refused_request") == 0


def test_a_record_that_fails_keeps_nothing(app_context):
    from learning.audit.services import record

    def broken():
        record(None, "test.half_written")
        raise RuntimeError("the record could not be written")

    with pytest.raises(RuntimeError):
        keep_despite_failure(broken)
    assert _audit_lines("test.half_written") == 0
