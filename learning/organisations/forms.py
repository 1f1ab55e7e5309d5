"""Forms of the organisation pages (Flask-WTF: every one carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, SelectMultipleField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class AssignmentForm(FlaskForm):
    """The rules (published course, due date from today, members only) are the service's."""

    course = SelectField(_l("Course"), validators=[DataRequired()])
    due_on = DateField(_l("Due date"), validators=[DataRequired()])
    all_members = BooleanField(_l("Every current member"))
    user_ids = SelectMultipleField(_l("Members"), coerce=int, validators=[Optional()])


class DomainsForm(FlaskForm):
    domains = TextAreaField(_l("E-mail domains"), validators=[Optional(), Length(max=6000)])


class JoinForm(FlaskForm):
    organisation = SelectField(_l("Organisation"), coerce=int, validators=[DataRequired()])


class ActionForm(FlaskForm):
    """A button that changes something: only its CSRF token."""
