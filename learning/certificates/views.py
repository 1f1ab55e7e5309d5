"""Certificate pages: the learner's certificates, the public verification page, the PDF,
the issuer's public keys, and the admin's search, revocation and re-render."""

from __future__ import annotations

from functools import wraps

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from learning.catalogue.models import Course
from learning.certificates import credentials, keys, services
from learning.certificates.forms import RenderForm, RevokeForm
from learning.errors import DomainError, NotFound
from learning.extensions import db, limiter
from learning.models_base import utcnow

bp = Blueprint("certificates", __name__)

PER_PAGE = 50


def _public_limit() -> str:
    return current_app.config.get("CERTIFICATE_VERIFY_RATE_LIMIT", "120 per minute")


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _page() -> int:
    try:
        return max(1, int(request.args.get("page", 1)))
    except ValueError:
        return 1


@bp.get("/certificates")
@login_required
def mine():
    items, total = services.certificates_of(current_user, _page(), PER_PAGE)
    slugs = dict(db.session.execute(
        db.select(Course.id, Course.slug).where(Course.id.in_({c.course_id for c in items}))
    ).all()) if items else {}
    return render_template("certificates/mine.html", certificates=items, total=total, page=_page(),
                           per_page=PER_PAGE, now=utcnow(), slugs=slugs,
                           verify_url=services.verify_url, credential_url=credentials.credential_url)


@bp.get("/certificates/<code>.pdf")
@limiter.limit(_public_limit)
def pdf(code: str):
    certificate, data = services.pdf_of(code)
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="certificate-{certificate.code}.pdf"'
    return response


@bp.get("/verify")
def verify_form():
    code = (request.args.get("code") or "").strip()
    if code:
        return redirect(url_for("certificates.verify", code=code))
    return render_template("certificates/verify_form.html")


@bp.get("/verify/<code>")
@limiter.limit(_public_limit)
def verify(code: str):
    try:
        verification = services.verify(code)
    except NotFound as error:
        return render_template("certificates/verify_unknown.html", code=code, message=error.message), 404
    return render_template("certificates/verify.html", v=verification,
                           credential_url=credentials.credential_url(verification.code))


@bp.get("/.well-known/jwks.json")
def jwks():
    keys.active_key()  # the first request publishes a key even before any certificate is issued
    response = jsonify(keys.jwks())
    response.cache_control.max_age = 300
    response.cache_control.public = True
    return response


@bp.get("/certificates/admin")
@admin_required
def admin():
    query = (request.args.get("q") or "").strip()
    status = request.args.get("status") or None
    if status not in (None, "valid", "expired", "revoked"):
        status = None
    items, total = services.search(query, status, _page(), PER_PAGE)
    return render_template("certificates/admin.html", certificates=items, total=total, q=query,
                           status=status, page=_page(), per_page=PER_PAGE, now=utcnow(),
                           revoke_form=RevokeForm(), render_form=RenderForm())


@bp.get("/certificates/admin/<code>")
@admin_required
def admin_detail(code: str):
    certificate = services.find_by_code(code)
    return render_template("certificates/admin_detail.html", c=certificate, now=utcnow(),
                           holder=services.holder_name_of(certificate),
                           revoke_form=RevokeForm(), render_form=RenderForm())


@bp.post("/certificates/admin/<code>/revoke")
@admin_required
def admin_revoke(code: str):
    form = RevokeForm()
    if not form.validate_on_submit():
        flash(_("Say why the certificate is revoked."), "error")
        return redirect(url_for("certificates.admin_detail", code=code))
    try:
        certificate = services.revoke(current_user, code, form.reason.data, form.note.data)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("certificates.admin_detail", code=code))
    db.session.commit()
    flash(_("Certificate %(code)s is revoked.", code=certificate.code), "success")
    return redirect(url_for("certificates.admin_detail", code=certificate.code))


@bp.post("/certificates/admin/<code>/render")
@admin_required
def admin_render(code: str):
    if not RenderForm().validate_on_submit():
        abort(400)
    certificate = services.rerender(current_user, code)
    db.session.commit()
    flash(_("The PDF of certificate %(code)s was rendered again.", code=certificate.code), "success")
    return redirect(url_for("certificates.admin_detail", code=certificate.code))


@bp.cli.command("rotate-key")
def rotate_key_command():
    """Start signing credentials with a new Ed25519 key; the old ones stay in the JWKS."""
    import click

    key = keys.rotate_key()
    db.session.commit()
    click.echo(f"Now signing with {key.kid} ({key.did}).")
