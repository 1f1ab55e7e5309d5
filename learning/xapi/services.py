"""Turning learning events into outbox events, and sending them to the LRS in batches.

``on_learning_event`` runs inside the transaction that records the fact (DESIGN.md rule 1) and
adds one ``xapi.statement`` outbox event per statement; the outbox publishes them after commit,
in batches of ``OUTBOX_BATCH_SIZE``, and retries them with its back-off when the LRS is down or
answers 5xx. Statements carry stable ids, so a batch sent twice (the LRS stored it but the answer
was lost) is kept once (Ralph answers 204 to statements it already has); a 409 Conflict, an id
held with another statement, counts as delivered and is logged.

Erasure (DESIGN.md rule 8): the person's statements not yet sent are dropped (marked done, their
payload emptied) and a statement of an erased person is never sent, even if it was queued before.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import urllib.error
import urllib.request

from flask import current_app
from sqlalchemy import select, update

from learning.accounts.models import User
from learning.catalogue.models import Course, CourseTranslation, Lesson
from learning.extensions import db
from learning.models_base import utcnow
from learning.outbox.models import OutboxEvent
from learning.outbox.services import emit
from learning.signals import LearningEvent
from learning.xapi import statements as xs

log = logging.getLogger(__name__)

EVENT_TYPE = "xapi.statement"
#: After the LRS failed (unreachable, timed out, 5xx), requests to it in this process fail at once for
#: this many seconds: the outbox retries a failed batch one event at a time, and fifty requests each
#: waiting ``XAPI_TIMEOUT`` for a hung LRS would hold a worker for minutes. Shorter than the outbox's
#: first back-off (10 s), so a real retry always reaches the LRS.
PAUSE_AFTER_FAILURE = 5.0
_paused_until: dict[str, tuple[float, str]] = {}  # endpoint -> (time.monotonic() until, why)


class XapiDeliveryError(RuntimeError):
    """The LRS did not take the statements (down, 5xx, or refused them); the outbox retries later.

    ``transient``: the LRS is down or failing (not a refusal of these statements)."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def enabled() -> bool:
    return bool(current_app.config.get("XAPI_ENDPOINT"))


# --- recording ------------------------------------------------------------------------------------

_COURSES = "xapi_course_activities"  # per transaction: a cohort's sign-off states many facts of one course


def forget_course_activities(session, *_args) -> None:
    """After commit or rollback (attached by ``learning.xapi.init_app``): a course renamed later is read afresh."""
    session.info.pop(_COURSES, None)


def _course_activity(course_id: int) -> tuple[dict, str]:
    cache = db.session.info.setdefault(_COURSES, {})
    if course_id not in cache:
        cache[course_id] = _read_course_activity(course_id)
    activity, language = cache[course_id]
    return dict(activity), language


def _read_course_activity(course_id: int) -> tuple[dict, str]:
    course = db.session.get(Course, course_id)
    title = db.session.scalar(select(CourseTranslation.title).where(
        CourseTranslation.course_id == course_id, CourseTranslation.language == course.language).limit(1))
    more_info = f"{xs.base_url()}/courses/{course.slug}"
    return xs.activity(xs.course_iri(course_id), "course", title or course.slug, course.language, more_info), \
        course.language


def statements_of(event: LearningEvent) -> list[dict]:
    """The statements (without actor) that one learning event becomes."""
    course, language = _course_activity(event.course_id)
    details = event.details or {}
    common = {"enrolment_id": event.enrolment_id, "course": course, "occurred_at": event.occurred_at,
              "language": language}
    kind = event.kind
    if kind in ("registered", "course_completed"):
        verb = "registered" if kind == "registered" else "completed"
        result = {"completion": True} if kind == "course_completed" else None
        return [xs.build(kind, verb, event.ref, obj=course, result=result, **common)]
    if kind == "lesson_completed":
        lesson = db.session.get(Lesson, details["lesson_id"])
        obj = xs.activity(f"{course['id']}/lesson/{lesson.id}", "lesson", lesson.title, language)
        return [xs.build(kind, "completed", event.ref, obj=obj, result={"completion": True}, **common)]
    if kind == "quiz_attempted":
        obj = xs.activity(f"{course['id']}/quiz", "assessment", None, language)
        obj["definition"]["name"] = {"en": "Quiz"}
        score = int(details["score"])
        result = {"score": {"scaled": round(score / 100, 4), "raw": score, "min": 0, "max": 100},
                  "success": bool(details["passed"]), "completion": True}
        outcome = "passed" if details["passed"] else "failed"
        return [xs.build(kind, "attempted", event.ref, obj=obj, result=result, **common),
                xs.build(kind, outcome, event.ref, obj=obj, result=result, **common)]
    if kind == "certificate_earned":
        obj = xs.activity(details["certificate_url"], "credential", None, language)
        return [xs.build(kind, "earned", event.ref, obj=obj, **common)]
    if kind == "attended":
        obj = xs.activity(f"{course['id']}/session/{details['session_id']}", "meeting",
                          details.get("session_title") or None, language)
        return [xs.build(kind, "attended", event.ref, obj=obj, **common)]
    raise ValueError(f"unknown learning event kind {kind!r}")


