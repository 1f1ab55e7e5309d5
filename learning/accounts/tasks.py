"""Background work of accounts: erasure, handled through the outbox."""

from celery import shared_task

from learning.accounts.privacy import apply_retention, erase_user
from learning.outbox.services import handles


@shared_task(name="accounts.apply_retention", acks_late=True)
def retention() -> int:
    """Daily: queue the erasure of accounts inactive beyond ACCOUNT_RETENTION_DAYS."""
    return apply_retention()


@handles("account.erasure_requested")
def _erase(payload: dict) -> None:
    erase_user(int(payload["user_id"]))
