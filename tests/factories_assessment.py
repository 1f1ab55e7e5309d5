"""Factories for knowledge tests: a course's pre-test and post-test, and answers with so many right."""

from __future__ import annotations

from learning.assessment import services
from learning.extensions import db


def question(n: int, right: int = 0, choices: int = 3) -> dict:
    return {"text": f"Question {n}?", "choices": [{"text": f"Answer {n}.{c}", "correct": c == right}
                                                  for c in range(choices)]}


def definition(pre: int = 4, post: int | None = None) -> dict:
    """A pre-test of ``pre`` questions; a post-test repeating it, or ``post`` parallel questions."""
    data = {"pre": {"questions": [question(n) for n in range(pre)]}}
    data["post"] = {"same_as_pre": True} if post is None else {"questions": [question(100 + n, right=1)
                                                                             for n in range(post)]}
    return data


def give_tests(course, **kwargs):
    services.set_tests(None, course, definition(**kwargs))
    db.session.commit()
    return services.tests_of(course.id)


def answers(course_id: int, kind: str, right: int) -> dict[str, int]:
    """Answers to a course's test with the first ``right`` questions right and the others wrong."""
    questions = services.questions_of(kind, services.tests_of(course_id))
    chosen = {}
    for index, q in enumerate(questions):
        wanted = index < right
        chosen[str(q.id)] = next(c.id for c in q.choices if c.correct == wanted)
    return chosen


def finish_lessons(enrolment) -> None:
    from learning.catalogue.services import all_lessons
    from learning.enrolment.services import complete_lesson

    for lesson in all_lessons(enrolment.course):
        complete_lesson(enrolment, lesson.id)
    db.session.commit()