def _erased_or_gone(user_id: int) -> bool:
    """Whether the person is erased (or no longer exists): the session's ``User`` if it holds one, else their
    ``erased_at`` alone. The learner's hot routes hold no ``User`` (their caller is a ``TokenCaller``,
    docs/PERFORMANCE.md "hotpath6"), and loading one would read the person, their organisation and roles."""
    held = db.session.identity_map.get((User, (user_id,), None))
    if held is not None:
        return held.erased_at is not None
    row = db.session.execute(select(User.erased_at).where(User.id == user_id)).one_or_none()
    return row is None or row[0] is not None


def on_learning_event(event: LearningEvent) -> None:
    """Receiver of ``learning_event``: queue the event's statements in the caller's transaction."""
    if not enabled():
        return
    if _erased_or_gone(event.user_id):  # nothing new is said about an erased person
        return
    for statement in statements_of(event):
        emit(EVENT_TYPE, {"user_id": event.user_id, "statement_id": statement["id"], "statement": statement})


# --- sending --------------------------------------------------------------------------------------

def _post(statements: list[dict]) -> int:
    """POST the statements as one JSON array; the HTTP status (a connection failure raises)."""
    config = current_app.config
    endpoint = config["XAPI_ENDPOINT"]
    until, why = _paused_until.get(endpoint, (0.0, ""))
    if time.monotonic() < until:
        raise XapiDeliveryError(f"{why} (moments ago; not asked again before the next retry)", transient=True)
    try:
        return _request(statements)
    except XapiDeliveryError as exc:
        if exc.transient:
            _paused_until[endpoint] = (time.monotonic() + PAUSE_AFTER_FAILURE, str(exc)[:300])
        raise


def _request(statements: list[dict]) -> int:
    config = current_app.config
    request = urllib.request.Request(
        f"{config['XAPI_ENDPOINT']}/statements", data=json.dumps(statements).encode(), method="POST",
        headers={"Content-Type": "application/json", "X-Experience-API-Version": "1.0.3"})
    if config.get("XAPI_USERNAME") or config.get("XAPI_PASSWORD"):
        token = base64.b64encode(f"{config['XAPI_USERNAME']}:{config['XAPI_PASSWORD']}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=config.get("XAPI_TIMEOUT", 10)) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        body = exc.read(500).decode("utf-8", "replace")
        if exc.code == 409:
            return 409
        raise XapiDeliveryError(f"LRS answered {exc.code}: {body}", transient=exc.code >= 500) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise XapiDeliveryError(f"LRS unreachable: {exc}", transient=True) from exc


def deliver(statements: list[dict]) -> None:
    """Send statements; returns once the LRS has every one of them, else raises ``XapiDeliveryError``.

    An LRS answers a batch of statements it already has with 204 (Ralph) or 200, storing only the new
    ones. A 409 for a batch means one of its ids is held with a different statement (and the LRS then
    stores none of the batch), so the batch is sent again one statement at a time; a 409 for a single
    statement means the LRS holds another statement under that id (``_conflict_is_kept``).
    """
    if not statements:
        return
    status = _post(statements)
    if status == 409 and len(statements) > 1:
        for statement in statements:
            _conflict_is_kept(statement, _post([statement]))
    else:
        _conflict_is_kept(statements[0], status)


def _conflict_is_kept(statement: dict, status: int) -> None:
    """A 409 for one statement: the LRS holds a *different* statement under its id (xAPI 1.0.3; Ralph
    answers 204 to the same statement sent again). Sending it again cannot succeed, so it counts as
    delivered, and the LRS's copy stays; said in the log, since what the LRS holds is not what was sent
    (the actor changed with ``XAPI_ACTOR``, or another site with the same ``PUBLIC_BASE_URL`` sent it)."""
    if status == 409:
        log.warning("xapi: the LRS holds another statement under id %s; its copy is kept", statement.get("id"))


def send_statements(payloads: list[dict]) -> None:
    """The batch handler: every payload's statement, with its actor, in one POST (erased people skipped)."""
    if not enabled():
        raise XapiDeliveryError("XAPI_ENDPOINT is not set; the statements wait until it is")
    user_ids = {int(p["user_id"]) for p in payloads if p.get("statement")}
    people = {row.id: row for row in db.session.execute(
        select(User.id, User.email, User.erased_at).where(User.id.in_(user_ids)))} if user_ids else {}
    batch: list[dict] = []
    seen: set[str] = set()
    for payload in payloads:
        person = people.get(int(payload.get("user_id") or 0))
        statement = payload.get("statement")
        if not statement or person is None or person.erased_at is not None or statement["id"] in seen:
            continue  # dropped by erasure, or the same statement twice in one batch (an LRS refuses that)
        seen.add(statement["id"])
        batch.append({**statement, "actor": xs.actor_for(person.id, person.email)})
    deliver(batch)


def send_one(payload: dict) -> None:
    """The single handler (a batch of one, or the fallback after a failed batch)."""
    send_statements([payload])


# --- erasure --------------------------------------------------------------------------------------

def _drop_pending(person) -> None:
    """Erasure: the person's statements not sent yet are never sent; their payloads are emptied."""
    db.session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.event_type == EVENT_TYPE, OutboxEvent.status != "done",
               OutboxEvent.payload["user_id"].as_integer() == person.user_id)
        .values(status="done", processed_at=utcnow(), payload={}, last_error="dropped: the person was erased")
        .execution_options(synchronize_session=False)
    )


def connect_erasure() -> None:
    from learning.signals import user_erased

    user_erased.connect(_drop_pending)
