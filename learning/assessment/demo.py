"""Demo pre-tests and post-tests, so that the dashboard's learning gain shows something after
``make run``: the first courses get a pre-test (their quiz's questions, in every language) that the
post-test repeats. The learners' attempts are recorded as history (``services.record_attempt``):
the pre-test when they enrolled, the post-test shortly before they completed."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select

from learning.assessment import services
from learning.catalogue.models import Course
from learning.enrolment.models import Enrolment
from learning.extensions import db


def _questions_of_quiz(course: Course) -> list[dict]:
    return [{"text": q.text, "translations": q.translations or {},
             "choices": [{"text": c.text, "correct": c.correct, "translations": c.translations or {}}
                         for c in q.choices]}
            for q in course.quiz.questions]


def _answers(rng: random.Random, questions, knows: float) -> dict[str, int]:
    """Each question answered right with probability ``knows``, else a wrong choice."""
    answers = {}
    for question in questions:
        right = [c.id for c in question.choices if c.correct]
        wrong = [c.id for c in question.choices if not c.correct] or right
        answers[str(question.id)] = rng.choice(right) if rng.random() < knows else rng.choice(wrong)
    return answers


def seed_knowledge_tests(actor_id: int, courses: list[Course], seed: int, how_many: int = 5) -> int:
    """Give ``how_many`` courses tests and let their learners take them; how many attempts were made."""
    rng = random.Random(seed)
    made = 0
    for course in [c for c in courses if c.quiz is not None][:how_many]:
        services.set_tests(actor_id, course, {"pre": {"questions": _questions_of_quiz(course)},
                                              "post": {"same_as_pre": True}})
        tests = services.tests_of(course.id)
        pre, post = services.questions_of("pre", tests), services.questions_of("post", tests)
        for item in db.session.scalars(select(Enrolment).where(Enrolment.course_id == course.id)
                                       .order_by(Enrolment.id)):
            if rng.random() < 0.9:  # most take the pre-test when they start; some skip it
                services.record_attempt(item, "pre", _answers(rng, pre, rng.uniform(0.3, 0.7)),
                                     at=item.enrolled_at + timedelta(minutes=5))
                made += 1
            if item.status == "completed" and rng.random() < 0.9:
                taken = (item.completed_at or item.last_activity_at or item.enrolled_at) - timedelta(minutes=10)
                services.record_attempt(item, "post", _answers(rng, post, rng.uniform(0.55, 0.95)),
                                     at=max(taken, item.enrolled_at + timedelta(minutes=30)))
                made += 1
    return made
