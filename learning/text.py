"""Text that must stay on one line: titles, names, and every e-mail header built from them.

A title or a name is shown in page headings, CSV exports, PDF certificates and
e-mail subjects. A line break or another control character in one would break
them (an e-mail header cannot hold CR/LF, so every mail naming such a course
would fail on every retry) or smuggle something in. Inputs are cleaned with
``single_line`` where they are validated, and the mail layer cleans again with
it, so that data stored before this rule cannot break a message either.
"""

from __future__ import annotations

import re

# C0 and C1 control characters, DEL, and the Unicode line and paragraph separators.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def single_line(value: object) -> str:
    """``value`` as one line: control characters (CR, LF, tab...) become spaces, runs of spaces one, no
    spaces at either end."""
    return " ".join(CONTROL_CHARACTERS.sub(" ", str(value)).split())
