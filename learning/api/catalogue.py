"""Catalogue API: courses to browse (anyone), and to create, edit, publish and archive (admins).

Course bodies are checked by ``validate_course_data`` (one rule, one place): the
input schemas below describe the body for the OpenAPI document and do not
validate, so every bad field is reported with its full path
(``modules.0.lessons.1.title``) in the error body.
"""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import DateTime, Dict, Integer, List, Nested, String
from marshmallow import missing

from learning.api.auth import auth, current_api_user, optional_user
from learning.api.schemas import JsonBoolean, PageQuerySchema, page_of
from learning.catalogue import services
from learning.catalogue import validation as rules
from learning.catalogue.models import Course

bp = APIBlueprint("api_catalogue", __name__, url_prefix="/api/v1", tag="Catalogue")

LANGUAGE_DOC = {"description": "BCP 47 tag; texts are returned in it where translated", "example": "es"}


# --- what the API answers ------------------------------------------------------

class LessonOutlineSchema(Schema):
    id = Integer(required=True)
    title = String(required=True)


class ModuleOutSchema(Schema):
    id = Integer(required=True)
    title = String(required=True)
    lessons = List(Nested(LessonOutlineSchema), required=True)


class ChoiceOutSchema(Schema):
    id = Integer(required=True)
    text = String(required=True)


class QuestionOutSchema(Schema):
    id = Integer(required=True)
    text = String(required=True)
    choices = List(Nested(ChoiceOutSchema), required=True)


class QuizOutSchema(Schema):
    questions = List(Nested(QuestionOutSchema), required=True,
                     metadata={"description": "Which choices are right is never sent."})


class CourseSummarySchema(Schema):
    slug = String(required=True)
    title = String(required=True)
    summary = String(required=True)
    language = String(required=True, metadata={"description": "The course's original language"})
    text_language = String(required=True, metadata={"description": "The language title and summary are in"})
    languages = List(String(), required=True, metadata={"description": "Languages the course is offered in"})
    status = String(required=True, metadata={"description": "draft, published or archived"})
    sectors = List(String(), required=True, metadata={"description": "Intended sectors; empty means all"})
    pass_mark = Integer(required=True)
    certificate_validity_months = Integer(allow_none=True)
    max_quiz_attempts = Integer(allow_none=True, metadata={
        "description": "Quiz attempts a learner may make within quiz_cooldown_minutes; null: no limit"})
    quiz_cooldown_minutes = Integer(metadata={
        "description": "The window of max_quiz_attempts, in minutes; 0: the limit is for good"})
    estimated_minutes = Integer(allow_none=True)
    published_at = DateTime(allow_none=True)


class CourseSchema(CourseSummarySchema):
    modules = List(Nested(ModuleOutSchema), required=True)
    quiz = Nested(QuizOutSchema, allow_none=True, required=True)


CoursePageSchema = page_of(CourseSummarySchema, "CoursePageSchema")


class CourseListQuerySchema(PageQuerySchema):
    language = String(metadata=LANGUAGE_DOC)
    available_in = String(metadata={"description": "Only courses offered in this language (BCP 47)"})
    sector = String(metadata={"description": "A sector code"})
    q = String(metadata={"description": "Words in the title or summary"})


class CourseQuerySchema(Schema):
    language = String(metadata=LANGUAGE_DOC)


# --- what the API accepts (documentation; validate_course_data checks it) -------
# The limits documented here are the validator's own constants, so the two cannot drift apart.

TITLE = {"maxLength": rules.MAX_TITLE}
SUMMARY = {"maxLength": rules.MAX_SUMMARY}


class TextsInSchema(Schema):
    title = String(required=True, metadata=TITLE)
    summary = String(metadata=SUMMARY)


class LessonInSchema(Schema):
    id = Integer(metadata={"description": "When editing: an existing lesson, so progress on it is kept"})
    title = String(required=True, metadata=TITLE)
    body = String(metadata={"description": "Markdown", "maxLength": rules.MAX_BODY})
    translations = Dict(keys=String(), values=Dict(keys=String(), values=String()), metadata={"example": {"es": {"title": "...", "body": "..."}}})


class ModuleInSchema(Schema):
    id = Integer(metadata={"description": "When editing: an existing module"})
    title = String(required=True, metadata=TITLE)
    lessons = List(Nested(LessonInSchema), required=True)
    translations = Dict(keys=String(), values=Dict(keys=String(), values=String()), metadata={"example": {"es": {"title": "..."}}})


class ChoiceInSchema(Schema):
    text = String(required=True, metadata={"maxLength": rules.MAX_CHOICE})
    correct = JsonBoolean(load_default=False)
    translations = Dict(keys=String(), values=Dict(keys=String(), values=String()))


class QuestionInSchema(Schema):
    text = String(required=True, metadata=SUMMARY)
    choices = List(Nested(ChoiceInSchema), required=True)
    translations = Dict(keys=String(), values=Dict(keys=String(), values=String()))


class QuizInSchema(Schema):
    questions = List(Nested(QuestionInSchema), required=True)


