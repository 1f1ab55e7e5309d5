"""Account pages: sign-up, sign-in, sign-out, e-mail verification, password reset, profile."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from learning.accounts import services
from learning.accounts.forms import ForgotPasswordForm, LoginForm, ProfileForm, ResetPasswordForm, SignUpForm
from learning.errors import DomainError
from learning.extensions import db, limiter

bp = Blueprint("accounts", __name__, url_prefix="/account")


def _apply_field_errors(form, error: DomainError) -> None:
    for name, messages in (error.fields or {}).items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = list(field.errors) + list(messages)
        else:
            flash("; ".join(messages), "error")
    if not error.fields:
        flash(error.message, "error")


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("home.index")


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["SIGNUP_RATE_LIMIT"], methods=["POST"])
def signup():
    form = SignUpForm().fill_choices()
    if request.method == "GET" and not form.language.data:
        from learning.i18n import current_language

        form.language.data = current_language()
    if form.validate_on_submit():
        try:
            user = services.register_user(form.data)
        except DomainError as error:
            db.session.rollback()
            _apply_field_errors(form, error)
        else:
            db.session.commit()
            login_user(user)
            flash(_("Welcome! We sent you an e-mail to confirm your address."), "success")
            return redirect(url_for("home.index"))
    return render_template("accounts/signup.html", form=form), 422 if form.errors else 200


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data, ip=request.remote_addr)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
def logout():
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("home.index"))


@bp.get("/verify/<token>")
def verify(token: str):
    try:
        services.verify_email(token)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return render_template("accounts/message.html", title=_("E-mail not confirmed")), 400
    db.session.commit()
    flash(_("Your e-mail address is confirmed."), "success")
    return redirect(url_for("home.index"))


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        db.session.commit()
        flash(_("If an account uses this address, we sent it a link to choose a new password."), "info")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data)
        except DomainError as error:
            db.session.rollback()
            _apply_field_errors(form, error)
        else:
            db.session.commit()
            flash(_("Your password is set. Sign in with it."), "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/reset.html", form=form)


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    form = ProfileForm(obj=current_user).fill_choices()
    if request.method == "GET":
        form.organisation.data = current_user.organisation.name if current_user.organisation else ""
    if form.validate_on_submit():
        try:
            services.update_profile(current_user, form.data)
        except DomainError as error:
            db.session.rollback()
            _apply_field_errors(form, error)
        else:
            db.session.commit()
            flash(_("Your profile is saved."), "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/profile.html", form=form)
