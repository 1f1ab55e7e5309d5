"""Background work of accounts: erasure, handled through the outbox."""

from celery import shared_task

from learning.accounts.privacy import apply_retention, erase_user
from learning.accounts.sessions import prune_sign_in_records


@shared_task(name="accounts.apply_retention", acks_late=True)
def retention() -> int:
    """Daily: queue the erasure of accounts inactive beyond ACCOUNT_RETENTION_DAYS."""
    return apply_retention()


@shared_task(name="accounts.prune_sign_in_records", acks_late=True)
def prune_sign_ins() -> int:
    """Hourly: forget old failed sign-ins (with their addresses) and finished sessions."""
    return prune_sign_in_records()


def erase_requested(payload: dict) -> None:
    """The outbox handler of ``account.erasure_requested`` (registered by ``learning.accounts.init_app``)."""
    erase_user(int(payload["user_id"]))
