"""Assignment and Grade Services 2.0: progress and the final score of a learner who came through a resource
link are posted back to the link's line item at their platform, through the outbox.

``on_learning_event`` runs inside the transaction that records the fact (a lesson done, a quiz attempt, the
course completed) and adds one ``lti.score`` outbox event per resource link of that course the person
launched whose platform gave the score scope. The event carries the score and the fact's time, never who
the person is at the platform: their ``sub`` is read when the score is sent, so erasing them (which removes
their launches) stops every score not sent yet.

The handler posts an ``application/vnd.ims.lis.v1.score+json`` to ``<line item>/scores``. Scores are
coalesced: a score with a newer one waiting for the same link and person is not sent, and one not newer
than the last the platform took is not sent again (``LtiScoreDelivery``), so a retry after a lost answer,
or the same fact stated twice, reaches the platform once. A platform down or answering 5xx: the outbox
tries again with its back-off. A 4xx (other than a 401, which gets a new token once): the event is marked
failed with the platform's answer, unless the answer says the platform holds a score at least as new
(``_platform_has_newer``: Moodle's 409, Open edX's 400), which is what a score sent again meets. Moodle
compares timestamps in whole seconds, so a score in the same second as the last one taken is sent at the
next second (``_stamp``).

What is sent: a lesson done, ``InProgress``/``Pending`` without a score; a quiz attempt, its score out of
100, ``Submitted``/``FullyGraded``; the course completed, ``Completed``/``FullyGraded`` with the best passed
quiz score (100 when the course has no quiz).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import delete, func, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from learning.accounts.models import User
from learning.extensions import db
from learning.lti import client
from learning.lti.models import LtiLinkMember, LtiResourceLink, LtiScoreDelivery
from learning.models_base import utcnow
from learning.outbox.models import OutboxEvent
from learning.outbox.services import PermanentFailure, emit

log = logging.getLogger(__name__)

EVENT_TYPE = "lti.score"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_MAXIMUM = 100
#: Facts stated in one transaction share a moment: the later kind wins a tie.
RANKS = {"lesson_completed": 1, "quiz_attempted": 2, "course_completed": 3}


# --- recording ------------------------------------------------------------------------------------

def _passes_scores(link: LtiResourceLink) -> bool:
    scopes = link.ags_scopes or []
    return client.SCORE_SCOPE in scopes and bool(
        link.ags_lineitem or link.tool_lineitem or (link.ags_lineitems and client.LINEITEM_SCOPE in scopes))


def _best_passed_score(enrolment_id: int) -> int | None:
    from learning.enrolment.models import QuizAttempt

    return db.session.scalar(select(func.max(QuizAttempt.score)).where(QuizAttempt.enrolment_id == enrolment_id,
                                                                       QuizAttempt.passed.is_(True)))


def score_of(event) -> dict | None:
    """The score (without ``userId`` and ``timestamp``) a learning event becomes, if any."""
    details = event.details or {}
    if event.kind == "lesson_completed":
        return {"activityProgress": "InProgress", "gradingProgress": "Pending"}
    if event.kind == "quiz_attempted":
        return {"scoreGiven": int(details["score"]), "scoreMaximum": SCORE_MAXIMUM,
                "activityProgress": "Submitted", "gradingProgress": "FullyGraded"}
    if event.kind == "course_completed":
        best = _best_passed_score(event.enrolment_id)
        return {"scoreGiven": best if best is not None else SCORE_MAXIMUM, "scoreMaximum": SCORE_MAXIMUM,
                "activityProgress": "Completed", "gradingProgress": "FullyGraded"}
    return None


def _utc(moment) -> datetime:
    from datetime import UTC

    moment = moment or utcnow()
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _course_may_be_linked(course_id: int) -> bool:
    """Whether a resource link may open the course (``courses.lti_linked``), told without a round trip when
    this transaction has the course's row already (the hot path's requests read it with the enrolment):
    False only if the row read says no platform ever linked the course. Unknown (the course not loaded, or
    expired): True, and the links are looked for as before.

    The flag is set in the transaction that points a link at the course (``update_linked_courses``), so a
    row read after that transaction committed says so; a row read before it is as if the learning event
    came before the launch, as it did in this transaction. It is cleared in the transaction that removes
    the course's last link (re-pointed, deleted, or its platform deleted)."""
    from learning.catalogue.content import LTI_LINKED_KEY
    from learning.catalogue.models import Course

    # The hot path reads the course as a row, not an object (``catalogue.content.note_lti_linked``; kept
    # true by ``mark_linked_courses`` once this transaction links the course).
    read = db.session.info.get(LTI_LINKED_KEY)
    if read and course_id in read:
        return read[course_id]
    course = db.session.identity_map.get(db.session.identity_key(Course, course_id))
    if course is None or "lti_linked" in sa_inspect(course).unloaded:
        return True
    return bool(course.lti_linked)


