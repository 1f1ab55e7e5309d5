"""Named signals between features, so that no feature reaches into another's tables.

``user_erased`` is sent by ``accounts.privacy.erase_user`` inside the erasure's
transaction, after the user row itself is anonymised and before the commit.
Each feature that keeps something about a person connects a receiver from its
own module and removes or scrubs its own copies (DESIGN.md rule 8); a receiver
changes the session but never commits, and an exception in one rolls the whole
erasure back so that the outbox retries it.

Receivers are connected explicitly where the app is built
(``connect_receivers``, called by ``create_app``), not by importing a module
for its side effects: this list is the one place to read to know who reacts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from blinker import Namespace
from sqlalchemy import Text, cast, false, func, or_

signals = Namespace()

#: Sent with an ``ErasedPerson`` as the sender, once per erasure.
user_erased = signals.signal("user-erased")

ERASED = "[erased]"


@dataclass(frozen=True)
class ErasedPerson:
    """Who is being erased: the id kept for anonymous facts, and the strings that identify them.

    ``email`` and ``full_name`` are the values from before the erasure (the user row no longer
    has them); receivers use them to find copies written elsewhere and scrub them.
    """

    user_id: int
    email: str
    full_name: str

    @property
    def identifiers(self) -> list[str]:
        """The identifying strings, longest first (so a name inside an address is not cut in two)."""
        values = {v.strip() for v in (self.email, self.full_name) if v and len(v.strip()) >= 3}
        return sorted(values, key=len, reverse=True)

    @cached_property
    def _pattern(self) -> re.Pattern | None:
        if not self.identifiers:
            return None
        return re.compile("|".join(re.escape(v) for v in self.identifiers), re.IGNORECASE)

    def mentioned_in_text(self, text: str | bytes | None) -> bool:
        if not text or self._pattern is None:
            return False
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return self._pattern.search(text) is not None

    def scrub_text(self, text: str | None) -> str | None:
        """``text`` with every mention of the person replaced by ``[erased]``."""
        if not text or self._pattern is None:
            return text
        return self._pattern.sub(ERASED, text)

    def scrub(self, value: Any) -> Any:
        """A JSON-like value (dicts, lists, strings) with every mention of the person replaced."""
        if isinstance(value, str):
            return self.scrub_text(value)
        if isinstance(value, dict):
            return {self.scrub_text(k) if isinstance(k, str) else k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(v) for v in value]
        return value

    def mentioned_in_column(self, column):
        """A SQL condition: the column (text or JSON) mentions the person, in any letter case.

        JSON columns are compared as their stored text, where non-ASCII letters are written as
        ``\\uXXXX`` escapes (SQLAlchemy serialises with ``json.dumps``), so both spellings are
        searched. A cheap pre-filter: rows it finds are checked again in Python.
        """
        needles = set()
        for value in self.identifiers:
            needles.add(value.lower())
            needles.add(json.dumps(value)[1:-1].lower())
        if not needles:
            return false()
        text = func.lower(cast(column, Text))
        return or_(*(text.contains(needle, autoescape=True) for needle in sorted(needles)))


def connect_receivers() -> None:
    """Connect every feature's receivers (connecting the same receiver twice is harmless)."""
    from learning.accounts.privacy import connect_erasure as accounts
    from learning.audit.services import connect_erasure as audit
    from learning.certificates.erasure import connect_erasure as certificates
    from learning.cohorts.erasure import connect_erasure as cohorts
    from learning.mail.services import connect_erasure as mail
    from learning.outbox.services import connect_erasure as outbox
    from learning.reminders.services import connect_erasure as reminders
    from learning.sso.services import connect_erasure as sso

    for connect in (accounts, audit, certificates, cohorts, mail, outbox, reminders, sso):
        connect()
