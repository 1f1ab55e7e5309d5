"""Celery tasks of the outbox: thin wrappers over its services."""

from celery import shared_task

from learning.outbox import services


@shared_task(name="outbox.process", acks_late=True, reject_on_worker_lost=True)
def process_event(event_id: int) -> str:
    return services.process(event_id)


@shared_task(name="outbox.sweep", acks_late=True)
def sweep() -> int:
    return services.sweep()


@shared_task(name="outbox.process_batch", acks_late=True, reject_on_worker_lost=True)
def process_batch(event_ids: list[int]) -> dict[str, int]:
    return services.process_batch(event_ids)
