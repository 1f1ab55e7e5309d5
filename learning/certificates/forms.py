"""Certificate forms: the admin's revocation (with its reason) and re-render buttons."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from learning.certificates.services import REASON_MAX


class RevokeForm(FlaskForm):
    reason = TextAreaField(_l("Why is this certificate revoked?"),
                           validators=[DataRequired(), Length(max=REASON_MAX)])


class RenderForm(FlaskForm):
    """Only a CSRF token: re-render the PDF."""
