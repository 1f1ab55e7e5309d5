"""The one place that checks a course definition, as the API, the import and the forms send it.

Every problem is collected and named by its path (``modules.0.lessons.1.title``)
so that a caller can show them all at once; nothing is written here.
"""

from __future__ import annotations

import re

from flask_babel import gettext as _

from learning.i18n import is_sector, normalise_language
from learning.text import single_line

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_SLUG = 100
MAX_TITLE = 300
MAX_SUMMARY = 5000
MAX_BODY = 200_000
MAX_CHOICE = 2000
PASS_MARK = (0, 100)
VALIDITY_MONTHS = (1, 240)
ESTIMATED_MINUTES = (1, 100_000)


class CourseErrors(dict):
    """``{"field.path": ["message", ...]}``, the shape of the API's error ``fields``."""

    def add(self, field: str, message: str) -> None:
        self.setdefault(field, []).append(message)


def _text(errors: CourseErrors, field: str, value, required: bool = True, max_len: int = MAX_TITLE) -> str | None:
    if isinstance(value, str) and field.rsplit(".", 1)[-1] == "title":
        # Titles are one line: they head pages, PDFs and e-mail subjects (a CR/LF broke every mail).
        value = single_line(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(field, _("This field is required."))
        return None if value is None else ""
    if not isinstance(value, str):
        errors.add(field, _("Must be text."))
        return None
    if len(value) > max_len:
        errors.add(field, _("Use at most %(n)d characters.", n=max_len))
        return None
    return value.strip()


def _whole_number(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _optional_id(errors: CourseErrors, field: str, item: dict) -> int | None:
    """The id of an existing part when editing; new parts have none."""
    value = item.get("id")
    if value is None:
        return None
    if not _whole_number(value, 1, 2**63 - 1):
        errors.add(f"{field}.id", _("Must be the id of an existing part, or left out for a new one."))
        return None
    return value


def validate_course_data(data: dict, partial: bool = False) -> tuple[dict, CourseErrors]:
    """Check a course definition as the API and forms send it; collect every problem."""
    errors = CourseErrors()
    clean: dict = {}
    if not isinstance(data, dict):
        errors.add("_schema", _("A JSON object is required."))
        return clean, errors
    if not partial or "slug" in data:
        slug = data.get("slug")
        if not isinstance(slug, str) or not SLUG_RE.match(slug or "") or len(slug) > MAX_SLUG:
            errors.add("slug", _("Use lower-case letters, digits and hyphens (e.g. 'safeguarding-basics')."))
        else:
            clean["slug"] = slug
    if not partial or "title" in data:
        clean["title"] = _text(errors, "title", data.get("title"))
    if not partial or "summary" in data:
        clean["summary"] = _text(errors, "summary", data.get("summary"), required=False, max_len=MAX_SUMMARY) or ""
    if not partial or "language" in data:
        language = normalise_language(data.get("language"))
        if language is None:
            errors.add("language", _("Not a BCP 47 language tag: %(tag)r", tag=data.get("language")))
        clean["language"] = language
    if "pass_mark" in data:
        mark = data["pass_mark"]
        if not _whole_number(mark, *PASS_MARK):
            errors.add("pass_mark", _("Must be a whole number from 0 to 100."))
        else:
            clean["pass_mark"] = mark
    if "certificate_validity_months" in data:
        months = data["certificate_validity_months"]
        if months is not None and not _whole_number(months, *VALIDITY_MONTHS):
            errors.add("certificate_validity_months", _("Must be a number of months from 1 to 240, or null."))
        else:
            clean["certificate_validity_months"] = months
    if "max_quiz_attempts" in data:
        attempts = data["max_quiz_attempts"]
        if attempts is not None and not _whole_number(attempts, 1, 1000):
            errors.add("max_quiz_attempts", _("Must be a number of attempts from 1 to 1000, or null (no limit)."))
        else:
            clean["max_quiz_attempts"] = attempts
    if "quiz_cooldown_minutes" in data:
        cooldown = data["quiz_cooldown_minutes"]
        if not _whole_number(cooldown, 0, 525600):
            errors.add("quiz_cooldown_minutes", _("Must be a number of minutes from 0 to 525600."))
        else:
            clean["quiz_cooldown_minutes"] = cooldown
    if "estimated_minutes" in data:
        minutes = data["estimated_minutes"]
        if minutes is not None and not _whole_number(minutes, *ESTIMATED_MINUTES):
            errors.add("estimated_minutes", _("Must be a positive number of minutes, or null."))
        else:
            clean["estimated_minutes"] = minutes
    if "sectors" in data:
        sectors = data["sectors"]
        if not isinstance(sectors, list) or not all(isinstance(s, str) and is_sector(s) for s in sectors):
            errors.add("sectors", _("Must be a list of sector codes."))
        else:
            clean["sectors"] = list(dict.fromkeys(sectors))
    if "translations" in data:
        clean["translations"] = _validate_translations(errors, data["translations"])
    if not partial or "modules" in data:
        clean["modules"] = _validate_modules(errors, data.get("modules"))
    if "quiz" in data:
        clean["quiz"] = validate_quiz(errors, data["quiz"])
    return clean, errors


def _validate_translations(errors: CourseErrors, translations) -> dict:
    clean: dict = {}
    if translations is None:
        return clean
    if not isinstance(translations, dict):
        errors.add("translations", _('Must be an object such as {"es": {"title": ..., "summary": ...}}.'))
        return clean
    for tag, texts in translations.items():
        language = normalise_language(tag)
        field = f"translations.{tag}"
        if language is None:
            errors.add(field, _("Not a BCP 47 language tag: %(tag)r", tag=tag))
            continue
        if not isinstance(texts, dict):
            errors.add(field, _("Must be an object with title and summary."))
            continue
        title = _text(errors, f"{field}.title", texts.get("title"))
        summary = _text(errors, f"{field}.summary", texts.get("summary"), required=False, max_len=MAX_SUMMARY) or ""
        clean[language] = {"title": title, "summary": summary}
    return clean


def _validate_item_translations(errors: CourseErrors, field: str, value, limits: dict[str, int]) -> dict:
    """Translations of a module, lesson, question or choice: ``{"es": {"title": ...}}``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.add(f"{field}.translations", _("Must be an object keyed by language tag."))
        return {}
    clean: dict = {}
    for tag, texts in value.items():
        tfield = f"{field}.translations.{tag}"
        language = normalise_language(tag)
        if language is None:
            errors.add(tfield, _("Not a BCP 47 language tag: %(tag)r", tag=tag))
            continue
        if not isinstance(texts, dict) or not set(texts) <= set(limits):
            errors.add(tfield, _("Must be an object with only these keys: %(keys)s.", keys=", ".join(limits)))
            continue
        clean[language] = {
            key: text for key, max_len in limits.items()
            if (text := _text(errors, f"{tfield}.{key}", texts.get(key), required=False, max_len=max_len))
        }
    return clean


def _validate_modules(errors: CourseErrors, modules) -> list:
    if not isinstance(modules, list) or not modules:
        errors.add("modules", _("A course needs at least one module with at least one lesson."))
        return []
    clean = []
    for m_index, module in enumerate(modules):
        field = f"modules.{m_index}"
        if not isinstance(module, dict):
            errors.add(field, _("Must be an object with title and lessons."))
            continue
        lessons = module.get("lessons")
        clean_lessons = []
        if not isinstance(lessons, list) or not lessons:
            errors.add(f"{field}.lessons", _("A module needs at least one lesson."))
        else:
            for l_index, lesson in enumerate(lessons):
                lfield = f"{field}.lessons.{l_index}"
                if not isinstance(lesson, dict):
                    errors.add(lfield, _("Must be an object with title and body."))
                    continue
                clean_lessons.append({
                    "id": _optional_id(errors, lfield, lesson),
                    "title": _text(errors, f"{lfield}.title", lesson.get("title")),
                    "body": _text(errors, f"{lfield}.body", lesson.get("body"), required=False, max_len=MAX_BODY) or "",
                    "translations": _validate_item_translations(
                        errors, lfield, lesson.get("translations"), {"title": MAX_TITLE, "body": MAX_BODY}),
                })
        clean.append({
            "id": _optional_id(errors, field, module),
            "title": _text(errors, f"{field}.title", module.get("title")),
            "lessons": clean_lessons,
            "translations": _validate_item_translations(errors, field, module.get("translations"), {"title": MAX_TITLE}),
        })
    return clean


def validate_quiz(errors: CourseErrors, quiz) -> dict | None:
    if quiz is None:
        return None
    if not isinstance(quiz, dict) or not isinstance(quiz.get("questions"), list) or not quiz["questions"]:
        errors.add("quiz.questions", _("A quiz needs at least one question."))
        return None
    questions = []
    for q_index, question in enumerate(quiz["questions"]):
        field = f"quiz.questions.{q_index}"
        if not isinstance(question, dict):
            errors.add(field, _("Must be an object with text and choices."))
            continue
        choices = question.get("choices")
        clean_choices = []
        if not isinstance(choices, list) or len(choices) < 2:
            errors.add(f"{field}.choices", _("A question needs at least two choices."))
        else:
            for c_index, choice in enumerate(choices):
                cfield = f"{field}.choices.{c_index}"
                if not isinstance(choice, dict):
                    errors.add(cfield, _("Must be an object with text and correct."))
                    continue
                correct = choice.get("correct", False)
                if not isinstance(correct, bool):
                    errors.add(f"{cfield}.correct", _("Must be true or false."))
                clean_choices.append({
                    "text": _text(errors, f"{cfield}.text", choice.get("text"), max_len=MAX_CHOICE),
                    "correct": correct is True,
                    "translations": _validate_item_translations(errors, cfield, choice.get("translations"), {"text": 2000}),
                })
            if clean_choices and not any(c["correct"] for c in clean_choices):
                errors.add(f"{field}.choices", _("Mark at least one choice as correct."))
        questions.append({
            "text": _text(errors, f"{field}.text", question.get("text"), max_len=MAX_SUMMARY),
            "choices": clean_choices,
            "translations": _validate_item_translations(errors, field, question.get("translations"), {"text": MAX_SUMMARY}),
        })
    return {"questions": questions}
