"""Celery tasks of reminders: thin wrappers over the services.

``reminders.run`` is on the beat schedule (``learning/celery_app.py``): it claims
what is due, gathers it into digests and queues them in batches. Each
``reminders.send_batch`` delivers its digests and retries, with backoff, only
those the SMTP server refused. A digest whose retries run out stays pending in
the database and the next beat run queues it again: nothing is lost.

``certificate.issued`` (an outbox event written with the certificate) sends the
"your certificate is ready" notification at once, in daytime (``notifications``).
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import MaxRetriesExceededError

from learning.celery_app import bulk_queue
from learning.models_base import utcnow
from learning.reminders import delivery, notifications, services

log = logging.getLogger(__name__)

MAX_RETRIES = 6


@shared_task(name="reminders.run", acks_late=True)
def run() -> dict:
    """Plan the due reminders now and queue every digest whose time has come."""
    now = utcnow()
    counts = services.plan(now)
    ids = services.take_due_digests(now)
    bulk = bulk_queue(run.app.conf.task_default_queue)  # behind nobody's own event (celery_app.bulk_queue)
    for batch in services.batches(ids, services.batch_size()):
        send_batch.apply_async(args=[batch], queue=bulk)
    counts["queued"] = len(ids)
    return counts


@shared_task(name="reminders.send_batch", bind=True, acks_late=True, reject_on_worker_lost=True,
             max_retries=MAX_RETRIES)
def send_batch(self, digest_ids: list[int]) -> int:
    """Deliver a batch of digests; retry the refused ones later; how many were refused."""
    failed = delivery.send_digests(digest_ids, utcnow())
    if failed:
        countdown = delivery.backoff(self.request.retries + 1).total_seconds()
        try:
            raise self.retry(args=[failed], countdown=countdown)
        except MaxRetriesExceededError:
            log.warning("reminders: %s digest(s) still refused; the beat run will try them again", len(failed))
    return len(failed)


def on_certificates_issued(payload: dict) -> None:
    """The outbox handler of ``certificate.issued`` (registered by ``learning.reminders.init_app``):
    announce freshly issued certificates now (daytime holders); SMTP refusals retry like digests."""
    now = utcnow()
    digest_ids = notifications.claim_notifications([int(i) for i in payload["certificate_ids"]], now)
    failed = delivery.send_digests(digest_ids, now)
    if failed:
        try:
            send_batch.apply_async(args=[failed], countdown=delivery.backoff(1).total_seconds())
        except Exception as exc:  # broker down: they stay pending and the beat run queues them
            log.warning("reminders: could not queue %s refused notification(s) (%s)", len(failed), exc)
