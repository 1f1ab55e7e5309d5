"""Account pages: sign-up, sign-in, sign-out, e-mail verification, password reset, profile."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user

from learning.accounts import services, sessions, throttling, twofactor
from learning.accounts import tokens as api_tokens
from learning.accounts.forms import (
    ChangePasswordForm,
    DisableTwoFactorForm,
    EraseAccountForm,
    ForgotPasswordForm,
    LoginForm,
    ProfileForm,
    ResetPasswordForm,
    SignUpForm,
    TwoFactorCodeForm,
)
from learning.accounts.models import User
from learning.audit.services import record as audit_record
from learning.errors import DomainError
from learning.extensions import db, limiter
from learning.security import safe_redirect_target
from learning.web import apply_field_errors

bp = Blueprint("accounts", __name__, url_prefix="/account")


def _safe_next(target: str | None) -> str:
    return safe_redirect_target(target, url_for("home.index"))


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
            apply_field_errors(form, error)
        else:
            from learning.organisations.services import place_new_member

            joining = place_new_member(user)  # a partner organisation is joined once its manager confirms
            sessions.sign_in(user)
            flash(_("Welcome! We sent you an e-mail to confirm your address."), "success")
            if joining is not None:
                flash(_("Your request to join %(name)s awaits its manager's confirmation.",
                        name=joining.organisation.name), "info")
            return redirect(url_for("home.index"))
    return render_template("accounts/signup.html", form=form), 422 if form.errors else 200


def _remember_device(response, user):
    """After a right password: this browser is the owner's, so others' failures will not slow it."""
    response.set_cookie(throttling.DEVICE_COOKIE, throttling.device_cookie_for(user),
                        max_age=throttling.DEVICE_COOKIE_MAX_AGE, path=url_for("accounts.login"),
                        secure=current_app.config.get("SESSION_COOKIE_SECURE", False), httponly=True, samesite="Lax")
    return response


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        known = throttling.device_knows(request.cookies.get(throttling.DEVICE_COOKIE),
                                        services.normalise_email(form.email.data))
        try:
            user = services.authenticate(form.email.data, form.password.data, ip=request.remote_addr,
                                         known_device=known)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            if user.totp_secret:
                session["two_factor_pending"] = {"user_id": user.id, "version": user.session_version,
                                                 "remember": bool(form.remember.data)}
                response = redirect(url_for("accounts.login_two_factor", next=_safe_next(request.args.get("next"))))
                return _remember_device(response, user)
            services.record_sign_in(user, "password")
            sessions.sign_in(user, remember=form.remember.data)
            return _remember_device(redirect(_safe_next(request.args.get("next"))), user)
    return render_template("accounts/login.html", form=form)


def _pending_user():
    """The person who gave the right password in this browser and now owes the code, if any."""
    pending = session.get("two_factor_pending")
    if not isinstance(pending, dict) or not isinstance(pending.get("user_id"), int):
        return None, {}
    user = db.session.get(User, pending["user_id"])
    if user is None or not user.is_active or not user.totp_secret or user.session_version != pending.get("version"):
        return None, {}
    return user, pending


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login_two_factor():
    user, pending = _pending_user()
    if user is None:
        return redirect(url_for("accounts.login"))
    form = TwoFactorCodeForm()
    if form.validate_on_submit():
        try:
            twofactor.check_code(user, form.code.data)
        except DomainError as error:
            db.session.rollback()
            form.code.errors = [error.message]
            audit_record(None, "user.sign_in_failed", "user", user.id, reason="two_factor_code")
        else:
            session.pop("two_factor_pending", None)
            services.record_sign_in(user, "two_factor")
            sessions.sign_in(user, remember=pending.get("remember", False))
            return redirect(_safe_next(request.args.get("next")))
    return render_template("accounts/login_code.html", form=form)


@bp.route("/two-factor", methods=["GET", "POST"])
@login_required
def two_factor():
    """Set up (or turn off) two-factor sign-in."""
    user = current_user._get_current_object()  # the User itself: services and Flask-Login keep it
    if user.totp_secret:
        form = DisableTwoFactorForm()
        if form.validate_on_submit():
            try:
                twofactor.disable(user, form.password.data, form.code.data)
            except DomainError as error:
                db.session.rollback()
                apply_field_errors(form, error)
            else:
                flash(_("Two-factor sign-in is off. Your other sessions and your API tokens have ended."), "info")
                return redirect(url_for("accounts.profile"))
        return render_template("accounts/two_factor_on.html", form=form)
    form = TwoFactorCodeForm()
    secret = session.get("two_factor_secret") or twofactor.new_secret()
    session["two_factor_secret"] = secret
    if form.validate_on_submit():
        try:
            twofactor.enable(user, secret, form.code.data)
        except DomainError as error:
            db.session.rollback()
            apply_field_errors(form, error)
        else:
            session.pop("two_factor_secret", None)
            # A new session key for the stronger sign-in (no fixation); the User, never the proxy.
            sessions.renew(user)
            flash(_("Two-factor sign-in is on. Your other sessions and your API tokens have ended."), "success")
            return redirect(url_for("accounts.profile"))
    uri = twofactor.provisioning_uri(user, secret)
    return render_template("accounts/two_factor_setup.html", form=form, secret=secret,
                           qr=twofactor.qr_data_uri(uri))


@bp.before_app_request
def identify_the_caller():
    """Load the signed-in person before the view runs. The session loader may record "last seen"
    and commit; doing it first means it never commits a view's unfinished work.

    Not for an API call with a bearer token: the token decides who calls (``learning/api/auth.py``
    never looks at the session then), so the session's person is loaded only if something asks
    (docs/PERFORMANCE.md, "hotpath4": Flask-Login's identifier hash and loader on every such call)."""
    if request.endpoint == "static" or _bearer_api_call():
        return
    current_user._get_current_object()


def _bearer_api_call() -> bool:
    return request.path.startswith("/api/") and request.headers.get("Authorization", "")[:7].lower() == "bearer "


@bp.before_app_request
def require_two_factor_for_admins():
    """Where configured (production by default), admins set up two-factor sign-in before anything else."""
    if not current_app.config.get("ADMIN_2FA_REQUIRED"):
        return None
    endpoint = request.endpoint or ""
    # The API refuses such an admin itself, with its JSON error (learning/api/auth.py). Looked at
    # first, so that an API call with a bearer token does not load the session's person for nothing.
    if endpoint.startswith(("accounts.", "static", "api_", "openapi.")) or endpoint == "home.index":
        return None
    if not current_user.is_authenticated or not current_user.is_admin or current_user.totp_secret:
        return None
    flash(_("Administrators must turn on two-factor sign-in first."), "error")
    return redirect(url_for("accounts.two_factor"))


@bp.post("/logout")
def logout():
    """Sign out: the session ends on the server, so a copy of its cookie is worth nothing."""
    sessions.sign_out(current_user._get_current_object() if current_user.is_authenticated else None)
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
    flash(_("Your e-mail address is confirmed."), "success")
    return redirect(url_for("home.index"))


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
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
            apply_field_errors(form, error)
        else:
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
            apply_field_errors(form, error)
        else:
            flash(_("Your profile is saved."), "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/profile.html", form=form)


@bp.get("/data.json")
@login_required
def download_data():
    """Everything held on the signed-in person, as a JSON file."""
    from learning.accounts.privacy import export_personal_data
    from learning.audit.services import record

    data = export_personal_data(current_user)
    record(current_user.id, "user.data_exported", "user", current_user.id)
    response = jsonify(data)
    response.headers["Content-Disposition"] = "attachment; filename=my-learning-data.json"
    return response


@bp.route("/erase", methods=["GET", "POST"])
@login_required
def erase_account():
    """Erase my account: personal data goes, anonymous statistics stay."""
    from learning.accounts.passwords import verify_password
    from learning.accounts.privacy import request_erasure

    form = EraseAccountForm()
    if form.validate_on_submit():
        if not verify_password(current_user.password_hash, form.password.data):
            form.password.errors = [_("Wrong password.")]
        else:
            request_erasure(current_user._get_current_object())
            logout_user()
            flash(_("Your account is closed and your personal data is being erased."), "info")
            return redirect(url_for("home.index"))
    return render_template("accounts/erase.html", form=form)


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Choose a new password; every other session and every API token ends."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user._get_current_object(), form.current_password.data,
                                     form.password.data)
        except DomainError as error:
            db.session.rollback()
            apply_field_errors(form, error)
        else:
            flash(_("Your password is changed. Your other sessions and your API tokens have ended."), "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/password.html", form=form), 422 if form.errors else 200


