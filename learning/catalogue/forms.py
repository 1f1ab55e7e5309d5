"""The admin's course form, and its translation to and from the API's course shape.

The form has no rules of its own: it is turned into the same dictionary the API
takes and checked by ``validate_course_data``; the errors come back by path
(``modules.0.lessons.1.title``) and are shown next to the field they name.
Empty slots (a module, lesson, question or choice left blank) are ignored, so
the page works without JavaScript: each save brings back fresh empty slots.
Translations of modules, lessons, questions and choices (set through the API
or the JSON import) ride along in hidden fields, so editing here keeps them.
"""

from __future__ import annotations

import json

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from learning.catalogue.models import Course
from learning.catalogue.texts import course_text
from learning.i18n import sector_choices
from learning.parsing import is_id, loads_json, parse_id


class _TranslatedPart(Form):
    id = HiddenField()
    translations = HiddenField()


class LessonForm(_TranslatedPart):
    title = StringField(_l("Lesson title"))
    body = TextAreaField(_l("Text (Markdown)"), render_kw={"rows": 6})


class ModuleForm(_TranslatedPart):
    title = StringField(_l("Module title"))
    lessons = FieldList(FormField(LessonForm))


class ChoiceForm(_TranslatedPart):
    text = StringField(_l("Answer"))
    correct = BooleanField(_l("Right answer"))


class QuestionForm(_TranslatedPart):
    text = StringField(_l("Question"))
    choices = FieldList(FormField(ChoiceForm))


class TranslationForm(Form):
    language = StringField(_l("Language (BCP 47 tag)"))
    title = StringField(_l("Title"))
    summary = TextAreaField(_l("Summary"), render_kw={"rows": 2})


