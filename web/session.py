"""Console sign-in: username and password into a server-signed session cookie (HttpOnly, SameSite=Lax,
Secure behind TLS), CSRF on every form, the API's failure limits, and sign-out. The session carries the
user's session version, so disabling an account or resetting its password ends its sessions at once."""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFProtect

from core.db import unit_of_work
from core.errors import AppError
from core.models import Role, User
from core.services.people.auth import revoke_sessions
from core.services.people.sign_in import sign_in_with_password

csrf = CSRFProtect()
session_bp = Blueprint("session", __name__, template_folder="templates", static_folder="static",
                       static_url_path="/static/web")

LAB_ROLES = (Role.lab_staff, Role.institution_admin)
ADMIN_ROLES = (Role.platform_admin,)


def platform() -> Any:
    return current_app.extensions["platform"]


def home_of(user: User) -> str:
    if user.role == Role.expert:
        return url_for("expert.home")
    return url_for("console.dashboard") if user.role in ADMIN_ROLES else url_for("workbench.today")


def signed_in() -> User | None:
    """The user of this browser session, checked against the database on every request."""
    if "uid" not in session:
        return None
    with unit_of_work(platform().session_factory, write=False) as db:
        user = db.get(User, session["uid"])
        if user is None or not user.active or user.session_version != session.get("sv"):
            session.clear()
            return None
        db.expunge(user)
        return user


def requires(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A page for these roles: anonymous visitors go to sign-in, other roles get the 403 page."""
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user = signed_in()
            if user is None:
                return redirect(url_for("session.login", next=request.full_path.rstrip("?")))
            if user.role not in roles:
                abort(403)
            g.user = user
            return view(*args, **kwargs)
        return guarded
    return decorate


def protect_forms() -> None:
    """before_request of every back-office blueprint: a state-changing request carries the CSRF token."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


session_bp.before_request(protect_forms)


def _safe_next(target: str | None) -> str | None:
    # only a path of this site: a crafted ?next= must not send someone elsewhere after sign-in
    if not target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and target.startswith("/") else None


@session_bp.get("/")
def root():  # type: ignore[no-untyped-def]
    user = signed_in()
    return redirect(home_of(user) if user else url_for("session.login"))


@session_bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    error, username, status = None, "", 200
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()[:100]
        password = (request.form.get("password") or "")[:200]
        if not username or not password:
            error, status = "请填写用户名和密码。", 400
        else:
            try:
                user = sign_in_with_password(platform().session_factory, platform().redis, platform().settings,
                                             username, password, request.remote_addr or "-")
            except AppError as exc:  # a wrong password (401) or too many of them (429)
                error, status = exc.message, exc.status
            else:
                session.clear()  # a new session id on sign-in: no fixation
                session.permanent = True
                session.update(uid=user.id, sv=user.session_version)
                return redirect(_safe_next(request.args.get("next")) or home_of(user))
    return render_template("login.html", error=error, username=username), status


@session_bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    session.clear()
    return redirect(url_for("session.login"))


@session_bp.post("/logout-everywhere")
@requires(*LAB_ROLES, *ADMIN_ROLES)
def logout_everywhere():  # type: ignore[no-untyped-def]
    with unit_of_work(platform().session_factory) as db:
        revoke_sessions(db, db.get(User, g.user.id))
    session.clear()
    return redirect(url_for("session.login"))
