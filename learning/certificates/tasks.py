"""Background work of certificates: the outbox handlers that issue them.

A completion (by a learner, or a trainer's sign-off; a cohort's close signs
off every member at once) writes one ``enrolment.completed`` event per
enrolment. A single event runs ``on_enrolment_completed`` in an
``outbox.process`` task; events committed together (a cohort's close) are
published in chunks of ``OUTBOX_BATCH_SIZE`` and each chunk runs
``on_enrolments_completed`` in one ``outbox.process_batch`` task and one
transaction, on as many workers as there are. Issuing is idempotent either
way, so a repeated or interrupted event still gives exactly one certificate;
a batch that fails is issued again one event at a time. Registered by ``learning.certificates.init_app``.
"""

from __future__ import annotations

from learning.certificates.services import issue_certificate, issue_certificates


def on_enrolment_completed(payload: dict) -> None:
    issue_certificate(int(payload["enrolment_id"]))


def on_enrolments_completed(payloads: list[dict]) -> None:
    issue_certificates([int(payload["enrolment_id"]) for payload in payloads])
