"""Background work of accounts: erasure, handled through the outbox."""

from celery import shared_task

from learning.accounts.privacy import apply_retention, erase_user
from learning.accounts.sessions import prune_sign_in_records
from learning.outbox.services import handles


@shared_task(name="accounts.apply_retention", acks_late=True)
def retention() -> int:
    """Daily: queue the erasure of accounts inactive beyond ACCOUNT_RETENTION_DAYS."""
    return apply_retention()


@shared_task(name="accounts.prune_sign_in_records", acks_late=True)
def prune_sign_ins() -> int:
    """Hourly: forget old failed sign-ins (with their addresses) and finished sessions."""
    return prune_sign_in_records()


@handles("account.erasure_requested")
def _erase(payload: dict) -> None:
    erase_user(int(payload["user_id"]))
