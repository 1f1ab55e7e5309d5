"""Erasure of a person (DESIGN.md rule 8): their pending requests to join an organisation end.

A request still waiting for a manager's decision is withdrawn when its person is erased: nobody is
left to confirm as a member, and the manager's queue must not keep an empty name. Decided requests
stay as they are (anonymous facts: an id, an organisation, a status, dates).
"""

from __future__ import annotations

from sqlalchemy import update

from learning.extensions import db
from learning.models_base import utcnow
from learning.organisations.models import JoinRequest
from learning.signals import ErasedPerson, user_erased


def withdraw_pending_requests(person: ErasedPerson) -> None:
    """The erased person's pending join requests become ``withdrawn`` (in the erasure's transaction)."""
    db.session.execute(update(JoinRequest)
                       .where(JoinRequest.user_id == person.user_id, JoinRequest.status == "pending")
                       .values(status="withdrawn", decided_at=utcnow()))


def connect_erasure() -> None:
    user_erased.connect(withdraw_pending_requests)
