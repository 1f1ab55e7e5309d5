"""Background work of accounts: erasure, handled through the outbox."""

from learning.accounts.privacy import erase_user
from learning.outbox.services import handles


@handles("account.erasure_requested")
def _erase(payload: dict) -> None:
    erase_user(int(payload["user_id"]))