UNLINKED_KEY = "lti_courses_maybe_unlinked"


def _pointed_courses(session) -> set[int]:
    """The courses a resource link starts opening in this flush: new links, and links whose ``course_id``
    changed (a launch re-pointing one)."""
    pointed: set[int] = set()
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, LtiResourceLink):
            pointed.update(value for value in sa_inspect(obj).attrs.course_id.history.added if value is not None)
    return pointed


def note_unlinked_courses(session, flush_context, instances) -> None:
    """``before_flush``: the courses that may lose their last resource link in this flush, kept until the
    flush has run (``update_linked_courses``): the course a link is re-pointed from, a deleted link's, and
    every course a link of a platform, deployment or context deleted through the session opens (the
    database deletes those links by cascade)."""
    from learning.lti.models import LtiContext, LtiDeployment, LtiPlatform

    left: set[int] = set()
    for obj in session.dirty:
        if isinstance(obj, LtiResourceLink):
            left.update(value for value in sa_inspect(obj).attrs.course_id.history.deleted if value is not None)
    owners = {LtiPlatform: LtiResourceLink.platform_id, LtiDeployment: LtiResourceLink.deployment_id,
              LtiContext: LtiResourceLink.context_id}
    for obj in session.deleted:
        if isinstance(obj, LtiResourceLink) and obj.course_id is not None:
            left.add(obj.course_id)
        column = owners.get(type(obj))
        if column is not None and obj.id is not None:
            left.update(session.scalars(select(LtiResourceLink.course_id).where(
                column == obj.id, LtiResourceLink.course_id.is_not(None)).distinct()))
    if left:
        session.info.setdefault(UNLINKED_KEY, set()).update(left)


def update_linked_courses(session, flush_context) -> None:
    """``after_flush``: ``courses.lti_linked`` follows the resource links, in the transaction that changes them.

    Set for a course a link starts opening, after the link's row is written (so its foreign key check holds
    the course's key lock until this transaction ends). Cleared for a course whose last link went: the
    course rows are locked first (``FOR UPDATE``, which waits for any transaction still writing a link
    that names the course), then a new statement, which sees those links once committed, clears the flag
    where none is left. So a link added while another transaction removes the course's last one leaves
    the flag set, whichever commits first, and no score is ever skipped for a linked course."""
    from learning.catalogue.content import LTI_LINKED_KEY
    from learning.catalogue.models import Course

    pointed = _pointed_courses(session)
    left = session.info.pop(UNLINKED_KEY, set()) - pointed
    courses = Course.__table__
    if pointed:
        session.execute(update(courses).where(courses.c.id.in_(sorted(pointed)), courses.c.lti_linked.is_(False))
                        .values(lti_linked=True))
        for course_id in pointed:
            course = session.identity_map.get(session.identity_key(Course, course_id))
            if course is not None:
                set_committed_value(course, "lti_linked", True)
    linked_read = session.info.get(LTI_LINKED_KEY)  # what the hot path read as rows (``note_lti_linked``)
    for course_id in pointed & set(linked_read or ()):
        linked_read[course_id] = True
    if not left:
        return
    session.execute(select(courses.c.id).where(courses.c.id.in_(sorted(left))).order_by(courses.c.id)
                    .with_for_update())
    links = LtiResourceLink.__table__
    cleared = session.scalars(
        update(courses)
        .where(courses.c.id.in_(sorted(left)), courses.c.lti_linked.is_(True),
               ~select(links.c.id).where(links.c.course_id == courses.c.id).exists())
        .values(lti_linked=False).returning(courses.c.id)).all()
    for course_id in cleared:
        course = session.identity_map.get(session.identity_key(Course, course_id))
        if course is not None:
            set_committed_value(course, "lti_linked", False)
        if linked_read and course_id in linked_read:
            linked_read[course_id] = False