class CoursePatchSchema(Schema):
    title = String(metadata=TITLE)
    summary = String(metadata=SUMMARY)
    language = String(metadata={"description": "BCP 47 tag of the original texts"})
    translations = Dict(keys=String(), values=Nested(TextsInSchema),
                        metadata={"description": "Replaces every translation when given"})
    pass_mark = Integer(metadata={"minimum": rules.PASS_MARK[0], "maximum": rules.PASS_MARK[1]})
    certificate_validity_months = Integer(allow_none=True, metadata={
        "description": "null: never expires", "minimum": rules.VALIDITY_MONTHS[0], "maximum": rules.VALIDITY_MONTHS[1]})
    max_quiz_attempts = Integer(allow_none=True, metadata={
        "description": "1-1000 quiz attempts within quiz_cooldown_minutes, or null: no limit (default 3)"})
    quiz_cooldown_minutes = Integer(metadata={
        "description": "0-525600: the window of max_quiz_attempts in minutes; 0: the limit is for good "
                       "(default 60)"})
    estimated_minutes = Integer(allow_none=True, metadata={
        "minimum": rules.ESTIMATED_MINUTES[0], "maximum": rules.ESTIMATED_MINUTES[1]})
    sectors = List(String())
    modules = List(Nested(ModuleInSchema), metadata={"description": "Replaces the outline when given"})
    quiz = Nested(QuizInSchema, allow_none=True, metadata={"description": "Replaces the quiz; null removes it"})


class CourseInSchema(CoursePatchSchema):
    slug = String(required=True, metadata={"example": "safeguarding-basics", "maxLength": rules.MAX_SLUG,
                                           "pattern": rules.SLUG_RE.pattern})
    title = String(required=True, metadata=TITLE)
    language = String(required=True, metadata={"description": "BCP 47 tag of the original texts"})
    modules = List(Nested(ModuleInSchema), required=True)


# --- serialisation --------------------------------------------------------------

def course_summary(course: Course, language: str | None) -> dict:
    texts = services.course_text(course, language)
    return {
        "slug": course.slug,
        "title": texts.title,
        "summary": texts.summary,
        "language": course.language,
        "text_language": texts.language,
        "languages": services.course_languages(course),
        "status": course.status,
        "sectors": list(course.sectors or []),
        "pass_mark": course.pass_mark,
        "certificate_validity_months": course.certificate_validity_months,
        "max_quiz_attempts": course.max_quiz_attempts,
        "quiz_cooldown_minutes": course.quiz_cooldown_minutes,
        "estimated_minutes": course.estimated_minutes,
        "published_at": course.published_at,
    }


def course_detail(course: Course, language: str | None) -> dict:
    """The course as learners may see it: outline and questions, never the right answers."""
    base = course.language

    def text(item, field: str) -> str:
        return services.localised(item, field, language, base)

    quiz = None
    if course.quiz is not None:
        quiz = {"questions": [
            {"id": q.id, "text": text(q, "text"), "choices": [{"id": c.id, "text": text(c, "text")} for c in q.choices]}
            for q in course.quiz.questions
        ]}
    return {
        **course_summary(course, language),
        "modules": [
            {"id": m.id, "title": text(m, "title"),
             "lessons": [{"id": lesson.id, "title": text(lesson, "title")} for lesson in m.lessons]}
            for m in course.modules
        ],
        "quiz": quiz,
    }


def _body(data):
    """The JSON body as sent; None when there is none (the validator then asks for an object)."""
    return None if data is missing else data


ADMIN_ERRORS = {401: "Not signed in", 403: "Not an admin"}


@bp.get("/courses")
@bp.input(CourseListQuerySchema, location="query", arg_name="query")
@bp.output(CoursePageSchema)
@bp.doc(summary="Published courses", responses={422: "Unknown language or sector"})
def list_courses(query):
    language = services.check_language(query.get("language"))
    courses, total = services.list_published(
        query.get("available_in"), query.get("sector"), query.get("q"), query["page"], query["per_page"])
    return {"items": [course_summary(c, language) for c in courses],
            "page": query["page"], "per_page": query["per_page"], "total": total}


@bp.post("/courses")
@bp.auth_required(auth, roles=["admin"])
@bp.input(CourseInSchema, arg_name="data", validation=False)
@bp.output(CourseSchema, status_code=201)
@bp.doc(summary="Create a draft course (admin)",
        responses={**ADMIN_ERRORS, 409: "Slug already used", 422: "Invalid fields, each named by its path"})
def create_course(data):
    course = services.create_course(current_api_user().id, _body(data))
    return course_detail(course, None)


@bp.get("/courses/<slug>")
@bp.input(CourseQuerySchema, location="query", arg_name="query")
@bp.output(CourseSchema)
@bp.doc(summary="A course: published to anyone, any state to admins", responses={404: "No such course"})
def get_course(slug: str, query):
    language = services.check_language(query.get("language"))
    return course_detail(services.visible_course(slug, optional_user()), language)


@bp.patch("/courses/<slug>")
@bp.auth_required(auth, roles=["admin"])
@bp.input(CoursePatchSchema, arg_name="data", validation=False)
@bp.output(CourseSchema)
@bp.doc(summary="Edit a course (admin)",
        responses={**ADMIN_ERRORS, 404: "No such course", 422: "Invalid fields, each named by its path"})
def patch_course(slug: str, data):
    course = services.get_course(slug)
    services.update_course(current_api_user().id, course, _body(data))
    return course_detail(course, None)


@bp.post("/courses/<slug>/publish")
@bp.auth_required(auth, roles=["admin"])
@bp.output(CourseSchema)
@bp.doc(summary="Publish a course (admin)", responses={**ADMIN_ERRORS, 404: "No such course"})
def publish_course(slug: str):
    course = services.publish_course(current_api_user().id, services.get_course(slug))
    return course_detail(course, None)


@bp.post("/courses/<slug>/archive")
@bp.auth_required(auth, roles=["admin"])
@bp.output(CourseSchema)
@bp.doc(summary="Take a course out of the catalogue (admin); enrolments and certificates stay",
        responses={**ADMIN_ERRORS, 404: "No such course"})
def archive_course(slug: str):
    course = services.archive_course(current_api_user().id, services.get_course(slug))
    return course_detail(course, None)
