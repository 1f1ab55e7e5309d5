"""The learner's pages: enrol, "My learning", lessons, the quiz, withdrawal.

A learner only ever reaches their own enrolments; any other id is a 404.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from learning.catalogue.services import visible_course
from learning.catalogue.texts import course_text, reader_language
from learning.enrolment import queries, services
from learning.enrolment.forms import ActionForm, answers_of, quiz_form
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.reporting.rollup import defer_refresh

bp = Blueprint("enrolment", __name__)


def _checked_form() -> None:
    if not ActionForm().validate_on_submit():
        abort(400)


def _next_step(enrolment: Enrolment) -> str:
    """Where "continue" leads: the next lesson, else the quiz, else the course page; a course's
    pre-test and post-test (``learning.assessment``) come before and after its lessons."""
    from learning.assessment.services import pending_test

    test = pending_test(enrolment)
    if test is not None:
        return url_for("assessment.take", enrolment_id=enrolment.id, kind=test)
    progress = services.progress_of(enrolment)
    if enrolment.status == "active" and progress.next_lesson is not None:
        return url_for("enrolment.lesson", enrolment_id=enrolment.id, lesson_id=progress.next_lesson.id)
    if enrolment.status == "active" and progress.quiz_required and not progress.quiz_passed:
        return url_for("enrolment.quiz", enrolment_id=enrolment.id)
    return url_for("catalogue.course", slug=enrolment.course.slug)


@bp.post("/courses/<slug>/enrol")
@login_required
def enrol(slug: str):
    _checked_form()
    defer_refresh(db.session())  # the statistics follow in the worker, as for the API (docs/PERFORMANCE.md, hot path)
    enrolment = services.enrol(current_user, visible_course(slug, current_user))
    flash(_("You are enrolled. Welcome to the course!"), "success")
    return redirect(_next_step(enrolment))


@bp.get("/learning/")
@login_required
def my_learning():
    enrolments, _total = queries.my_enrolments(current_user, per_page=500)
    return render_template(
        "enrolment/my_learning.html",
        active=[e for e in enrolments if e.status == "active"],
        completed=sorted((e for e in enrolments if e.status == "completed"),
                         key=lambda e: e.completed_at, reverse=True),
        withdrawn=[e for e in enrolments if e.status == "withdrawn"],
        progress=queries.progress_of_many(enrolments),
        form=ActionForm(),
    )


@bp.get("/learning/<int:enrolment_id>")
@login_required
def resume(enrolment_id: int):
    return redirect(_next_step(services.get_own_enrolment(current_user, enrolment_id)))


@bp.get("/learning/<int:enrolment_id>/lessons/<int:lesson_id>")
@login_required
def lesson(enrolment_id: int, lesson_id: int):
    enrolment = services.get_own_enrolment(current_user, enrolment_id)
    shown = queries.lesson_of(enrolment, lesson_id)
    return render_template("enrolment/lesson.html", enrolment=enrolment, lesson=shown,
                           progress=services.progress_of(enrolment),
                           following=queries.lesson_after(enrolment, shown), form=ActionForm())


@bp.post("/learning/<int:enrolment_id>/lessons/<int:lesson_id>/done")
@login_required
def complete_lesson(enrolment_id: int, lesson_id: int):
    _checked_form()
    defer_refresh(db.session())  # the statistics follow in the worker
    enrolment = services.get_own_enrolment(current_user, enrolment_id, for_update=True)
    services.complete_lesson(enrolment, lesson_id, locked=True)
    if enrolment.status == "completed":
        flash(_("You have completed the course. Well done!"), "success")
    return redirect(_next_step(enrolment))


@bp.route("/learning/<int:enrolment_id>/quiz", methods=["GET", "POST"])
@login_required
def quiz(enrolment_id: int):
    enrolment = services.get_own_enrolment(current_user, enrolment_id)
    course = enrolment.course
    if course.quiz is None:
        abort(404)
    form = quiz_form(course.quiz, reader_language(), course.language)
    result, status = None, 200
    if enrolment.status == "active" and form.validate_on_submit():
        defer_refresh(db.session())  # a pass that completes the course: the statistics follow in the worker
        try:
            result = services.submit_quiz(enrolment, answers_of(form, course.quiz))
        except services.QuizAttemptsExhausted:
            status = 429  # the page says until when (``wait`` below)
        else:
            form = quiz_form(course.quiz, reader_language(), course.language, blank=True)  # a retry starts afresh
    attempts = queries.quiz_attempts(enrolment)
    status = 422 if form.errors else status
    wait = services.quiz_wait(enrolment) if enrolment.status == "active" else None
    return render_template("enrolment/quiz.html", enrolment=enrolment, form=form, result=result, wait=wait,
                           attempts=attempts, progress=services.progress_of(enrolment),
                           title=course_text(course, reader_language()).title), status


@bp.post("/learning/<int:enrolment_id>/withdraw")
@login_required
def withdraw(enrolment_id: int):
    _checked_form()
    services.withdraw(services.get_own_enrolment(current_user, enrolment_id))
    flash(_("You have left the course. Your progress is kept in your history."), "info")
    return redirect(url_for("enrolment.my_learning"))