def on_learning_event(event) -> None:
    """Receiver of ``learning_event``: queue the score for each resource link of the course the person launched."""
    if event.kind not in RANKS or not _course_may_be_linked(event.course_id):
        return
    links = [link for link in db.session.scalars(
        select(LtiResourceLink).join(LtiLinkMember, LtiLinkMember.resource_link_id == LtiResourceLink.id)
        .where(LtiLinkMember.user_id == event.user_id, LtiResourceLink.course_id == event.course_id)
        .order_by(LtiResourceLink.id)) if _passes_scores(link)]
    if not links:
        return
    score = score_of(event)
    if score is None:
        return
    moment = _utc(event.occurred_at).isoformat(timespec="milliseconds")
    for link in links:
        emit(EVENT_TYPE, {"link_id": link.id, "user_id": event.user_id, "timestamp": moment,
                          "rank": RANKS[event.kind], "kind": event.kind, "score": score})


# --- sending --------------------------------------------------------------------------------------

def _key(payload: dict) -> tuple[datetime, int]:
    return datetime.fromisoformat(payload["timestamp"]), int(payload.get("rank") or 0)


def _superseded(payload: dict) -> bool:
    """Whether a newer score for the same link and person waits to be sent (that one will be)."""
    mine = _key(payload)
    waiting = db.session.scalars(select(OutboxEvent.payload).where(
        OutboxEvent.event_type == EVENT_TYPE, OutboxEvent.status == "pending",
        OutboxEvent.payload["link_id"].as_integer() == int(payload["link_id"]),
        OutboxEvent.payload["user_id"].as_integer() == int(payload["user_id"])))
    return any(other.get("timestamp") and _key(other) > mine for other in waiting)


def _delivery(link_id: int, user_id: int) -> LtiScoreDelivery:
    """The link's and person's delivery row, locked until this transaction ends (one sender at a time)."""
    query = select(LtiScoreDelivery).where(LtiScoreDelivery.resource_link_id == link_id,
                                           LtiScoreDelivery.user_id == user_id)
    if db.session.scalar(query) is None:
        try:
            with db.session.begin_nested():
                db.session.add(LtiScoreDelivery(resource_link_id=link_id, user_id=user_id))
                db.session.flush()
        except IntegrityError:
            pass
    return db.session.scalar(query.with_for_update().execution_options(populate_existing=True))


def _scopes(link: LtiResourceLink) -> list[str]:
    return sorted(s for s in (client.SCORE_SCOPE, client.LINEITEM_SCOPE) if s in (link.ags_scopes or []))


#: Open edX's LTI consumer (``LtiAgsScoreSerializer.validate_timestamp``) answers 400 with one of these to a
#: score whose timestamp is not later than the one it holds.
NOT_NEWER_400 = ("Score already exists for the provided timestamp",
                 "Score timestamp can only be updated to a later point in time")


def _platform_has_newer(error: client.ServiceError) -> bool:
    """Whether the platform refused the score because it holds one at least as new (so this one is delivered,
    or superseded). Moodle (``Refusing score with an earlier timestamp``, comparing whole seconds) and
    lti1p3platform answer 409 Conflict; Open edX a 400 naming the timestamp (``NOT_NEWER_400``). A score
    sent again after its answer was lost meets exactly that, and must not be marked failed."""
    return error.status == 409 or (error.status == 400 and any(text in str(error) for text in NOT_NEWER_400))


def _failure(error: client.ServiceError, what: str) -> Exception:
    if error.transient:
        return error
    return PermanentFailure(f"{what}: {error}")


def line_item(link_id: int) -> str:
    """The line item scores of the link go to: the one the launch named, else the one found or created (once)
    in the context's line items container. Committed at once (the link's row is locked meanwhile, so two
    senders never create two)."""
    link = db.session.scalar(select(LtiResourceLink).where(LtiResourceLink.id == link_id).with_for_update()
                             .execution_options(populate_existing=True))
    if link.ags_lineitem or link.tool_lineitem:
        url = link.ags_lineitem or link.tool_lineitem
        db.session.rollback()
        return url
    if not link.ags_lineitems or client.LINEITEM_SCOPE not in (link.ags_scopes or []):
        raise PermanentFailure("the platform gave this resource link no line item and no right to create one")
    platform = link.platform
    try:
        found = client.call(platform, "GET", link.ags_lineitems, _scopes(link), accept=LINEITEMS_TYPE,
                            params={"resource_link_id": link.resource_link_id}).json()
        url = next((item["id"] for item in found if isinstance(item, dict) and isinstance(item.get("id"), str)
                    and item.get("resourceLinkId") == link.resource_link_id), None) if isinstance(found, list) else None
        if url is None:
            label = link.title or link.resource_link_id
            created = client.call(platform, "POST", link.ags_lineitems, _scopes(link), accept=LINEITEM_TYPE,
                                  content_type=LINEITEM_TYPE, json_body={
                                      "scoreMaximum": SCORE_MAXIMUM, "label": label[:300],
                                      "resourceLinkId": link.resource_link_id, "tag": "grade"}).json()
            url = created.get("id") if isinstance(created, dict) else None
            if not isinstance(url, str) or not url:
                raise PermanentFailure("the platform created a line item without an id")
    except client.ServiceError as error:
        raise _failure(error, "the line item could not be found or created") from error
    except ValueError as error:
        raise PermanentFailure("the platform's line items are not JSON") from error
    link.tool_lineitem = url
    db.session.commit()
    return url


