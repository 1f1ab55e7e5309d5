"""What each process keeps of a course (its outline and titles) follows every edit at once: a course's
``content_version`` rises with any change of its content, and what is kept is keyed by it
(``learning.catalogue.content``; docs/PERFORMANCE.md, "Hot path (fourth session)")."""

from __future__ import annotations

from sqlalchemy import text

from learning.catalogue.models import Course
from learning.catalogue.services import all_lessons, update_course
from learning.enrolment.services import course_outline
from learning.extensions import db


def short_course(make, lessons: int = 2):
    return make.course(quiz=None, modules=[{"title": "M", "lessons": [
        {"title": f"Lesson {i}", "body": "Text."} for i in range(lessons)]}])


def modules_of(course) -> list[dict]:
    return [{"id": m.id, "title": m.title, "lessons": [{"id": lesson.id, "title": lesson.title, "body": lesson.body}
                                                        for lesson in m.lessons]} for m in course.modules]


def version(course_id: int) -> int:
    return db.session.scalar(text("SELECT content_version FROM courses WHERE id = :id"), {"id": course_id})


def test_every_kind_of_content_change_raises_the_version(make):
    course = short_course(make)
    seen = [version(course.id)]

    def raised() -> bool:
        db.session.commit()
        seen.append(version(course.id))
        return seen[-1] > seen[-2]

    update_course(None, course, {"title": "A new title"})
    assert raised()
    modules = modules_of(course)
    modules[0]["lessons"].append({"title": "Lesson 3", "body": "More."})
    update_course(None, course, {"modules": modules})
    assert raised()
    update_course(None, course, {"quiz": {"questions": [
        {"text": "Q?", "choices": [{"text": "Yes", "correct": True}, {"text": "No", "correct": False}]}]}})
    assert raised()
    all_lessons(course)[0].body = "Changed outside the services."  # any flush that touches a lesson
    assert raised()
    course.translations[0].title = "Retitled by hand"
    assert raised()
    db.session.commit()
    assert not raised()  # nothing changed, nothing raised


def test_a_learner_sees_a_published_course_edit_at_once(api, make):
    course = short_course(make)
    client = api.as_user(make.user())
    enrolment = client.post(f"courses/{course.slug}/enrolments").get_json()
    first = all_lessons(course)[0].id
    answer = client.post(f"enrolments/{enrolment['id']}/lessons/{first}/complete").get_json()
    assert answer["progress"]["total_lessons"] == 2 and answer["course_title"] == course.translations[0].title

    course = db.session.get(Course, course.id)
    modules = modules_of(course)
    modules[0]["lessons"].append({"title": "Lesson 3", "body": "More."})
    update_course(None, course, {"modules": modules, "title": "Renamed"})
    db.session.commit()

    answer = client.get(f"enrolments/{enrolment['id']}").get_json()
    assert answer["progress"]["total_lessons"] == 3 and answer["course_title"] == "Renamed"
    second = all_lessons(course)[1].id
    answer = client.post(f"enrolments/{enrolment['id']}/lessons/{second}/complete").get_json()
    assert answer["status"] == "active"  # the lesson added since is still to do
    third = all_lessons(course)[2].id
    assert client.post(f"enrolments/{enrolment['id']}/lessons/{third}/complete").get_json()["status"] == "completed"


def test_an_edit_rolled_back_leaves_nothing_kept_behind(make):
    course = short_course(make)
    assert len(course_outline(course.id).lesson_ids) == 2  # kept by the process now
    db.session.commit()
    modules = modules_of(course)
    modules[0]["lessons"].append({"title": "Lesson 3", "body": "More."})
    update_course(None, course, {"modules": modules})
    assert len(course_outline(course.id).lesson_ids) == 3  # this transaction sees its own edit
    db.session.rollback()
    assert len(course_outline(course.id).lesson_ids) == 2
    db.session.commit()


def test_another_process_edit_is_seen_through_the_version_alone(make):
    """What is kept is used while the version stands (no round trip); a raised version, committed by any
    process, makes the next transaction read the course again."""
    course = short_course(make)
    assert len(course_outline(course.id).lesson_ids) == 2
    db.session.commit()
    module_id = course.modules[0].id
    with db.engine.begin() as other:  # another process's edit, bypassing this one's session
        other.execute(text("INSERT INTO lessons (module_id, position, title, body, translations) "
                           "VALUES (:m, 9, 'Added', '', '{}')"), {"m": module_id})
    db.session.expire_all()
    assert len(course_outline(course.id).lesson_ids) == 2  # kept: the version did not move
    db.session.commit()
    with db.engine.begin() as other:
        other.execute(text("UPDATE courses SET content_version = content_version + 1 WHERE id = :id"),
                      {"id": course.id})
    db.session.expire_all()
    assert len(course_outline(course.id).lesson_ids) == 3
    db.session.commit()
