"""gunicorn.conf.py's ``post_worker_init``: a web worker that has loaded the app freezes its objects out of
the garbage collector's full collections (helper "hotauth", docs/PERFORMANCE.md); ``WEB_GC_FREEZE=0`` does not."""

from __future__ import annotations

import gc
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _hook():
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))["post_worker_init"]


def test_a_worker_freezes_what_it_loaded(monkeypatch):
    monkeypatch.delenv("WEB_GC_FREEZE", raising=False)
    assert gc.get_freeze_count() == 0
    try:
        _hook()(None)
        assert gc.get_freeze_count() > 1000  # everything this process had loaded
    finally:
        gc.unfreeze()


def test_freezing_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("WEB_GC_FREEZE", "0")
    _hook()(None)
    assert gc.get_freeze_count() == 0
