"""Racing requests in tests: the same work run in several threads at once, each as its own request would
run it (its own app context, so its own session and connection), released together by a barrier."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from learning.extensions import db

T = TypeVar("T")


class Lanes:
    """What a racing thread may ask of the others: to start together, and to wait for them."""

    def __init__(self, count: int) -> None:
        self._barrier = threading.Barrier(count)
        self._done = [threading.Event() for _ in range(count)]

    def start(self) -> None:
        """Wait until every thread is ready (its objects read), then all go at once."""
        self._barrier.wait(timeout=10)

    def hold_open(self, me: int, seconds: float = 1.5) -> None:
        """Keep this thread's transaction open until the others have done their part too (the worst
        interleaving); with a row lock they are waiting for this one, so give up after ``seconds``."""
        self._done[me].set()
        for other, done in enumerate(self._done):
            if other != me:
                done.wait(timeout=seconds)


def race(app, work: Callable[[int, Lanes], T], count: int = 2, timeout: float = 60) -> list[T]:
    """Run ``work(me, lanes)`` in ``count`` threads at once and return what each returned, in order of
    ``me``. A failure in any thread is raised again here, in the test's thread."""
    lanes = Lanes(count)
    results: list = [None] * count
    failures: list[BaseException] = []

    def run(me: int) -> None:
        try:
            with app.app_context():
                try:
                    results[me] = work(me, lanes)
                finally:
                    db.session.remove()
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(me,)) for me in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a racing thread did not finish"
    if failures:
        raise failures[0]
    return results
