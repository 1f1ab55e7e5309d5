"""Certificate forms: the admin's revocation (with its reason) and re-render buttons."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from learning.certificates.services import NOTE_MAX, REASON_MAX


class RevokeForm(FlaskForm):
    reason = TextAreaField(_l("Why is this certificate revoked?"),
                           description=_l("Public: shown to anyone who verifies the certificate."),
                           validators=[DataRequired(), Length(max=REASON_MAX)])
    note = TextAreaField(_l("Internal note (optional)"),
                         description=_l("For admins only: kept in the audit log, never shown publicly."),
                         validators=[Optional(), Length(max=NOTE_MAX)])


class RenderForm(FlaskForm):
    """Only a CSRF token: re-render the PDF."""
