"""Assignment and Grade Services against the real platform of tests/lti_platform.py, the outbox's events
handled here one by one (``outbox.services.process``) as the worker would (test_ags_worker.py does it with a
real worker): the client assertion and the token, progress and the final score, coalescing and duplicates,
the platform down and back, a 401, a refusal, a line item created once, erasure."""

from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from learning.accounts.models import User
from learning.enrolment import services as enrolment_services
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.lti import ags
from learning.lti import client as lti_client
from learning.lti.models import LtiResourceLink, LtiScoreDelivery
from learning.lti.removal import remove_platform
from learning.outbox import services as outbox
from learning.outbox.models import OutboxEvent
from tests import factories
from tests.lti.conftest import launch
from tests.lti_platform import LEARNER


@pytest.fixture(autouse=True)
def _fresh_tokens():
    lti_client._tokens.clear()
    yield
    lti_client._tokens.clear()


def score_events(status: str | None = "pending") -> list[OutboxEvent]:
    db.session.expire_all()
    query = select(OutboxEvent).where(OutboxEvent.event_type == ags.EVENT_TYPE).order_by(OutboxEvent.id)
    if status:
        query = query.where(OutboxEvent.status == status)
    return list(db.session.scalars(query))


def deliver() -> list[str]:
    """Every pending score event handled once, in order, as the worker would."""
    ids = [event.id for event in score_events()]
    db.session.rollback()
    return [outbox.process(event_id) for event_id in ids]


def launched(client_, lms, user="ana", **link):
    course = factories.course()
    response = launch(client_, lms, user, lms.resource_link(custom={"course": course.slug}, **link))
    assert response.status_code == 302, response.get_data(as_text=True)
    person = db.session.scalar(select(User).where(User.email == lms.users[user]["email"]))
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.user_id == person.id))
    return course, enrolment


def lessons_of(course) -> list[int]:
    return [lesson.id for module in course.modules for lesson in module.lessons]


def answers(course, right: int) -> dict:
    """Answers to the quiz with ``right`` of them right."""
    chosen = {}
    for number, question in enumerate(course.quiz.questions):
        chosen[str(question.id)] = next(c.id for c in question.choices if c.correct is (number < right))
    return chosen


def finish(enrolment, course, right: int = 2) -> None:
    for lesson_id in lessons_of(course):
        enrolment_services.complete_lesson(enrolment, lesson_id)
    enrolment_services.submit_quiz(enrolment, answers(course, right))
    db.session.commit()


def test_the_client_assertion_is_signed_with_the_tools_key_and_names_the_tool(client, registered, lms):
    assertion = lti_client.client_assertion(registered)
    claims = jwt.decode(assertion, KeySet.import_key_set(lms.tool_jwks()), algorithms=["RS256"]).claims
    assert claims["iss"] == claims["sub"] == lms.client_id and claims["aud"] == f"{lms.url}/token"
    assert claims["exp"] - claims["iat"] <= 300 and len(claims["jti"]) >= 20
    assert lms.check_client_assertion(assertion) is None
    assert lms.check_client_assertion(assertion) == "invalid claims: ['jti']"  # a replay is refused


def test_a_finished_course_reaches_the_platform_once_with_the_quiz_score(client, registered, lms):
    course, enrolment = launched(client, lms)
    finish(enrolment, course, right=1)  # 50: the pass mark
    events = score_events()
    assert [e.payload["kind"] for e in events] == ["lesson_completed", "lesson_completed", "quiz_attempted",
                                                   "course_completed"]
    assert "moodle-user-17" not in str([e.payload for e in events])  # the subject is read when sending
    assert deliver() == ["done"] * 4
    [score] = lms.scores_for("moodle-user-17")  # the three older ones were superseded before they were sent
    assert score["activityProgress"] == "Completed" and score["gradingProgress"] == "FullyGraded"
    assert (score["scoreGiven"], score["scoreMaximum"]) == (50, 100)
    assert score["timestamp"] == events[-1].payload["timestamp"]
    assert lms.results[("link-1", "moodle-user-17")] == score
    assert len(lms.token_requests) == 1 and lms.token_refusals == []
    assert set(lms.token_requests[0]["scope"].split()) == {lti_client.SCORE_SCOPE, lti_client.LINEITEM_SCOPE}
    assert deliver() == [] and len(lms.score_posts) == 1