@bp.post("/sessions/end-all")
@login_required
def end_all_sessions():
    """Sign out everywhere: every session of this person ends, this one too."""
    sessions.end_sessions(current_user._get_current_object())
    logout_user()
    flash(_("You are signed out everywhere."), "info")
    return redirect(url_for("accounts.login"))


@bp.get("/tokens")
@login_required
def tokens():
    """The person's API tokens that still work, each with a button to revoke it."""
    user = current_user._get_current_object()
    rows, _total = api_tokens.tokens_of(user, 1, 500)
    return render_template("accounts/tokens.html", tokens=rows, sessions=sessions.open_sessions(user),
                           current_session_id=sessions.current_session_id(user))


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    try:
        api_tokens.revoke_token(current_user._get_current_object(), token_id)
    except DomainError:
        db.session.rollback()
        abort(404)
    flash(_("The token is revoked."), "info")
    return redirect(url_for("accounts.tokens"))


@bp.post("/language")
def choose_language():
    """The header's language switcher (a plain form): a cookie for everyone, the profile for people."""
    from flask_babel import force_locale

    from learning.i18n import UI_LANGUAGES, language_name, remember_language

    code = request.form.get("lang")
    target = _safe_next(request.form.get("next"))
    if code not in UI_LANGUAGES:
        flash(_("That language is not offered."), "error")
        return redirect(target)
    if current_user.is_authenticated and (current_user.language or "").split("-")[0] != code:
        services.choose_language(current_user, code)  # pt-BR stays pt-BR when Portuguese is chosen
    with force_locale(code):  # the confirmation speaks the language just chosen
        flash(_("The platform is now in %(language)s.", language=language_name(code, code)), "success")
    return remember_language(redirect(target), code)
