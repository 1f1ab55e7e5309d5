"""The admin's form for a course's knowledge tests, turned into the API's shape and back.

Like the course form (``learning.catalogue.forms``), it has no rules of its own: the definition
is checked by ``services.validate_definition`` and its errors come back by path
(``pre.questions.0.choices``) next to the field they name. Blank slots are ignored, and each
save brings back fresh ones, so the page works without JavaScript.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FieldList, FormField, RadioField, SelectChoice

from learning.catalogue.forms import (
    QuestionForm,
    blank_fields,
    dump_translations,
    load_translations,
)


class KnowledgeTestsForm(FlaskForm):
    pre_questions = FieldList(FormField(QuestionForm))
    post_mode = RadioField(_l("The post-test"), default="same", choices=[
        SelectChoice("same", _l("Asks the pre-test's questions again")),
        SelectChoice("parallel", _l("Asks parallel questions of its own (below)")),
    ])
    post_questions = FieldList(FormField(QuestionForm))

    def add_empty_slots(self) -> KnowledgeTestsForm:
        for questions in (self.pre_questions, self.post_questions):
            for question in questions:
                question.form.choices.append_entry()
            new = questions.append_entry()
            for _ in range(4):
                new.form.choices.append_entry()
        return self


def form_data_of(definition: dict) -> dict:
    """The tests (``services.definition_of``) as the form's initial data."""
    def questions(test: dict | None) -> list[dict]:
        return [{"text": q["text"], "translations": dump_translations(q["translations"]),
                 "choices": [{"text": c["text"], "correct": c["correct"], "translations": dump_translations(c["translations"])}
                             for c in q["choices"]]}
                for q in (test or {}).get("questions", [])]

    post = definition.get("post") or {}
    return {"pre_questions": questions(definition.get("pre")),
            "post_mode": "parallel" if post and not post.get("same_as_pre") else "same",
            "post_questions": questions(post)}


def definition_from(form: KnowledgeTestsForm) -> tuple[dict, dict]:
    """The API's definition from the form, and which form field each error path names."""
    where: dict = {"post": form.post_mode, "post.same_as_pre": form.post_mode,
                   "post.questions": form.post_mode}

    def questions(entries, kind: str) -> list[dict]:
        found = []
        for entry in entries:
            question = entry.form
            choices = [{"text": c.form.text.data, "correct": bool(c.form.correct.data),
                        "translations": load_translations(c.form.translations.data)}
                       for c in question.choices if not blank_fields(c.form.text.data)]
            if blank_fields(question.text.data) and not choices:
                continue
            path = f"{kind}.questions.{len(found)}"
            where[path] = where[f"{path}.text"] = where[f"{path}.choices"] = question.text
            found.append({"text": question.text.data, "choices": choices,
                          "translations": load_translations(question.translations.data)})
        return found

    pre = questions(form.pre_questions, "pre")
    post = questions(form.post_questions, "post")
    if not pre and not post:
        return {"pre": None, "post": None}, where
    if form.post_mode.data == "parallel":
        return {"pre": {"questions": pre}, "post": {"questions": post}}, where
    return {"pre": {"questions": pre}, "post": {"same_as_pre": True}}, where
