"""Forms of the learner's journey: buttons that change something, and the quiz."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice
from wtforms.validators import InputRequired

from learning.catalogue.models import Quiz
from learning.catalogue.texts import localised


class ActionForm(FlaskForm):
    """Enrol, mark as done, withdraw: a button carrying only the CSRF token."""


def quiz_form(quiz: Quiz, language: str, base_language: str, blank: bool = False) -> FlaskForm:
    """A form with one group of radio buttons per question, worded in the learner's language.

    Only question and choice ids and texts are in it: which choice is right stays on the server.
    """
    fields = {
        f"q{question.id}": RadioField(
            localised(question, "text", language, base_language),
            choices=[SelectChoice(choice.id, localised(choice, "text", language, base_language))
                     for choice in question.choices],
            coerce=int,
            validators=[InputRequired(message=_l("Choose an answer."))],
        )
        for question in quiz.questions
    }
    form_class = type("QuizForm", (FlaskForm,), fields)
    return form_class(formdata=None) if blank else form_class()


def answers_of(form: FlaskForm, quiz: Quiz) -> dict[str, int]:
    """The form's answers in the API's shape: ``{"<question_id>": <choice_id>}``."""
    return {str(q.id): getattr(form, f"q{q.id}").data for q in quiz.questions}
