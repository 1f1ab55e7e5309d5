"""List pages share one table and one pager (templates/macros/lists.html): none writes its own."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
LIST_PAGES = ("organisations/index.html", "organisations/show.html", "cohorts/index.html", "cohorts/show.html",
              "accounts/admin/users.html", "catalogue/manage.html", "certificates/admin.html")


def test_only_the_shared_macro_writes_a_pager():
    writers = sorted(str(path.relative_to(TEMPLATES)) for path in TEMPLATES.rglob("*.html")
                     if 'class="pager"' in path.read_text())
    assert writers == ["macros/lists.html"]


def test_the_list_pages_draw_their_tables_with_the_shared_macro():
    for name in LIST_PAGES:
        text = (TEMPLATES / name).read_text()
        assert '{% from "macros/lists.html" import' in text, name
        assert "<table" not in text and "<thead" not in text, name
        assert re.search(r"{% call table\(", text), name
