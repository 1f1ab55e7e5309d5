"""Named signals between features, so that no feature reaches into another's tables.

``user_erased`` is sent by ``accounts.privacy.erase_user`` inside the erasure's
transaction, after the user row itself is anonymised and before the commit.
Each feature that keeps something about a person connects a receiver from its
own module and removes or scrubs its own copies (DESIGN.md rule 8); a receiver
changes the session but never commits, and an exception in one rolls the whole
erasure back so that the outbox retries it.

Receivers are connected explicitly by each feature's ``init_app`` (called by
``create_app``'s ``register_features``), not by importing a module for its side
effects; connecting the same receiver twice is harmless.
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

#: Sent with a ``LearningEvent`` as the sender inside the transaction that records the fact
#: (enrolled, completed a lesson, attempted a quiz, ...). Receivers (``learning.xapi``) may add
#: rows to the session, e.g. an outbox event, but never commit.
learning_event = signals.signal("learning-event")

ERASED = "[erased]"


@dataclass(frozen=True)
class LearningEvent:
    """One fact of a learner's journey, as the feature that records it states it.

    ``kind`` is one of ``registered``, ``lesson_completed``, ``quiz_attempted``,
    ``course_completed``, ``certificate_earned``, ``attended``; ``ref`` is the id that makes the
    fact unique within its kind (the enrolment, the lesson, the attempt, the session ...), so that
    the same fact stated twice is recognisably the same.
    """

    kind: str
    user_id: int
    course_id: int
    enrolment_id: int
    ref: str
    occurred_at: Any = None
    details: dict | None = None


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
