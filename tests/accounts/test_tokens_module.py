"""``learning.accounts.tokens`` reads ``learning.enrolment.hot``'s lock statement at import, with no import
inside a function: each of the modules involved imports on its own, whichever comes first (a new import
cycle fails here rather than in one process's start-up order)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("first", ["learning.accounts.tokens", "learning.enrolment.hot"])
def test_each_module_imports_first_in_a_fresh_interpreter(first):
    done = subprocess.run([sys.executable, "-c", f"import {first}; import learning.accounts.tokens"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
