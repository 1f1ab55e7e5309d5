"""The evaluation form: a group of radio buttons per rating or choice, a text box per open question.

The form carries the CSRF token and the wording; what an answer may be is the service's rule
(``services.clean_answers``), so a page and the API refuse the same answers with the same words.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, TextAreaField

from learning.evaluations.questions import SCALE, TEXT, Question


def evaluation_form(questions: list[Question]) -> FlaskForm:
    """One field per question, named by its key; every answer optional."""
    fields = {}
    for question in questions:
        if question.kind == TEXT:
            fields[question.key] = TextAreaField(question.text)
        else:
            values = [str(value) for value in question.values]
            labels = [question.label_of(value) for value in question.values] if question.kind != SCALE else values
            fields[question.key] = RadioField(question.text, choices=[SelectChoice(v, label)
                                                                     for v, label in zip(values, labels, strict=True)],
                                              validate_choice=False)
    return type("EvaluationForm", (FlaskForm,), fields)()


def answers_of(form: FlaskForm, questions: list[Question]) -> dict[str, str | None]:
    """What was posted, by question key, for the service to check."""
    return {question.key: getattr(form, question.key).data for question in questions}
