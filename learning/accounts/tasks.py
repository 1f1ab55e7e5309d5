"""Background work of accounts: erasure, handled through the outbox."""

from celery import shared_task

from learning.accounts.privacy import apply_retention, erase_user


@shared_task(name="accounts.apply_retention", acks_late=True)
def retention() -> int:
    """Daily: queue the erasure of accounts inactive beyond ACCOUNT_RETENTION_DAYS."""
    return apply_retention()


def erase_requested(payload: dict) -> None:
    """The outbox handler of ``account.erasure_requested`` (registered by ``learning.accounts.init_app``)."""
    erase_user(int(payload["user_id"]))
