"""``GET /api/v1/courses/<slug>/package``: a course packed for learning offline."""

from __future__ import annotations

from learning.catalogue.services import update_course
from learning.extensions import db
from tests import factories_catalogue as fc


def test_an_enrolled_learner_gets_the_course_in_their_language_without_the_answers(api, make):
    learner = make.user(language="es")
    course = make.course(modules=[{"title": "Uno", "lessons": [
        {"title": "Lesson one", "body": "# One\n\n![map](https://example.org/map.png)\n\n<script>alert(1)</script>",
         "translations": {"es": {"title": "Lección uno", "body": "# Uno\n\n![mapa](https://example.org/mapa.png)"}}},
        {"title": "Lesson two", "body": "Two."}]}])
    enrolment = make.enrolment(learner, course)

    response = api.as_user(learner).get(f"courses/{course.slug}/package")

    assert response.status_code == 200
    body = response.get_json()
    assert body["title"].startswith("Curso") and body["language"] == "es"
    first, second = body["lessons"]
    assert first["title"] == "Lección uno" and "<h1>Uno</h1>" in first["html"]
    assert first["url"] == f"/learning/{enrolment.id}/lessons/{first['id']}"
    assert second["html"] == "<p>Two.</p>"
    assert body["assets"] == ["https://example.org/mapa.png"]
    assert body["modules"][0]["lesson_ids"] == [first["id"], second["id"]]
    questions = body["quiz"]["questions"]
    assert len(questions) == 2 and all(set(c) == {"id", "text"} for q in questions for c in q["choices"])
    assert "correct" not in response.get_data(as_text=True)
    assert body["enrolment"]["id"] == enrolment.id and body["enrolment"]["progress"]["completed_lessons"] == 0
    assert response.headers["ETag"] and response.headers["Cache-Control"] == "private, no-cache"


def test_lesson_bodies_are_sanitised_as_the_pages_render_them(api, make):
    learner = make.user()
    course = make.course(modules=[{"title": "M", "lessons": [
        {"title": "L", "body": "Hi <script>alert(1)</script><a href=\"javascript:alert(1)\" onclick=\"x()\">x</a>"}]}],
        quiz=None)
    make.enrolment(learner, course)
    html = api.as_user(learner).get(f"courses/{course.slug}/package").get_json()["lessons"][0]["html"]
    assert "<script" not in html and "javascript:" not in html and "onclick" not in html
    assert api.as_user(learner).get(f"courses/{course.slug}/package").get_json()["quiz"] is None


def test_the_etag_answers_304_until_the_course_or_the_progress_changes(api, make):
    learner = make.user()
    enrolment = make.enrolment(learner)
    client = api.as_user(learner)
    path = f"courses/{enrolment.course.slug}/package"
    etag = client.get(path).headers["ETag"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert client.get(path, headers={"If-None-Match": '"something-else"'}).status_code == 200

    client.post(f"enrolments/{enrolment.id}/lessons/{fc.lesson_ids(enrolment.course)[0]}/complete")
    after_progress = client.get(path, headers={"If-None-Match": etag})
    assert after_progress.status_code == 200 and after_progress.headers["ETag"] != etag

    etag = after_progress.headers["ETag"]
    update_course(None, enrolment.course, {"summary": "A new summary."})
    db.session.commit()
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["summary"] == "A new summary."


def test_someone_not_enrolled_gets_403_and_an_unknown_course_404(api, make):
    course = make.course()
    assert api.get(f"courses/{course.slug}/package").status_code == 401
    refused = api.as_user(make.user()).get(f"courses/{course.slug}/package")
    assert refused.status_code == 403 and "Enrol" in refused.get_json()["error"]["message"]
    assert api.as_user(make.admin()).get(f"courses/{course.slug}/package").status_code == 403
    assert api.as_user(make.user()).get("courses/no-such-course/package").status_code == 404


def test_a_completed_course_can_still_be_taken_offline_but_not_a_withdrawn_one(api, make):
    from learning.enrolment import services  # noqa: PLC0415

    done, gone = make.user(), make.user()
    course = make.course()
    make.completed_enrolment(done, course)
    services.withdraw(make.enrolment(gone, course))
    db.session.commit()
    assert api.as_user(done).get(f"courses/{course.slug}/package").get_json()["enrolment"]["status"] == "completed"
    assert api.as_user(gone).get(f"courses/{course.slug}/package").status_code == 403
