"""Forms of the trainer's workspace (Flask-WTF: every one carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, Optional

from learning.cohorts.models import CAPACITY_MAX, NAME_MAX
from learning.i18n import country_choices


def rule_choices() -> list[tuple[str, str]]:
    return [("none", str(_l("Trainer sign-off only"))),
            ("all_sessions", str(_l("Present at every session"))),
            ("min_percent", str(_l("Present at a minimum share of sessions")))]


# The cohort forms parse what the page sends (presence, numbers, dates) and give the browser its hints;
# the rules on the values are ``learning.cohorts.services.validate_cohort``'s, whose refusals the views
# show under the fields.
class RuleFieldsMixin:
    capacity = IntegerField(_l("Places (leave empty for no limit)"), validators=[Optional()],
                            render_kw={"min": 1, "max": CAPACITY_MAX})
    attendance_rule = SelectField(_l("Completion rule"), default="none")
    attendance_min_percent = IntegerField(_l("Minimum share of sessions attended (%)"), validators=[Optional()],
                                          render_kw={"min": 1, "max": 100})
    trainers = SelectMultipleField(_l("Trainers"), coerce=int, validate_choice=True)

    def fill_rule_and_trainers(self, trainers) -> None:
        self.attendance_rule.choices = rule_choices()
        self.trainers.choices = [(t.id, f"{t.full_name} <{t.email}>") for t in trainers]

    def rule_data(self) -> dict:
        return {"capacity": self.capacity.data, "attendance_rule": self.attendance_rule.data,
                "attendance_min_percent": self.attendance_min_percent.data}


class CohortForm(RuleFieldsMixin, FlaskForm):
    course = SelectField(_l("Course"), validators=[DataRequired()])
    name = StringField(_l("Name"), validators=[DataRequired()], render_kw={"maxlength": NAME_MAX})
    country = SelectField(_l("Country"), validators=[DataRequired()])
    delivery = SelectField(_l("Delivery"), validators=[DataRequired()])
    starts_on = DateField(_l("Starts on"), validators=[DataRequired()])
    ends_on = DateField(_l("Ends on"), validators=[DataRequired()])

    def fill_choices(self, courses, course_title, trainers):
        self.course.choices = [("", "—")] + [(c.slug, course_title(c)) for c in courses]
        self.country.choices = [("", "—")] + country_choices()
        self.delivery.choices = [("in_person", str(_l("In person"))), ("online", str(_l("Online"))),
                                 ("blended", str(_l("Blended")))]
        self.fill_rule_and_trainers(trainers)
        return self


class SettingsForm(RuleFieldsMixin, FlaskForm):
    pass


class RosterUploadForm(FlaskForm):
    file = FileField(_l("Roster file (CSV)"), validators=[FileRequired(_l("Choose a CSV file."))])
    mode = RadioField(_l("If some rows have problems"), default="all_or_nothing")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mode.choices = [
            ("all_or_nothing", str(_l("Import nothing, so I can fix the file and upload it again"))),
            ("partial", str(_l("Import the good rows and list the others"))),
        ]


class SessionForm(FlaskForm):
    title = StringField(_l("Title"), validators=[Optional(), Length(max=200)])
    date = DateField(_l("Date"), validators=[DataRequired()])
    time = TimeField(_l("Time"), validators=[DataRequired()])
    place = StringField(_l("Place"), validators=[Optional(), Length(max=300)])


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class CheckInForm(FlaskForm):
    """A member types the code on the room's screen (the QR code's link fills it in)."""

    code = StringField(_l("Check-in code"), validators=[DataRequired(), Length(max=40)],
                       render_kw={"inputmode": "numeric", "autocapitalize": "off"})
