"""Certificates: issuing, PDF, public verification, signed credentials, revocation, expiry."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Certificates are issued by the outbox's handlers of ``enrolment.completed`` (one, or a batch)."""
    from learning.certificates import tasks
    from learning.outbox.services import register_handler

    register_handler(app, "enrolment.completed", tasks.on_enrolment_completed, batch=tasks.on_enrolments_completed)
    from learning.certificates.erasure import connect_erasure

    connect_erasure()  # the holder's name and PDF on ``user_erased``
    _warm_up_workers(app)


def _warm_up_workers(app: Flask) -> None:
    """A Celery worker renders throwaway certificates as it starts (``pdf.warm_up``), in its main
    process before its pool starts (a prefork pool's processes inherit the parsed fonts), so that its
    first learner does not wait for the fonts. Web processes and beat never send ``worker_init``."""
    import logging

    from celery.signals import worker_init

    def warm_up(sender=None, **kwargs):
        from learning.certificates.pdf import warm_up

        try:
            with app.app_context():
                seconds = warm_up()
        except Exception:  # a worker that cannot render still handles every other event
            logging.getLogger(__name__).exception("certificates: the PDF warm-up failed")
        else:
            logging.getLogger(__name__).info("certificates: PDF fonts loaded in %.2f s", seconds)

    worker_init.connect(warm_up, weak=False, dispatch_uid="learning.certificates.warm_up")
