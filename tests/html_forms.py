"""Read a form out of a page as a browser would submit it unchanged (for round-trip tests)."""

from __future__ import annotations

from html.parser import HTMLParser


class _FormReader(HTMLParser):
    """Collects the successful controls of the form whose ``action`` ends with the given path."""

    def __init__(self, action: str):
        super().__init__(convert_charrefs=True)
        self.action = action
        self.inside = False
        self.found = False
        self.fields: list[tuple[str, str]] = []
        self._select: tuple[str, bool] | None = None
        self._select_values: list[str] = []
        self._first_option: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            target = (attrs.get("action") or "").split("?")[0]
            mine = target.endswith(self.action) if self.action else (not target and attrs.get("method") == "post")
            if mine and not self.found:
                self.inside = self.found = True
            return
        if not self.inside or "disabled" in attrs:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = (attrs.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.fields.append((name, attrs.get("value", "on")))
            elif kind not in ("submit", "button", "file", "reset", "image"):
                self.fields.append((name, attrs.get("value") or ""))
        elif tag == "select" and name:
            self._select = (name, "multiple" in attrs)
            self._select_values, self._first_option = [], None
        elif tag == "option" and self._select:
            value = attrs.get("value", "")
            if self._first_option is None:
                self._first_option = value
            if "selected" in attrs:
                self._select_values.append(value)
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_data(self, data):
        if self._textarea:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "select" and self._select:
            name, multiple = self._select
            values = self._select_values or ([] if multiple or self._first_option is None else [self._first_option])
            self.fields.extend((name, value) for value in values)
            self._select = None
        elif tag == "textarea" and self._textarea:
            text = "".join(self._text)
            self.fields.append((self._textarea, text[1:] if text.startswith("\n") else text))
            self._textarea = None


def form_values(page: str, action: str) -> list[tuple[str, str]]:
    """The name/value pairs the form posting to ``action`` sends if submitted as shown
    (``action=""``: the first form that posts to the page itself)."""
    reader = _FormReader(action)
    reader.feed(page)
    assert reader.found, f"no form posting to {action}"
    return reader.fields


def as_multidict(pairs: list[tuple[str, str]]):
    from werkzeug.datastructures import MultiDict

    return MultiDict(pairs)
