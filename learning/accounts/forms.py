"""Account forms (Flask-WTF: every one carries a CSRF token)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from learning.i18n import country_choices, language_choices, sector_choices


class ProfileFieldsMixin:
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    country = SelectField(_l("Country"), validators=[DataRequired()])
    sector = SelectField(_l("Sector"), validators=[DataRequired()])
    language = SelectField(_l("Language"), validators=[DataRequired()])
    organisation = StringField(_l("Organisation"), validators=[Optional(), Length(max=200)])

    def fill_choices(self):
        self.country.choices = [("", "—")] + country_choices()
        self.sector.choices = [("", "—")] + sector_choices()
        self.language.choices = language_choices()
        return self


class SignUpForm(ProfileFieldsMixin, FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=10, max=256)])


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    remember = BooleanField(_l("Keep me signed in"))


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email()])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=10, max=256)])
    confirm = PasswordField(
        _l("Repeat the password"), validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))]
    )


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=10, max=256)])
    confirm = PasswordField(
        _l("Repeat the password"), validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))]
    )


class ProfileForm(ProfileFieldsMixin, FlaskForm):
    timezone = StringField(_l("Time zone"), validators=[DataRequired(), Length(max=64)])
    reminders_enabled = BooleanField(_l("Send me reminders by e-mail"))


class TwoFactorCodeForm(FlaskForm):
    code = StringField(_l("Six-digit code from your app"), validators=[DataRequired(), Length(min=6, max=7)])


class DisableTwoFactorForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    code = StringField(_l("Six-digit code from your app"), validators=[DataRequired(), Length(min=6, max=7)])


class EraseAccountForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    confirm = BooleanField(_l("I understand that my account and personal data will be erased."),
                           validators=[DataRequired()])


class UserFilterForm(FlaskForm):
    """The admin's search over people (a GET form: no CSRF token)."""

    q = StringField(_l("Name or e-mail"), validators=[Optional(), Length(max=254)])
    role = SelectField(_l("Role"), validators=[Optional()])
    country = SelectField(_l("Country"), validators=[Optional()])
    organisation = SelectField(_l("Organisation"), validators=[Optional()])
    status = SelectField(_l("Status"), validators=[Optional()])

    def fill_choices(self, organisations):
        self.role.choices = [("", _l("Any role"))] + role_choices()
        self.country.choices = [("", _l("Any country"))] + country_choices()
        self.organisation.choices = [("", _l("Any organisation"))] + [(str(o.id), o.name) for o in organisations]
        self.status.choices = [("", _l("Any status")), ("active", _l("Active")), ("disabled", _l("Disabled")),
                               ("erased", _l("Erased"))]
        return self


def role_choices() -> list[tuple[str, str]]:
    return [("learner", str(_l("Learner"))), ("trainer", str(_l("Trainer"))),
            ("org_manager", str(_l("Organisation manager"))), ("admin", str(_l("Administrator")))]


class RolesForm(FlaskForm):
    roles = SelectMultipleField(_l("Roles"), widget=ListWidget(prefix_label=False),
                                option_widget=CheckboxInput(), validate_choice=True)
    managed_organisations = SelectMultipleField(_l("Organisations they manage"), coerce=int,
                                                validate_choice=True)

    def fill_choices(self, organisations):
        self.roles.choices = [choice for choice in role_choices() if choice[0] != "learner"]
        self.managed_organisations.choices = [(o.id, o.name) for o in organisations]
        return self


class UserActionForm(FlaskForm):
    """A button that changes an account: only the CSRF token."""


class EraseUserForm(FlaskForm):
    email = StringField(_l("Type the person's e-mail address to confirm"),
                        validators=[DataRequired(), Length(max=254)])
