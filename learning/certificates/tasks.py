"""Background work of certificates: the outbox handler that issues them.

A completion (by a learner, or a trainer's sign-off; a cohort's close signs
off every member at once) writes one ``enrolment.completed`` event per
enrolment; the ``outbox.process`` task runs this handler for each, on as many
workers as there are. ``issue_certificate`` is idempotent, so a repeated or
interrupted event still gives exactly one certificate.
"""

from __future__ import annotations

from learning.certificates.services import issue_certificate
from learning.outbox.services import handles


@handles("enrolment.completed")
def on_enrolment_completed(payload: dict) -> None:
    issue_certificate(int(payload["enrolment_id"]))