def test_progress_is_posted_as_it_happens_then_the_final_score(client, registered, lms):
    course, enrolment = launched(client, lms)
    first, second = lessons_of(course)
    enrolment_services.complete_lesson(enrolment, first)
    db.session.commit()
    deliver()
    [progress] = lms.scores_for("moodle-user-17")
    assert progress["activityProgress"] == "InProgress" and progress["gradingProgress"] == "Pending"
    assert "scoreGiven" not in progress
    enrolment_services.submit_quiz(enrolment, answers(course, 0))  # failed: its score is a grade all the same
    db.session.commit()
    deliver()
    attempt = lms.scores_for("moodle-user-17")[-1]
    assert (attempt["activityProgress"], attempt["gradingProgress"], attempt["scoreGiven"]) == \
        ("Submitted", "FullyGraded", 0)
    enrolment_services.complete_lesson(enrolment, second)
    enrolment_services.submit_quiz(enrolment, answers(course, 2))
    db.session.commit()
    deliver()
    final = lms.scores_for("moodle-user-17")[-1]
    assert (final["activityProgress"], final["scoreGiven"]) == ("Completed", 100)
    assert len(lms.score_posts) == 3 and len(lms.token_requests) == 1  # the token is cached


def test_a_course_without_quiz_completes_with_full_marks(client, registered, lms):
    course = factories.course(quiz=None)
    launch(client, lms, "ana", lms.resource_link(custom={"course": course.slug}))
    enrolment = db.session.scalar(select(Enrolment))
    for lesson_id in lessons_of(course):
        enrolment_services.complete_lesson(enrolment, lesson_id)
    db.session.commit()
    deliver()
    [score] = lms.scores_for("moodle-user-17")
    assert (score["activityProgress"], score["gradingProgress"], score["scoreGiven"]) == ("Completed", "FullyGraded", 100)


def test_the_same_event_twice_or_handled_twice_posts_one_score(client, registered, lms):
    course, enrolment = launched(client, lms)
    finish(enrolment, course)
    last = score_events()[-1]
    outbox.emit(ags.EVENT_TYPE, dict(last.payload))  # the same fact stated again
    db.session.commit()
    deliver()
    assert len(lms.score_posts) == 1
    db.session.execute(OutboxEvent.__table__.update().where(OutboxEvent.id == last.id).values(status="pending"))
    db.session.commit()
    assert outbox.process(last.id) == "done"  # handled again (a worker lost the answer): nothing sent
    assert len(lms.score_posts) == 1


@pytest.mark.parametrize("how", ["refused", 503])
def test_a_platform_down_gets_the_score_later_once(client, registered, lms, how):
    course, enrolment = launched(client, lms)
    lms.go_down(how)
    try:
        finish(enrolment, course)
        assert set(deliver()) <= {"done", "failed"}
        [waiting] = score_events()
        assert waiting.attempts == 1 and waiting.status == "pending" and waiting.next_attempt_at > waiting.created_at
        assert ("unreachable" if how == "refused" else "503") in waiting.last_error
        assert lms.score_posts == []
    finally:
        lms.come_back()
    assert deliver() == ["done"]
    assert len(lms.score_posts) == 1 and lms.scores_for("moodle-user-17")[0]["activityProgress"] == "Completed"
    assert deliver() == []


def test_a_revoked_token_is_replaced_once(client, registered, lms):
    course, enrolment = launched(client, lms)
    first, second = lessons_of(course)
    enrolment_services.complete_lesson(enrolment, first)
    db.session.commit()
    deliver()
    lms.revoke_tokens()
    enrolment_services.complete_lesson(enrolment, second)
    db.session.commit()
    assert deliver() == ["done"]
    assert len(lms.token_requests) == 2 and len(lms.score_posts) == 2


def test_a_refused_score_is_marked_failed_at_once_with_the_platforms_answer(client, registered, lms):
    course, enrolment = launched(client, lms)
    lms.refuse_scores = 422
    finish(enrolment, course)
    deliver()
    [failed] = score_events("failed")
    assert failed.attempts == 1 and "refused the score" in failed.last_error and "422" in failed.last_error


