"""Building xAPI 1.0.3 statements from the platform's learning events (plain dicts, ADL vocabulary).

A statement is built when the event is recorded, without its actor; the actor is added when it is
sent (``actor_for``), so that a person erased in between is never named to the LRS and the
identification the partner asked for (``XAPI_ACTOR``) is the one in force when it leaves.

Every statement's ``id`` is a UUID (version 5) of the platform's address, the event's kind and the
ids that make it unique, so that the same fact stated again (a retry, a re-recorded register) is
the same statement and the LRS keeps it once.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime

from flask import current_app

ADL = "http://adlnet.gov/expapi"
VERBS = {
    "registered": f"{ADL}/verbs/registered",
    "completed": f"{ADL}/verbs/completed",
    "attempted": f"{ADL}/verbs/attempted",
    "passed": f"{ADL}/verbs/passed",
    "failed": f"{ADL}/verbs/failed",
    "attended": f"{ADL}/verbs/attended",
    "earned": "http://id.tincanapi.com/verb/earned",
}
ACTIVITY_TYPES = {
    "course": f"{ADL}/activities/course",
    "lesson": f"{ADL}/activities/lesson",
    "assessment": f"{ADL}/activities/assessment",
    "meeting": f"{ADL}/activities/meeting",
    "credential": "https://w3id.org/xapi/tla/activity-types/credential",
}
#: The xAPI LMS profile (https://w3id.org/xapi/lms): its "registered to a course" template asks for this
#: activity in ``context.contextActivities.category`` (Ralph's ``LMSRegisteredCourse`` model, which claims
#: any ``registered`` statement about a course, refuses the statement without it).
LMS_PROFILE = {"objectType": "Activity", "id": "https://w3id.org/xapi/lms",
               "definition": {"type": f"{ADL}/activities/profile"}}
#: Which verbs each learning event becomes (a quiz attempt is also passed or failed).
KIND_VERBS = {
    "registered": ("registered",),
    "lesson_completed": ("completed",),
    "quiz_attempted": ("attempted", "passed|failed"),
    "course_completed": ("completed",),
    "certificate_earned": ("earned",),
    "attended": ("attended",),
}
ACTOR_MODES = ("account", "mbox")


def base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/")


def statement_id(kind: str, verb: str, ref: str) -> str:
    """The statement's stable UUID: the same platform, event and verb always give the same id."""
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"{base_url()}/xapi")
    return str(uuid.uuid5(namespace, f"{kind}|{verb}|{ref}"))


def registration_of(enrolment_id: int) -> str:
    """The xAPI ``context.registration`` (a UUID) of one enrolment: all its statements share it."""
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"{base_url()}/xapi")
    return str(uuid.uuid5(namespace, f"enrolment|{enrolment_id}"))


def timestamp(value: datetime | None) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``, as LRSs expect (naive values are taken as UTC)."""
    value = value or datetime.now(UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def activity(iri: str, kind: str, name: str | None, language: str, more_info: str | None = None) -> dict:
    definition: dict = {"type": ACTIVITY_TYPES[kind]}
    if name:
        definition["name"] = {language or "en": name}
    if more_info:
        definition["moreInfo"] = more_info
    return {"objectType": "Activity", "id": iri, "definition": definition}


def course_iri(course_id: int) -> str:
    return f"{base_url()}/xapi/activities/course/{course_id}"


def build(kind: str, verb: str, ref: str, *, enrolment_id: int, course: dict, obj: dict, occurred_at,
          result: dict | None = None, language: str = "en") -> dict:
    """One statement without its actor. ``course`` is the course activity (the parent of ``obj``
    unless ``obj`` is the course itself)."""
    context: dict = {"registration": registration_of(enrolment_id), "platform": "learning-platform",
                     "language": language or "en"}
    if obj["id"] != course["id"]:
        context["contextActivities"] = {"parent": [course]}
    elif verb == "registered":
        context["contextActivities"] = {"category": [LMS_PROFILE]}
    statement = {
        "id": statement_id(kind, verb, ref),
        "verb": {"id": VERBS[verb], "display": {"en-US": verb}},
        "object": obj,
        "context": context,
        "timestamp": timestamp(occurred_at),
    }
    if result is not None:
        statement["result"] = result
    return statement


def opaque_id(user_id: int) -> str:
    """A stable id for the person that reveals nothing: an HMAC of their id under the secret key."""
    key = (current_app.config.get("SECRET_KEY") or "").encode()
    return hmac.new(key, f"xapi-actor:{user_id}".encode(), hashlib.sha256).hexdigest()[:40]


def actor_for(user_id: int, email: str | None) -> dict:
    """The statement's actor as the partner asked: an account on this platform (default) or ``mbox``."""
    mode = current_app.config.get("XAPI_ACTOR", "account")
    if mode == "mbox" and email:
        return {"objectType": "Agent", "mbox": f"mailto:{email}"}
    return {"objectType": "Agent", "account": {"homePage": base_url(), "name": opaque_id(user_id)}}
