"""The catalogue API behaves as API.md promises: who may call what, the shapes, the errors."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from learning.audit.models import AuditEntry
from learning.catalogue.models import Course, CourseTranslation, Lesson
from learning.extensions import db
from tests import factories_catalogue as fc


def course_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Course))


# --- POST /courses ---------------------------------------------------------------

def test_admin_creates_a_draft_course_with_its_outline_and_quiz(api, make):
    data = make.course_data(slug="safeguarding-basics", sectors=["education"], estimated_minutes=45)
    response = api.as_user(make.admin()).post("courses", json=data)
    assert response.status_code == 201
    body = response.get_json()
    assert body["slug"] == "safeguarding-basics" and body["status"] == "draft"
    assert body["title"] == data["title"] and body["language"] == "en"
    assert body["languages"] == ["en", "es"]
    assert body["pass_mark"] == 50 and body["certificate_validity_months"] == 24
    assert body["sectors"] == ["education"] and body["estimated_minutes"] == 45
    assert [lesson["title"] for lesson in body["modules"][0]["lessons"]] == ["Lesson one", "Lesson two"]
    assert [c["text"] for c in body["quiz"]["questions"][0]["choices"]] == ["Yes", "No"]
    assert "correct" not in json.dumps(body)


def test_creating_a_course_is_in_the_audit_log(api, make):
    admin = make.admin()
    api.as_user(admin).post("courses", json=make.course_data(slug="audited"))
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "course.created")).one()
    assert entry.actor_id == admin.id and entry.target_id == "audited"


def test_a_course_without_quiz_answers_quiz_null(api, make):
    data = make.course_data()
    del data["quiz"]
    body = api.as_user(make.admin()).post("courses", json=data).get_json()
    assert body["quiz"] is None


def test_only_admins_create_courses(api, make):
    data = make.course_data()
    assert api.post("courses", json=data).status_code == 401
    response = api.as_user(make.user()).post("courses", json=data)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert api.as_user(make.trainer()).post("courses", json=data).status_code == 403
    assert course_count() == 0


def test_bad_course_fields_are_each_named_and_nothing_is_created(api, make):
    data = make.course_data(slug="Not A Slug", pass_mark=101, sectors=["astronauts"])
    data["modules"] = [{"title": "M", "lessons": [{"title": "ok"}, {"title": ""}]}, {"title": "Empty", "lessons": []}]
    data["quiz"] = {"questions": [{"text": "Q", "choices": [{"text": "a", "correct": False}, {"text": "b"}]}]}
    response = api.as_user(make.admin()).post("courses", json=data)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["fields"]) == {"slug", "pass_mark", "sectors", "modules.0.lessons.1.title",
                                    "modules.1.lessons", "quiz.questions.0.choices"}
    assert course_count() == 0


def test_wrong_types_are_422_never_500(api, make):
    admin = api.as_user(make.admin())
    for body in ([1, 2], "text", {"slug": 5, "title": ["x"], "language": 7, "modules": "none"},
                 {**make.course_data(), "translations": {"es": "hola"}, "quiz": {"questions": "x"}},
                 {**make.course_data(), "modules": [{"title": "M", "lessons": [{"title": "L", "id": "x"}]}]},
                 # a choice is right with true, not with a word or a number that looks like one
                 {**make.course_data(), "quiz": {"questions": [{"text": "Q", "choices": [
                     {"text": "a", "correct": "yes"}, {"text": "b", "correct": 0}]}]}}):
        response = admin.post("courses", json=body)
        assert response.status_code == 422, body
        assert response.get_json()["error"]["fields"]
    assert course_count() == 0


def test_missing_or_malformed_body(api, make):
    admin = api.as_user(make.admin())
    missing = admin.post("courses")
    assert missing.status_code == 422
    assert missing.get_json()["error"]["fields"]["_schema"] == ["A JSON object is required."]
    malformed = admin.request("POST", "courses", data="{nope", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400
    assert malformed.get_json()["error"]["code"] == "bad_request"


def test_a_slug_already_used_is_409(api, make):
    make.course(slug="taken")
    response = api.as_user(make.admin()).post("courses", json=make.course_data(slug="taken"))
    assert response.status_code == 409
    assert response.get_json()["error"]["fields"] == {"slug": ["Already used."]}
    assert course_count() == 1


# --- publish and archive -------------------------------------------------------------

def test_admin_publishes_a_draft(api, make):
    make.course(published=False, slug="to-publish")
    response = api.as_user(make.admin()).post("courses/to-publish/publish")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "published" and body["published_at"].endswith("+00:00")
    assert api.get("courses/to-publish").status_code == 200


def test_publish_and_archive_are_for_admins_only(api, make):
    make.course(published=False, slug="draft")
    for action in ("publish", "archive"):
        assert api.post(f"courses/draft/{action}").status_code == 401
        assert api.as_user(make.user()).post(f"courses/draft/{action}").status_code == 403
        assert api.as_user(make.admin()).post(f"courses/nothing/{action}").status_code == 404
    assert db.session.scalar(select(Course.status)) == "draft"


def test_an_archived_course_leaves_the_catalogue_but_admins_still_see_it(api, make):
    make.course(slug="old")
    admin = api.as_user(make.admin())
    response = admin.post("courses/old/archive")
    assert response.status_code == 200 and response.get_json()["status"] == "archived"
    assert api.get("courses").get_json()["total"] == 0
    assert api.get("courses/old").status_code == 404
    assert admin.get("courses/old").get_json()["status"] == "archived"


# --- GET /courses -----------------------------------------------------------------------

def test_the_list_shows_published_courses_only_paginated(api, make):
    for n in range(3):
        make.course(slug=f"published-{n}")
    make.course(published=False, slug="a-draft")
    body = api.get("courses?per_page=2").get_json()
    assert body["total"] == 3 and body["page"] == 1 and body["per_page"] == 2
    assert len(body["items"]) == 2
    second = api.get("courses?per_page=2&page=2").get_json()
    assert len(second["items"]) == 1
    slugs = {item["slug"] for item in body["items"] + second["items"]}
    assert slugs == {"published-0", "published-1", "published-2"}


def test_the_list_speaks_the_requested_language_where_translated(api, make):
    make.course(slug="bilingual", title="Safeguarding", translations={"es": {"title": "Protección", "summary": "Resumen"}})
    make.course(slug="english-only", title="Only English", translations={})
    items = {i["slug"]: i for i in api.get("courses?language=es").get_json()["items"]}
    assert items["bilingual"]["title"] == "Protección" and items["bilingual"]["text_language"] == "es"
    assert items["english-only"]["title"] == "Only English" and items["english-only"]["text_language"] == "en"
    assert items["bilingual"]["languages"] == ["en", "es"]


def test_the_list_filters_by_language_offered_sector_and_words(api, make):
    make.course(slug="police", title="Online investigations", sectors=["law_enforcement"], translations={})
    make.course(slug="teachers", title="Safe schools", sectors=["education"],
                translations={"fr": {"title": "Écoles sûres", "summary": ""}})
    make.course(slug="everyone", title="Basics for all", sectors=[], translations={})

    def slugs(query):
        return sorted(i["slug"] for i in api.get(f"courses?{query}").get_json()["items"])

    assert slugs("available_in=fr") == ["teachers"]
    assert slugs("sector=education") == ["everyone", "teachers"]
    assert slugs("q=investig") == ["police"]
    assert slugs("q=s%C3%BBres") == ["teachers"]  # words in a translation count too
    assert slugs("sector=law_enforcement&q=basics") == ["everyone"]


def test_bad_list_filters_are_422_naming_the_filter(api):
    response = api.get("courses?sector=astronauts&available_in=not%20a%20tag!")
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"sector", "available_in"}
    assert api.get("courses?language=zz-invalid-tag!").status_code == 422
    assert api.get("courses?per_page=501").status_code == 422
    assert api.get("courses?page=0").status_code == 422


# --- GET /courses/<slug> --------------------------------------------------------------

def test_anyone_reads_a_published_course_without_the_right_answers(api, make):
    course = make.course(slug="open")
    response = api.get("courses/open")
    assert response.status_code == 200
    body = response.get_json()
    lesson_ids = [lesson["id"] for module in body["modules"] for lesson in module["lessons"]]
    assert lesson_ids == fc.lesson_ids(course)
    assert set(body["quiz"]["questions"][0]["choices"][0]) == {"id", "text"}
    assert "correct" not in response.get_data(as_text=True)


def test_a_course_reads_in_the_requested_language_with_fallback(api, make):
    data = make.course_data(slug="translated")
    data["modules"][0]["translations"] = {"es": {"title": "Módulo uno"}}
    data["modules"][0]["lessons"][0]["translations"] = {"es": {"title": "Lección uno"}}
    data["quiz"]["questions"][0]["translations"] = {"es": {"text": "¿Es correcto?"}}
    make.course(**data)
    body = api.get("courses/translated?language=es-CO").get_json()
    assert body["title"].startswith("Curso") and body["text_language"] == "es"
    assert body["modules"][0]["title"] == "Módulo uno"
    assert [lesson["title"] for lesson in body["modules"][0]["lessons"]] == ["Lección uno", "Lesson two"]
    assert body["quiz"]["questions"][0]["text"] == "¿Es correcto?"
    assert body["quiz"]["questions"][1]["text"] == "And this?"
    assert api.get("courses/translated?language=ar").get_json()["title"] == data["title"]


def test_drafts_are_404_to_everyone_but_admins(api, make):
    make.course(published=False, slug="secret")
    assert api.get("courses/secret").status_code == 404
    assert api.as_user(make.user()).get("courses/secret").status_code == 404
    response = api.as_user(make.admin()).get("courses/secret")
    assert response.status_code == 200 and response.get_json()["status"] == "draft"
    missing = api.get("courses/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


# --- PATCH /courses/<slug> ------------------------------------------------------------

def test_admin_edits_texts_and_settings(api, make):
    make.course(slug="editable", title="Old title")
    response = api.as_user(make.admin()).patch("courses/editable", json={
        "title": "New title", "pass_mark": 70, "certificate_validity_months": None,
        "translations": {"fr": {"title": "Nouveau titre", "summary": ""}}, "sectors": ["health"]})
    assert response.status_code == 200
    body = response.get_json()
    assert body["title"] == "New title" and body["pass_mark"] == 70
    assert body["certificate_validity_months"] is None and body["sectors"] == ["health"]
    assert body["languages"] == ["en", "fr"]  # translations given replace the old ones
    assert api.get("courses/editable?language=fr").get_json()["title"] == "Nouveau titre"


def test_editing_the_outline_keeps_lessons_named_by_id(api, make):
    course = make.course(slug="outline")
    first, second = fc.lesson_ids(course)
    module_id = course.modules[0].id
    response = api.as_user(make.admin()).patch("courses/outline", json={"modules": [
        {"id": module_id, "title": "Renamed", "lessons": [{"id": second, "title": "Now first"},
                                                          {"title": "Brand new", "body": "New."}]}]})
    assert response.status_code == 200
    lessons = response.get_json()["modules"][0]["lessons"]
    assert lessons[0] == {"id": second, "title": "Now first"}
    assert lessons[1]["title"] == "Brand new"
    assert db.session.get(Lesson, first) is None


def test_bad_edits_are_422_and_change_nothing(api, make):
    make.course(slug="stable", title="Stable title")
    admin = api.as_user(make.admin())
    response = admin.patch("courses/stable", json={"title": "", "pass_mark": "high", "slug": "renamed",
                                                    "modules": [{"id": 999999, "title": "M", "lessons": [{"title": "L"}]}]})
    assert response.status_code == 422
    assert {"title", "pass_mark", "slug"} <= set(response.get_json()["error"]["fields"])
    unknown_id = admin.patch("courses/stable", json={"modules": [{"id": 999999, "title": "M", "lessons": [{"title": "L"}]}]})
    assert unknown_id.status_code == 422
    assert unknown_id.get_json()["error"]["fields"] == {"modules.0.id": ["Not a module of this course."]}
    body = api.get("courses/stable").get_json()
    assert body["title"] == "Stable title" and body["pass_mark"] == 50 and body["modules"][0]["title"] == "Module one"


def test_only_admins_edit_and_unknown_courses_are_404(api, make):
    make.course(slug="guarded")
    assert api.patch("courses/guarded", json={"title": "X"}).status_code == 401
    assert api.as_user(make.user()).patch("courses/guarded", json={"title": "X"}).status_code == 403
    assert api.as_user(make.admin()).patch("courses/nope", json={"title": "X"}).status_code == 404
    assert db.session.scalar(select(CourseTranslation.title).where(CourseTranslation.language == "en")) != "X"


# --- the OpenAPI document ------------------------------------------------------------------

def test_the_openapi_document_describes_the_catalogue(api):
    spec = api.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/courses"])
    assert {"get", "patch"} <= set(paths["/api/v1/courses/{slug}"])
    assert "post" in paths["/api/v1/courses/{slug}/publish"] and "post" in paths["/api/v1/courses/{slug}/archive"]
    create = paths["/api/v1/courses"]["post"]
    assert {"201", "401", "403", "409", "422", "400"} <= set(create["responses"])
    body_schema = create["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert {"slug", "title", "language", "modules"} <= set(spec["components"]["schemas"][body_schema]["required"])
    course_schema = spec["components"]["schemas"]["CourseSchema"]
    assert {"slug", "title", "summary", "language", "languages", "status", "modules", "quiz"} <= set(course_schema["properties"])
    assert {"language", "available_in", "sector", "q", "page", "per_page"} <= {
        p["name"] for p in paths["/api/v1/courses"]["get"]["parameters"]}