def test_a_tool_the_platform_does_not_trust_gets_no_token_and_the_score_fails_clearly(client, registered, lms):
    course, enrolment = launched(client, lms)
    lms.tool_jwks = lambda: {"keys": []}  # the platform was given another key than ours
    finish(enrolment, course)
    deliver()
    [failed] = score_events("failed")
    assert "token endpoint answered 401" in failed.last_error and lms.score_posts == []
    assert lms.token_refusals and lms.token_refusals[0].startswith("bad signature")


def test_a_bearer_token_the_platform_did_not_issue_is_refused(registered, lms):
    import requests

    assert requests.get(f"{lms.url}/memberships", headers={"Authorization": "Bearer forged"}, timeout=5).status_code == 401
    assert requests.post(f"{lms.url}/lineitems/link-1/scores", timeout=5, json={}).status_code == 401


def test_without_a_line_item_one_is_found_or_created_once(client, app, registered, lms):
    course, enrolment = launched(client, lms, lineitem=False)
    lms.users["eva"] = {"sub": "moodle-user-21", "name": "Eva Ruiz", "email": "eva@academia.example",
                        "roles": [LEARNER]}
    other = app.test_client()
    launch(other, lms, "eva", lms.resource_link(lineitem=False))
    eva = db.session.scalar(select(User).where(User.email == "eva@academia.example"))
    eva_enrolment = db.session.scalar(select(Enrolment).where(Enrolment.user_id == eva.id))
    finish(enrolment, course)
    finish(eva_enrolment, course, right=1)
    deliver()
    assert list(lms.line_items) == ["created-1"]
    item = lms.line_items["created-1"]
    assert item["resourceLinkId"] == "link-1" and item["scoreMaximum"] == 100 and item["label"] == "Module 1"
    assert sorted((i, b["userId"], b["scoreGiven"]) for i, b in lms.score_posts) == [
        ("created-1", "moodle-user-17", 100), ("created-1", "moodle-user-21", 50)]
    assert db.session.scalar(select(LtiResourceLink.tool_lineitem)) == item["id"]


def test_no_score_for_a_link_without_grades_nor_for_someone_who_never_launched(client, registered, lms):
    course, enrolment = launched(client, lms, ags=False)
    finish(enrolment, course)
    other = factories.user()
    finish(factories.enrolment(other, course), course)
    assert score_events(None) == []


def test_an_erased_person_gets_no_more_scores(client, registered, lms):
    from learning.accounts.privacy import erase_user

    course, enrolment = launched(client, lms)
    finish(enrolment, course)
    erase_user(enrolment.user_id)
    db.session.commit()
    assert deliver() == []
    assert all(e.payload == {} and e.status == "done" for e in score_events(None))
    assert lms.score_posts == [] and db.session.scalar(select(LtiScoreDelivery)) is None



