"""The catalogue: courses, translations, modules, lessons, quizzes, publishing."""

from flask import Flask


def init_app(app: Flask) -> None:
    """The hook that raises a course's content version with every change of its content, so that
    what each process keeps of a course (``learning.catalogue.content``) is never stale."""
    from learning.catalogue import content
    from learning.extensions import listen_on_session

    listen_on_session("before_flush", content.bump_content_versions)
    listen_on_session("after_transaction_end", content.transaction_ended)
