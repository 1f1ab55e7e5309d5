"""``learning.accounts.tokens`` joins the learner's own-enrolment lock (``learning.enrolment.own_lock``) to
the token's statement. That module is a leaf: it imports nothing of the project but ``models_base``, so
neither the tokens nor the hot path can form an import cycle through it, whichever module a process
imports first."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import learning.enrolment.own_lock as own_lock


@pytest.mark.parametrize("first", ["learning.accounts.tokens", "learning.enrolment.hot",
                                   "learning.enrolment.own_lock"])
def test_each_module_imports_first_in_a_fresh_interpreter(first):
    done = subprocess.run([sys.executable, "-c", f"import {first}; import learning.accounts.tokens; "
                           "import learning.enrolment.hot"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_shared_lock_is_a_leaf_module():
    tree = ast.parse(Path(own_lock.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    project = {name for name in imported if name.startswith("learning")}
    assert project == {"learning.models_base"}


def test_tokens_and_the_hot_path_lock_with_the_same_statement():
    import learning.accounts.tokens as tokens
    import learning.enrolment.hot as hot

    assert tokens.LOCK_OWN_SQL is hot.LOCK_OWN_SQL is own_lock.LOCK_OWN_SQL
    assert "FOR UPDATE OF e" in own_lock.LOCK_OWN_SQL and "e.user_id = :user_id" in own_lock.LOCK_OWN_SQL
