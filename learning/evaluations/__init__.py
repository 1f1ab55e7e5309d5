"""Evaluations: the form a learner may fill in after completing a course, and its anonymous report."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Erasure: the person's evaluations are detached and their texts blanked (``services.forget_person``)."""
    from learning.evaluations.services import connect_erasure

    connect_erasure()