def scores_url(lineitem: str) -> str:
    """``<line item>/scores``, keeping the line item's query string where it belongs (AGS 2.0, 3.4)."""
    parts = urlsplit(lineitem)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def _stamp(payload: dict, delivery: LtiScoreDelivery) -> datetime:
    """The score's ``timestamp``: the fact's own time, unless that is not a whole second later than the
    ``timestamp`` last sent for the same link and person. Moodle compares in whole seconds and answers 409
    to a score not later than the grade's, so such a score is sent at the next whole second after the last
    one sent (it is later than that one by our order: ``post_score`` checked it)."""
    moment = _key(payload)[0]
    last = delivery.sent_stamp or delivery.sent_timestamp
    if last is None:
        return moment
    last_second = _utc(last).replace(microsecond=0)
    if moment.replace(microsecond=0) > last_second:
        return moment
    return last_second + timedelta(seconds=1)


def post_score(payload: dict) -> None:
    """The outbox handler of ``lti.score``: the score to the platform, unless it is not needed any more."""
    if not payload.get("score"):
        return  # emptied by erasure
    link_id, user_id = int(payload["link_id"]), int(payload["user_id"])
    link = db.session.get(LtiResourceLink, link_id)
    member = db.session.get(LtiLinkMember, (link_id, user_id))
    user = db.session.get(User, user_id)
    if link is None or member is None or user is None or user.erased_at is not None:
        return  # the link is gone, or the person was erased: nothing more is said about them
    if not link.platform.enabled:
        raise PermanentFailure(f"the platform “{link.platform.name}” is disabled here; enable it, then retry")
    if _superseded(payload):
        return
    url = line_item(link_id)
    link = db.session.get(LtiResourceLink, link_id)
    member = db.session.get(LtiLinkMember, (link_id, user_id))
    if member is None:
        return
    delivery = _delivery(link_id, user_id)
    moment, rank = _key(payload)
    if delivery.sent_timestamp is not None and (_utc(delivery.sent_timestamp), delivery.sent_rank or 0) >= (moment, rank):
        return  # the platform has this score, or a newer one
    stamp = _stamp(payload, delivery)
    body = {**payload["score"], "userId": member.identity.subject,
            "timestamp": payload["timestamp"] if stamp == moment else stamp.isoformat(timespec="milliseconds")}
    try:
        client.call(link.platform, "POST", scores_url(url), _scopes(link), json_body=body, content_type=SCORE_TYPE)
    except client.ServiceError as error:
        if not _platform_has_newer(error):
            raise _failure(error, "the platform refused the score") from error
        log.info("lti: the platform holds a score at least as new for link %s (%s)", link_id, str(error)[:200])
    delivery.sent_timestamp, delivery.sent_rank, delivery.sent_at = moment, rank, utcnow()
    delivery.sent_stamp = stamp


# --- erasure --------------------------------------------------------------------------------------

def _on_user_erased(person) -> None:
    """Scores not sent yet are never sent (their payloads emptied), and the delivery records go."""
    db.session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.event_type == EVENT_TYPE, OutboxEvent.status != "done",
               OutboxEvent.payload["user_id"].as_integer() == person.user_id)
        .values(status="done", processed_at=utcnow(), payload={}, last_error="dropped: the person was erased")
        .execution_options(synchronize_session=False))
    db.session.execute(delete(LtiScoreDelivery).where(LtiScoreDelivery.user_id == person.user_id))


def connect() -> None:
    from learning.extensions import listen_on_session
    from learning.signals import learning_event, user_erased

    listen_on_session("before_flush", note_unlinked_courses)
    listen_on_session("after_flush", update_linked_courses)
    learning_event.connect(on_learning_event)
    user_erased.connect(_on_user_erased)
