"""Courses, their translations, modules, lessons and quizzes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from learning.extensions import db
from learning.models_base import UTCDateTime, utcnow

COURSE_STATUSES = ("draft", "published", "archived")


class Course(db.Model):
    """A course in the catalogue. Its texts live in ``CourseTranslation`` rows."""

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    language: Mapped[str] = mapped_column(String(35))  # the course's original language
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    pass_mark: Mapped[int] = mapped_column(default=80)
    certificate_validity_months: Mapped[int | None] = mapped_column()
    # At most this many quiz attempts (null: no limit) within quiz_cooldown_minutes (0: ever), so that the
    # score shown after each attempt cannot be used to find the right answers by trial.
    max_quiz_attempts: Mapped[int | None] = mapped_column(default=3, server_default="3")
    quiz_cooldown_minutes: Mapped[int] = mapped_column(default=60, server_default="60")
    estimated_minutes: Mapped[int | None] = mapped_column()
    sectors: Mapped[list] = mapped_column(JSON, default=list)  # intended sectors; empty means all
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Raised by one whenever the course, its translations, modules, lessons or quiz change
    # (``learning.catalogue.content``): what a process keeps of a course is keyed by it.
    content_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # Set (never cleared) once a resource link of an LTI platform opens the course (``learning.lti.ags``):
    # until then no learning event of the course can owe a platform a grade, and none looks for one.
    lti_linked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    translations: Mapped[list[CourseTranslation]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", back_populates="course"
    )
    modules: Mapped[list[Module]] = relationship(
        cascade="all, delete-orphan", order_by="Module.position", back_populates="course"
    )
    quiz: Mapped[Quiz | None] = relationship(cascade="all, delete-orphan", back_populates="course")


class CourseTranslation(db.Model):
    """The title and summary of a course in one language."""

    __tablename__ = "course_translations"
    __table_args__ = (UniqueConstraint("course_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(35))
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")

    course: Mapped[Course] = relationship(back_populates="translations")


class Module(db.Model):
    """An ordered part of a course, holding lessons."""

    __tablename__ = "modules"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(String(300))
    translations: Mapped[dict] = mapped_column(JSON, default=dict)  # {"es": {"title": ...}}

    course: Mapped[Course] = relationship(back_populates="modules")
    lessons: Mapped[list[Lesson]] = relationship(
        cascade="all, delete-orphan", order_by="Lesson.position", back_populates="module"
    )


class Lesson(db.Model):
    """A lesson: Markdown text, rendered to sanitised HTML when shown."""

    __tablename__ = "lessons"

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    translations: Mapped[dict] = mapped_column(JSON, default=dict)  # {"es": {"title", "body"}}

    module: Mapped[Module] = relationship(back_populates="lessons")


class Quiz(db.Model):
    """The end-of-course quiz; at most one per course."""

    __tablename__ = "quizzes"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), unique=True
    )

    course: Mapped[Course] = relationship(back_populates="quiz")
    questions: Mapped[list[QuizQuestion]] = relationship(
        cascade="all, delete-orphan", order_by="QuizQuestion.position", back_populates="quiz"
    )


class QuestionColumns:
    """The columns of a multiple-choice question, the quiz's and the knowledge tests' alike
    (``learning.catalogue.questions`` scores the answers to either)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(Text)
    translations: Mapped[dict] = mapped_column(JSON, default=dict)


class ChoiceColumns:
    """The columns of one choice of a multiple-choice question."""

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(Text)
    correct: Mapped[bool] = mapped_column(Boolean, default=False)
    translations: Mapped[dict] = mapped_column(JSON, default=dict)


class QuizQuestion(QuestionColumns, db.Model):
    __tablename__ = "quiz_questions"

    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"), index=True)

    quiz: Mapped[Quiz] = relationship(back_populates="questions")
    choices: Mapped[list[QuizChoice]] = relationship(
        cascade="all, delete-orphan", order_by="QuizChoice.position", back_populates="question"
    )


class QuizChoice(ChoiceColumns, db.Model):
    __tablename__ = "quiz_choices"

    question_id: Mapped[int] = mapped_column(
        ForeignKey("quiz_questions.id", ondelete="CASCADE"), index=True
    )

    question: Mapped[QuizQuestion] = relationship(back_populates="choices")
