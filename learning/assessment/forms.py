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
    add_question_slots,
    dump_translations,
    questions_from,
)


class KnowledgeTestsForm(FlaskForm):
    pre_questions = FieldList(FormField(QuestionForm))
    post_mode = RadioField(_l("The post-test"), default="same", choices=[
        SelectChoice("same", _l("Asks the pre-test's questions again")),
        SelectChoice("parallel", _l("Asks parallel questions of its own (below)")),
    ])
    post_questions = FieldList(FormField(QuestionForm))

    def add_empty_slots(self) -> KnowledgeTestsForm:
        add_question_slots(self.pre_questions)
        add_question_slots(self.post_questions)
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

    pre = questions_from(form.pre_questions, "pre", where)
    post = questions_from(form.post_questions, "post", where)
    if not pre and not post:
        return {"pre": None, "post": None}, where
    if form.post_mode.data == "parallel":
        return {"pre": {"questions": pre}, "post": {"questions": post}}, where
    return {"pre": {"questions": pre}, "post": {"same_as_pre": True}}, where
