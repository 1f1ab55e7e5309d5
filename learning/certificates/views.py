"""Certificate pages: the learner's certificates, the public verification page, the PDF,
the issuer's public keys, and the admin's search, revocation and re-render."""

from __future__ import annotations

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
from learning.parsing import page_number
from learning.web import admin_required

bp = Blueprint("certificates", __name__)

PER_PAGE = 50


def _public_limit() -> str:
    return current_app.config.get("CERTIFICATE_VERIFY_RATE_LIMIT", "120 per minute")


def _page() -> int:
    return page_number(request.args)


@bp.get("/certificates")
@login_required
def mine():
    items, total = services.certificates_of(current_user, _page(), PER_PAGE)
    slugs = dict(db.session.execute(
        db.select(Course.id, Course.slug).where(Course.id.in_({c.course_id for c in items}))
    ).all()) if items else {}
    return render_template("certificates/mine.html", certificates=items, total=total, page=_page(),
                           preparing=services.being_prepared(current_user),
                           per_page=PER_PAGE, now=utcnow(), slugs=slugs,
                           verify_url=services.verify_url, credential_url=credentials.credential_url)


@bp.app_template_global("certificate_state")
def certificate_state(enrolment) -> tuple[str, object]:
    """For templates: ``("ready", certificate)``, ``("preparing", None)`` or ``("not_completed", None)``."""
    return services.certificate_of_enrolment(current_user, enrolment.id)


@bp.get("/certificates/enrolments/<int:enrolment_id>.json")
@login_required
def enrolment_certificate(enrolment_id: int):
    """What the page's polling script asks: is this enrolment's certificate ready yet?"""
    state, certificate = services.certificate_of_enrolment(current_user, enrolment_id)
    body = {"enrolment_id": enrolment_id, "status": state}
    if certificate is not None:
        body |= {"code": certificate.code, "pdf_url": url_for("certificates.pdf", code=certificate.code),
                 "verify_url": url_for("certificates.verify", code=certificate.code),
                 "certificates_url": url_for("certificates.mine")}
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


# What names a holder is not kept by browsers or shared caches: after an erasure no cached copy
# may still show the name (DESIGN.md rule 8).
NO_STORE = {"Cache-Control": "no-store"}


@bp.get("/certificates/<code>.pdf")
@limiter.limit(_public_limit)
def pdf(code: str):
    certificate, data = services.pdf_of(code)
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="certificate-{certificate.code}.pdf"'
    response.headers.update(NO_STORE)
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
                           credential_url=credentials.credential_url(verification.code)), NO_STORE


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
    flash(_("Certificate %(code)s is revoked.", code=certificate.code), "success")
    return redirect(url_for("certificates.admin_detail", code=certificate.code))


@bp.post("/certificates/admin/<code>/render")
@admin_required
def admin_render(code: str):
    if not RenderForm().validate_on_submit():
        abort(400)
    certificate = services.rerender(current_user, code)
    flash(_("The PDF of certificate %(code)s was rendered again.", code=certificate.code), "success")
    return redirect(url_for("certificates.admin_detail", code=certificate.code))


@bp.cli.command("rotate-key")
def rotate_key_command():
    """Start signing credentials with a new Ed25519 key; the old ones stay in the JWKS."""
    import click

    key = keys.rotate_key()
    db.session.commit()  # a command is its own unit of work (views are wrapped by learning/transactions.py)
    click.echo(f"Now signing with {key.kid} ({key.did}).")
