"""Revocation published as W3C Bitstring Status Lists.

Each certificate gets a random position (``status_list_index``) in one of
the lists, so that a list reveals nothing about the order of issue; list
``n`` holds positions ``n * LIST_SIZE`` to ``(n + 1) * LIST_SIZE - 1`` and
has the bit of each revoked certificate set. ``LIST_SIZE`` is the
specification's minimum of 131,072 entries, for herd privacy.
"""

from __future__ import annotations

import base64
import gzip
import secrets

from sqlalchemy import func, select

from learning.certificates.models import Certificate
from learning.extensions import db

LIST_SIZE = 131_072
# Positions are drawn from enough lists to keep them at most a quarter full,
# so that a random draw rarely meets a taken position.
MAX_FILL = 4


def _positions(upcoming: int) -> int:
    """How many positions to draw from, with ``upcoming`` more certificates about to be issued."""
    # The highest id bounds the number issued (certificates are never deleted) and, unlike COUNT(*),
    # is read from the primary key's index in constant time however many there are.
    issued = (db.session.scalar(select(func.max(Certificate.id))) or 0) + upcoming
    return max(1, (issued * MAX_FILL) // LIST_SIZE + 1) * LIST_SIZE


def random_index() -> int:
    """A random free-looking position; the unique constraint decides if it is really free."""
    return secrets.randbelow(_positions(0))


def random_indices(count: int) -> list[int]:
    """``count`` distinct random positions for certificates issued together, none of them taken.

    Unlike one certificate, which simply draws again when the unique constraint refuses its
    position, a batch would have to start over: at a quarter full, one draw in four meets a taken
    position. So the drawn positions are checked against the certificates (one query) and the taken
    ones drawn again; only a certificate issued at the same moment elsewhere can still collide.
    """
    if count <= 0:
        return []
    positions = _positions(count)
    chosen: set[int] = set()
    for _round in range(10):
        drawn = set()
        while len(drawn) < count - len(chosen):
            index = secrets.randbelow(positions)
            if index not in chosen:
                drawn.add(index)
        taken = set(db.session.scalars(
            select(Certificate.status_list_index).where(Certificate.status_list_index.in_(sorted(drawn)))))
        chosen |= drawn - taken
        if len(chosen) == count:
            break
    while len(chosen) < count:  # (never in practice) the unique constraint decides, as for one
        chosen.add(secrets.randbelow(positions))
    indices = list(chosen)
    secrets.SystemRandom().shuffle(indices)  # not in numeric order: positions say nothing of the order of issue
    return indices


def list_number_of(index: int) -> int:
    return index // LIST_SIZE


def position_in_list(index: int) -> int:
    return index % LIST_SIZE


def revoked_positions(list_number: int) -> list[int]:
    """Positions of revoked certificates in one list."""
    start = list_number * LIST_SIZE
    rows = db.session.scalars(
        select(Certificate.status_list_index).where(
            Certificate.revoked_at.is_not(None),
            Certificate.status_list_index >= start,
            Certificate.status_list_index < start + LIST_SIZE,
        )
    )
    return [index - start for index in rows]


def list_exists(list_number: int) -> bool:
    """Whether any certificate points to this list."""
    start = list_number * LIST_SIZE
    if start > 2**31 - 1:  # beyond the INTEGER column status_list_index: no certificate is there
        return False
    return db.session.scalar(
        select(Certificate.id).where(
            Certificate.status_list_index >= start, Certificate.status_list_index < start + LIST_SIZE
        ).limit(1)
    ) is not None


def encode_bits(positions: list[int], size: int = LIST_SIZE) -> str:
    """The ``encodedList``: multibase base64url (``u``) of the GZIP of the bitstring.

    Position 0 is the left-most (most significant) bit of the first byte.
    """
    bits = bytearray(size // 8)
    for position in positions:
        bits[position // 8] |= 0x80 >> (position % 8)
    compressed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode()


def decode_bits(encoded: str) -> bytes:
    """The bitstring of an ``encodedList`` (for tests and tools)."""
    data = encoded[1:] if encoded.startswith("u") else encoded
    return gzip.decompress(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
