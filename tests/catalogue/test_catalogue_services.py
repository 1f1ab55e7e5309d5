"""Course rules: editing keeps learners' progress, texts fall back sensibly, drafts stay hidden."""

from __future__ import annotations

import pytest

from learning.catalogue import services
from learning.catalogue.models import Lesson
from learning.enrolment import services as enrolment_services
from learning.errors import NotFound, ValidationFailed
from learning.extensions import db
from tests import factories_catalogue as fc


def outline(course) -> list[tuple[str, list[str]]]:
    return [(m.title, [lesson.title for lesson in m.lessons]) for m in course.modules]


def test_moving_a_lesson_between_modules_keeps_it_and_its_progress(make):
    data = make.course_data(quiz=None, modules=[
        {"title": "A", "lessons": [{"title": "A1"}, {"title": "A2"}]},
        {"title": "B", "lessons": [{"title": "B1"}]},
    ])
    course = make.course(**data)
    learner = make.user()
    enrolment = make.enrolment(learner, course)
    a1, a2, b1 = fc.lesson_ids(course)
    enrolment_services.complete_lesson(enrolment, b1)
    db.session.commit()
    module_a, module_b = (m.id for m in course.modules)
    services.update_course(None, course, {"modules": [
        {"id": module_a, "title": "A", "lessons": [{"id": b1, "title": "B1 moved"}, {"id": a1, "title": "A1"}]},
        {"id": module_b, "title": "B", "lessons": [{"id": a2, "title": "A2 moved"}]},
    ]})
    db.session.commit()
    db.session.expire_all()
    assert outline(course) == [("A", ["B1 moved", "A1"]), ("B", ["A2 moved"])]
    assert fc.lesson_ids(course) == [b1, a1, a2]
    assert enrolment_services.progress_of(enrolment).completed_lessons == 1


def test_an_edit_naming_a_lesson_of_another_course_changes_nothing(make):
    course, other = make.course(title="Mine"), make.course()
    foreign = fc.lesson_ids(other)[0]
    with pytest.raises(ValidationFailed) as caught:
        services.update_course(None, course, {"title": "Changed", "modules": [
            {"id": course.modules[0].id, "title": "M", "lessons": [{"id": foreign, "title": "Stolen"}]}]})
    db.session.rollback()
    assert caught.value.fields == {"modules.0.lessons.0.id": ["Not a lesson of this course."]}
    db.session.expire_all()
    assert db.session.get(Lesson, foreign).title == "Lesson one"
    assert services.course_text(course, "en").title == "Mine"


def test_changing_the_original_language_keeps_every_text(make):
    course = make.course(title="English title", translations={"es": {"title": "Título", "summary": "Resumen"}})
    services.update_course(None, course, {"language": "es"})
    db.session.commit()
    assert course.language == "es"
    assert services.course_text(course, "es").title == "Título"
    assert services.course_text(course, "en").title == "English title"
    assert services.course_text(course, "fr").title == "Título"  # falls back to the new original


def test_texts_fall_back_from_region_to_language_to_original(make):
    course = make.course(title="Original", translations={"pt-BR": {"title": "Português", "summary": ""}})
    assert services.course_text(course, "pt").title == "Português"
    assert services.course_text(course, "pt-PT").title == "Português"
    assert services.course_text(course, "ar").title == "Original"
    lesson = course.modules[0].lessons[0]
    lesson.translations = {"es": {"title": "Lección"}}
    assert services.localised(lesson, "title", "es-CO", course.language) == "Lección"
    assert services.localised(lesson, "body", "es", course.language) == lesson.body  # untranslated field


def test_publishing_twice_or_archiving_twice_changes_nothing_more(make):
    from sqlalchemy import func, select

    from learning.audit.models import AuditEntry

    course, admin = make.course(published=False), make.admin()
    services.publish_course(admin.id, course)
    first_published = course.published_at
    services.publish_course(admin.id, course)
    services.archive_course(admin.id, course)
    services.archive_course(admin.id, course)
    db.session.commit()
    assert course.published_at == first_published
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions.count("course.published") == 1 and actions.count("course.archived") == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 3


def test_a_draft_is_visible_only_to_admins(make):
    course = make.course(published=False)
    with pytest.raises(NotFound):
        services.visible_course(course.slug, make.user())
    with pytest.raises(NotFound):
        services.visible_course(course.slug, None)
    assert services.visible_course(course.slug, make.admin()) is course
