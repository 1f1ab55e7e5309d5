"""The admins' pages for people (``/admin/users/``): find, change roles and managed
organisations, disable and re-enable, send a password reset, erase on request.

Each page parses, authorises, calls one function of ``learning.accounts.management``
(the same ones the API calls) and renders; every change is audited there.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from learning.accounts import management, services
from learning.accounts.forms import (
    EraseUserForm,
    RolesForm,
    UserActionForm,
    UserFilterForm,
    role_choices,
)
from learning.errors import DomainError
from learning.extensions import db
from learning.parsing import page_number
from learning.web import admin_required

bp = Blueprint("admin_users", __name__, url_prefix="/admin/users")

PER_PAGE = 50


@bp.app_template_filter("role_label")
@bp.app_template_global("role_label")
def role_label(role: str) -> str:
    """A role's name in the reader's language."""
    return dict(role_choices()).get(role, role)


@bp.app_template_global("status_label")
def status_label(status: str) -> str:
    """An account status (``active``, ``disabled``, ``erased``) in the reader's language."""
    return {"active": _("Active"), "disabled": _("Disabled"), "erased": _("Erased")}.get(status, status)


@bp.get("/")
@admin_required
def index():
    form = UserFilterForm(request.args, meta={"csrf": False}).fill_choices(management.organisation_choices())
    page = page_number(request.args)
    filters = management.UserFilters(q=form.q.data, role=form.role.data, country=form.country.data,
                                     organisation=form.organisation.data, status=form.status.data)
    try:
        users, total = management.search_users(filters, page=page, per_page=PER_PAGE)
    except DomainError as error:
        for name, messages in (error.fields or {}).items():
            getattr(form, name).errors = list(messages)
        users, total = [], 0
    query = {key: value for key, value in request.args.items() if key != "page" and value}
    return render_template("accounts/admin/users.html", form=form, users=users, total=total, page=page,
                           pages=max(1, -(-total // PER_PAGE)), query=query, status_of=management.status_of)


def _render_user(user, roles_form=None, status: int = 200):
    if roles_form is None:
        roles_form = RolesForm(formdata=None).fill_choices(management.organisation_choices())
        roles_form.roles.data = [role for role in user.roles if role != "learner"]
        roles_form.managed_organisations.data = [org.id for org in user.managed_organisations]
    return render_template("accounts/admin/user.html", user=user, roles_form=roles_form,
                           action_form=UserActionForm(formdata=None), status=management.status_of(user),
                           erasure_pending=management.erasure_pending(user)), status


@bp.get("/<int:user_id>")
@admin_required
def show(user_id: int):
    return _render_user(services.get_user(user_id))


@bp.post("/<int:user_id>/roles")
@admin_required
def roles(user_id: int):
    user = services.get_user(user_id)
    form = RolesForm().fill_choices(management.organisation_choices())
    if not form.validate_on_submit():
        return _render_user(user, form, 422)
    try:
        roles = ["learner", *(form.roles.data or [])]
        # Unticking "organisation manager" ends the management of whatever is still selected.
        managed = (form.managed_organisations.data or []) if "org_manager" in roles else []
        management.set_roles(current_user, user, roles, managed)
    except DomainError as error:
        db.session.rollback()
        for name, messages in (error.fields or {}).items():
            field = getattr(form, name, None)
            if field is not None:
                field.errors = list(field.errors) + list(messages)
        if not error.fields:
            flash(error.message, "error")
        return _render_user(db.session.get(type(user), user_id), form, error.status)
    flash(_("The roles of %(name)s are saved.", name=user.full_name or user.email), "success")
    return redirect(url_for("admin_users.show", user_id=user.id))


def _action(user_id: int, act, done: str):
    """Run one of the buttons' actions; a refused one is flashed and changes nothing."""
    user = services.get_user(user_id)
    if not UserActionForm().validate_on_submit():
        abort(400)
    try:
        act(current_user, user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        flash(done(user.full_name or user.email), "success")
    return redirect(url_for("admin_users.show", user_id=user_id))


@bp.post("/<int:user_id>/disable")
@admin_required
def disable(user_id: int):
    return _action(user_id, management.disable_user, lambda name: _(
        "%(name)s can no longer sign in; their sessions and API tokens have ended.", name=name))


@bp.post("/<int:user_id>/enable")
@admin_required
def enable(user_id: int):
    return _action(user_id, management.enable_user, lambda name: _("%(name)s can sign in again.", name=name))


@bp.post("/<int:user_id>/password-reset")
@admin_required
def password_reset(user_id: int):
    return _action(user_id, management.send_password_reset, lambda name: _(
        "A link to choose a new password was sent to %(name)s.", name=name))


@bp.route("/<int:user_id>/erase", methods=["GET", "POST"])
@admin_required
def erase(user_id: int):
    """Erasure at the person's request, after the admin confirms by typing their e-mail address."""
    user = services.get_user(user_id)
    form = EraseUserForm()
    if form.validate_on_submit():
        if (form.email.data or "").strip().lower() != user.email:
            form.email.errors = [_("Type the person's e-mail address exactly to confirm.")]
        else:
            try:
                management.erase_user_on_request(current_user, user)
            except DomainError as error:
                db.session.rollback()
                flash(error.message, "error")
                return redirect(url_for("admin_users.show", user_id=user.id))
            flash(_("The account is closed and its personal data is being erased."), "success")
            return redirect(url_for("admin_users.show", user_id=user.id))
    return render_template("accounts/admin/erase.html", user=user, form=form), 422 if form.errors else 200
