"""The admin's form for a new identity provider (Flask-WTF, with its CSRF token)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional


class ProviderForm(FlaskForm):
    kind = SelectField(_l("Protocol"), choices=[SelectChoice("oidc", "OpenID Connect"), SelectChoice("saml", "SAML 2.0")],
                       validators=[DataRequired()])
    name = StringField(_l("Name shown to people"), validators=[DataRequired(), Length(max=200)])
    slug = StringField(_l("Short name in the addresses"), validators=[DataRequired(), Length(max=64)])
    organisation = SelectField(_l("Organisation"), coerce=int, validators=[DataRequired()])
    domains = TextAreaField(_l("E-mail domains (one a line)"), validators=[DataRequired(), Length(max=5000)])
    discovery_url = StringField(_l("OpenID Connect discovery URL"), validators=[Optional(), Length(max=500)])
    client_id = StringField(_l("Client id"), validators=[Optional(), Length(max=255)])
    client_secret = PasswordField(_l("Client secret"), validators=[Optional(), Length(max=1000)])
    groups_claim = StringField(_l("Groups claim"), default="groups", validators=[Optional(), Length(max=100)])
    idp_metadata = TextAreaField(_l("SAML identity provider metadata (XML)"),
                                 validators=[Optional(), Length(max=200_000)])
    trust_email = BooleanField(_l("The identity provider's e-mail addresses are verified (SAML)"))
    trainer_group = StringField(_l("Group whose members are trainers"), validators=[Optional(), Length(max=255)])
    org_manager_group = StringField(_l("Group whose members manage the organisation"),
                                    validators=[Optional(), Length(max=255)])

    def fill_choices(self):
        from sqlalchemy import select

        from learning.accounts.models import Organisation
        from learning.extensions import db

        self.organisation.choices = [SelectChoice(0, "—")] + [
            SelectChoice(org.id, org.name) for org in db.session.scalars(select(Organisation).order_by(Organisation.name))]
        return self