class CourseForm(FlaskForm):
    slug = StringField(_l("Short name in links"), description=_l("Lower-case letters, digits and hyphens."))
    title = StringField(_l("Title"))
    summary = TextAreaField(_l("What the course covers"), render_kw={"rows": 4})
    language = StringField(_l("Language of these texts (BCP 47 tag, e.g. es)"), default="en")
    pass_mark = IntegerField(_l("Pass mark for the quiz (percent)"), default=80, validators=[InputRequired()])
    certificate_validity_months = IntegerField(
        _l("Certificate valid for (months)"), validators=[Optional()],
        description=_l("Leave empty if the certificate does not expire."))
    max_quiz_attempts = IntegerField(
        _l("Quiz attempts allowed"), default=3, validators=[Optional()],
        description=_l("Within the waiting time below; leave empty for no limit."))
    quiz_cooldown_minutes = IntegerField(
        _l("Waiting time for more quiz attempts (minutes)"), default=60, validators=[Optional()],
        description=_l("0: the attempts allowed are for good."))
    estimated_minutes = IntegerField(_l("Estimated duration (minutes)"), validators=[Optional()])
    sectors = SelectMultipleField(_l("Intended sectors (none ticked: everyone)"),
                                  widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    translations = FieldList(FormField(TranslationForm))
    modules = FieldList(FormField(ModuleForm))
    questions = FieldList(FormField(QuestionForm))

    def fill_choices(self) -> CourseForm:
        self.sectors.choices = [SelectChoice(code, label) for code, label in sector_choices()]
        return self

    def add_empty_slots(self) -> CourseForm:
        """One more of everything, to be filled in or left blank."""
        for module in self.modules:
            module.form.lessons.append_entry()
        new_module = self.modules.append_entry()
        for _ in range(3 if not self.modules.entries[:-1] else 2):
            new_module.form.lessons.append_entry()
        add_question_slots(self.questions)
        self.translations.append_entry()
        return self


def add_question_slots(questions: FieldList) -> None:
    """A blank choice under every question, and a blank question with four blank choices."""
    for question in questions:
        question.form.choices.append_entry()
    new_question = questions.append_entry()
    for _ in range(4):
        new_question.form.choices.append_entry()


def dump_translations(translations: dict | None) -> str:
    return json.dumps(translations or {}, ensure_ascii=False)


def form_data_of(course: Course) -> dict:
    """A course as the form's initial data."""
    texts = course_text(course, course.language)
    return {
        "slug": course.slug,
        "title": texts.title,
        "summary": texts.summary,
        "language": course.language,
        "pass_mark": course.pass_mark,
        "certificate_validity_months": course.certificate_validity_months,
        "max_quiz_attempts": course.max_quiz_attempts,
        "quiz_cooldown_minutes": course.quiz_cooldown_minutes,
        "estimated_minutes": course.estimated_minutes,
        "sectors": list(course.sectors or []),
        "translations": [{"language": t.language, "title": t.title, "summary": t.summary}
                         for t in sorted(course.translations, key=lambda t: t.language)
                         if t.language != course.language],
        "modules": [
            {"id": m.id, "title": m.title, "translations": dump_translations(m.translations),
             "lessons": [{"id": lesson.id, "title": lesson.title, "body": lesson.body,
                          "translations": dump_translations(lesson.translations)} for lesson in m.lessons]}
            for m in course.modules
        ],
        "questions": [
            {"text": q.text, "translations": dump_translations(q.translations),
             "choices": [{"text": c.text, "correct": c.correct, "translations": dump_translations(c.translations)}
                         for c in q.choices]}
            for q in (course.quiz.questions if course.quiz else [])
        ],
    }


def blank_fields(*values) -> bool:
    return not any((value or "").strip() for value in values)


def load_translations(raw: str | None) -> dict:
    try:
        value = loads_json(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _id(raw: str | None) -> int | None:
    return parse_id(raw) if is_id(raw) else None


def course_data_from(form: CourseForm) -> tuple[dict, dict]:
    """The API's course dictionary from the form, and which form field each path names."""
    where: dict = {name: getattr(form, name) for name in (
        "slug", "title", "summary", "language", "pass_mark", "certificate_validity_months",
        "max_quiz_attempts", "quiz_cooldown_minutes", "estimated_minutes", "sectors")}
    data = {
        "slug": (form.slug.data or "").strip(),
        "title": form.title.data,
        "summary": form.summary.data or "",
        "language": (form.language.data or "").strip(),
        "pass_mark": form.pass_mark.data,
        "certificate_validity_months": form.certificate_validity_months.data,
        "max_quiz_attempts": form.max_quiz_attempts.data,
        "quiz_cooldown_minutes": 60 if form.quiz_cooldown_minutes.data is None else form.quiz_cooldown_minutes.data,
        "estimated_minutes": form.estimated_minutes.data,
        "sectors": list(form.sectors.data or []),
        "translations": {},
        "modules": [],
    }
    for entry in form.translations:
        row = entry.form
        if blank_fields(row.language.data, row.title.data, row.summary.data):
            continue
        tag = (row.language.data or "").strip()
        data["translations"][tag] = {"title": row.title.data, "summary": row.summary.data or ""}
        where[f"translations.{tag}"] = where[f"translations.{tag}.title"] = row.title
        where[f"translations.{tag}.summary"] = row.summary
    for entry in form.modules:
        module = entry.form
        lessons = []
        for lesson_entry in module.lessons:
            lesson = lesson_entry.form
            if blank_fields(lesson.title.data, lesson.body.data):
                continue  # an empty slot, or a lesson cleared to remove it
            path = f"modules.{len(data['modules'])}.lessons.{len(lessons)}"
            where[path] = where[f"{path}.title"] = where[f"{path}.id"] = lesson.title
            where[f"{path}.body"] = lesson.body
            lessons.append({"id": _id(lesson.id.data), "title": lesson.title.data, "body": lesson.body.data or "",
                            "translations": load_translations(lesson.translations.data)})
        if blank_fields(module.title.data) and not lessons:
            continue
        path = f"modules.{len(data['modules'])}"
        where[path] = where[f"{path}.title"] = where[f"{path}.id"] = where[f"{path}.lessons"] = module.title
        data["modules"].append({"id": _id(module.id.data), "title": module.title.data, "lessons": lessons,
                                "translations": load_translations(module.translations.data)})
    questions = questions_from(form.questions, "quiz", where)
    data["quiz"] = {"questions": questions} if questions else None
    return data, where


def questions_from(entries: FieldList, path: str, where: dict) -> list[dict]:
    """The filled-in question slots in the API's shape (blank choices and questions left out);
    ``where`` learns the field each question's errors (``<path>.questions.<n>...``) are shown at."""
    questions = []
    for entry in entries:
        question = entry.form
        choices = [{"text": choice.form.text.data, "correct": bool(choice.form.correct.data),
                    "translations": load_translations(choice.form.translations.data)}
                   for choice in question.choices if not blank_fields(choice.form.text.data)]
        if blank_fields(question.text.data) and not choices:
            continue
        at = f"{path}.questions.{len(questions)}"
        where[at] = where[f"{at}.text"] = where[f"{at}.choices"] = question.text
        questions.append({"text": question.text.data, "choices": choices,
                          "translations": load_translations(question.translations.data)})
    return questions


def show_errors(fields: dict[str, list[str]], where: dict) -> list[str]:
    """Attach each error to the field its path names; return those that name no field."""
    unplaced = []
    for path, messages in fields.items():
        target, key = None, path
        while key and target is None:
            target = where.get(key)
            key = key.rpartition(".")[0]
        if target is None:
            unplaced.extend(f"{path}: {message}" for message in messages)
        else:
            target.errors = list(target.errors) + list(messages)
    return unplaced


class CourseImportForm(FlaskForm):
    definition = TextAreaField(_l("The course as JSON, in the API's shape"), render_kw={"rows": 20},
                               validators=[InputRequired()])


class ConfirmForm(FlaskForm):
    """A button that changes something: it carries only the CSRF token."""