def test_a_course_no_platform_links_looks_for_no_link_until_another_process_links_it(app, client, registered, lms):
    """Fifth session (docs/PERFORMANCE.md): ``courses.lti_linked``, read with the course the learning event's
    transaction reads anyway, spares the look-up of the links while no resource link opens the course; a
    link pointed at the course by another process (its own session and transaction) sets it, and the next
    learning event of the course looks and queues the score."""
    from sqlalchemy import event

    from learning.catalogue.models import Course

    linked, launched_enrolment = launched(client, lms)
    assert linked.lti_linked  # set by the launch that pointed the link at it
    other = factories.course(quiz=None)
    assert other.lti_linked is False
    other_id, first, second = other.id, *lessons_of(other)
    enrolment = enrolment_services.enrol(db.session.get(User, launched_enrolment.user_id), other)
    db.session.commit()
    seen: list[str] = []

    def log(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", log)
    try:
        enrolment_services.complete_lesson(enrolment, first)
        db.session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", log)
    assert seen and not any("lti_link_members" in statement for statement in seen)
    assert score_events(None) == []

    with app.app_context():  # another session, as another process would
        link = db.session.scalar(select(LtiResourceLink))
        link.course_id = other_id
        db.session.commit()
        assert db.session.get(Course, other_id).lti_linked
        assert not db.session.get(Course, linked.id).lti_linked  # its only link went to the other course
    db.session.rollback()  # this session's next transaction reads the course afresh, as a request would
    enrolment_services.complete_lesson(enrolment, second)  # the last lesson: the course completed too
    db.session.commit()
    assert [e.payload["kind"] for e in score_events()] == ["lesson_completed", "course_completed"]
    assert deliver() == ["done", "done"] and lms.scores_for("moodle-user-17")[-1]["activityProgress"] == "Completed"


def learning_looks_for_links(enrolment, lesson_id) -> bool:
    """Whether completing the lesson looked the course's resource links up (``courses.lti_linked``)."""
    from sqlalchemy import event

    seen: list[str] = []

    def log(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    db.session.rollback()  # the course read afresh, as a request would
    event.listen(db.engine, "before_cursor_execute", log)
    try:
        enrolment_services.complete_lesson(db.session.get(Enrolment, enrolment.id), lesson_id)
        db.session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", log)
    return any("lti_link_members" in statement for statement in seen)


def test_the_flag_goes_off_with_the_courses_last_link_and_with_the_platform(client, registered, lms):
    """``courses.lti_linked`` follows the links (``ags.update_linked_courses``): a course keeps it while one
    link opens it, loses it with its last link (deleted, or its platform deleted, the links going by the
    database's cascade), and a learning event of the course then looks for no link."""
    from learning.catalogue.models import Course
    from learning.lti.models import LtiPlatform

    course, enrolment = launched(client, lms)
    assert launch(client, lms, "ana", lms.resource_link("link-2", custom={"course": course.slug})).status_code == 302
    first, second = lessons_of(course)
    links = list(db.session.scalars(select(LtiResourceLink).where(LtiResourceLink.course_id == course.id)
                                    .order_by(LtiResourceLink.id)))
    assert len(links) == 2 and db.session.get(Course, course.id).lti_linked
    db.session.delete(links[0])
    db.session.commit()
    assert db.session.get(Course, course.id).lti_linked  # another link still opens it
    assert learning_looks_for_links(enrolment, first) and score_events()
    db.session.delete(links[1])
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Course, course.id).lti_linked is False  # the last one went
    assert not learning_looks_for_links(enrolment, second)
    # A new launch links it again; removing the platform with its links turns it off again.
    assert launch(client, lms, "ana", lms.resource_link("link-3", custom={"course": course.slug})).status_code == 302
    db.session.expire_all()
    assert db.session.get(Course, course.id).lti_linked
    other = factories.course(quiz=None)
    db.session.commit()
    remove_platform(None, db.session.get(LtiPlatform, registered.id), cascade=True)
    db.session.commit()
    db.session.expire_all()
    assert db.session.scalar(select(LtiResourceLink)) is None
    assert db.session.get(Course, course.id).lti_linked is False and other.lti_linked is False
    assert not ags._course_may_be_linked(course.id)  # read with the course: no look-up


def test_a_link_added_while_another_transaction_removes_the_last_one_keeps_the_flag(app, client, registered, lms):
    """The race the locks settle (PostgreSQL): one transaction deletes a course's only link while another,
    not committed yet, points a new link at it; whichever order they take, the course stays linked."""
    import threading

    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from learning.catalogue.models import Course

    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    course, _enrolment = launched(client, lms)
    link = db.session.scalar(select(LtiResourceLink).where(LtiResourceLink.course_id == course.id))
    link_id, deployment_id, platform_id = link.id, link.deployment_id, link.platform_id
    db.session.commit()
    adding = Session(bind=db.engine)
    event.listen(adding, "before_flush", ags.note_unlinked_courses)  # the app's session's hooks
    event.listen(adding, "after_flush", ags.update_linked_courses)
    try:
        adding.add(LtiResourceLink(platform_id=platform_id, deployment_id=deployment_id, resource_link_id="late",
                                   course_id=course.id, ags_scopes=[]))
        adding.flush()  # the new link written, not committed: its foreign key check holds the course's key

        done = threading.Event()

        def remove() -> None:
            with app.app_context():
                db.session.delete(db.session.get(LtiResourceLink, link_id))
                db.session.commit()  # waits for the adding transaction (FOR UPDATE on the course)
                done.set()
                db.session.remove()

        remover = threading.Thread(target=remove)
        remover.start()
        assert not done.wait(1.0), "the removal should wait for the transaction adding a link"
        adding.commit()
        remover.join(10)
        assert done.is_set()
    finally:
        adding.close()
    db.session.expire_all()
    assert db.session.get(Course, course.id).lti_linked
    assert db.session.scalar(select(LtiResourceLink.resource_link_id).where(
        LtiResourceLink.course_id == course.id)) == "late"
