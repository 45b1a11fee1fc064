"""用户: every account, staff accounts created for an institution, disabled and enabled, passwords reset
and roles changed — with the functions `flask users create-staff/disable/enable/reset-password` use,
so disabling or resetting signs the person out everywhere at once."""
from __future__ import annotations

import secrets
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for

from core.errors import AppError
from core.models import Role
from core.services.catalog.browse import catalog_facets
from core.services.people.authz import ROLE_LABELS, STAFF_ROLES
from core.services.people.user_admin import browse_users, change_role, check_not_self, generate_password, user_row
from core.services.people.users import MIN_PASSWORD_LENGTH, create_staff, reset_password, set_active
from web.console.blueprint import console_bp
from web.console.form_once import once
from web.session import ADMIN_ROLES, platform, requires

CREATE_ROLES = (Role.lab_staff, Role.institution_admin)
SHOWN_SECONDS = 600
# which field of the create form a refusal belongs to
_FIELD_OF = {"username_taken": "username", "username_required": "username", "password_too_short": "password",
             "institution_not_found": "institution", "invalid_role": "role"}
STATES = {"active": "启用中", "disabled": "已停用"}


def _list_page(form: dict[str, str], errors: dict[str, str], status: int = 200) -> Any:
    q = (request.args.get("q") or "").strip()[:100]
    role = request.args.get("role") or ""
    state = request.args.get("state") or ""
    page = request.args.get("page", "1")
    with platform().transaction(write=False) as session:
        users = browse_users(session, q, role, {"active": True, "disabled": False}.get(state),
                             int(page) if page.isdigit() and len(page) < 6 else 1)
        institutions = catalog_facets(session).institutions

    def page_url(n: int) -> str:
        return url_for("console.users", q=q or None, role=role or None, state=state or None, page=n)

    return render_template("console/users.html", users=users, q=q, role=role, state=state, states=STATES,
                           roles=ROLE_LABELS, create_roles=CREATE_ROLES, institutions=institutions, form=form,
                           errors=errors, page_url=page_url, min_password=MIN_PASSWORD_LENGTH), status


@console_bp.get("/users")
@requires(*ADMIN_ROLES)
def users():  # type: ignore[no-untyped-def]
    return _list_page({"role": Role.lab_staff.value}, {})


@console_bp.post("/users")
@requires(*ADMIN_ROLES)
def create_user():  # type: ignore[no-untyped-def]
    form = {k: (request.form.get(k) or "").strip()[:200] for k in ("username", "display_name", "institution", "role")}
    password = request.form.get("password") or ""
    errors = {}
    if not form["username"]:
        errors["username"] = "请填写用户名。"
    if not form["display_name"]:
        errors["display_name"] = "请填写姓名。"
    if form["role"] not in {r.value for r in CREATE_ROLES}:
        errors["role"] = "请选择角色：实验室人员或机构管理员。"
    if not form["institution"]:
        errors["institution"] = "请选择所属机构。"
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = f"初始密码至少 {MIN_PASSWORD_LENGTH} 个字符。"
    if errors:
        return _list_page(form, errors, 400)

    def action() -> Any:
        try:
            with platform().transaction() as session:
                user = create_staff(session, form["username"], password, form["institution"], Role(form["role"]),
                                    form["display_name"])
                user_id = user.id
        except AppError as exc:
            return _list_page(form, {_FIELD_OF.get(exc.code, "general"): exc.message}, exc.status)
        flash(f"已创建{ROLE_LABELS[Role(form['role'])]}账号 {form['username']}，请把初始密码告诉本人并请其尽快修改。",
              "success")
        return redirect(url_for("console.user_detail", user_id=user_id), 303)
    return once(action)


def _detail(user_id: int, errors: dict[str, str] | None = None, status: int = 200, shown: str | None = None) -> Any:
    with platform().transaction(write=False) as session:
        row = user_row(session, user_id)
        institutions = catalog_facets(session).institutions
    return render_template("console/users_detail.html", user=row, roles=ROLE_LABELS, staff_roles=STAFF_ROLES,
                           institutions=institutions, errors=errors or {}, shown_password=shown,
                           own=row.username == g.user.username, min_password=MIN_PASSWORD_LENGTH), status


@console_bp.get("/users/<int:user_id>")
@requires(*ADMIN_ROLES)
def user_detail(user_id: int):  # type: ignore[no-untyped-def]
    return _detail(user_id, shown=_take_shown(request.args.get("shown", "")))


def _target(user_id: int) -> str:
    """The account's username (the CLI's handle); accounts without one sign in with WeChat only."""
    with platform().transaction(write=False) as session:
        row = user_row(session, user_id)
    if row.username is None:
        abort(404)
    return row.username


@console_bp.post("/users/<int:user_id>/active")
@requires(*ADMIN_ROLES)
def user_active(user_id: int):  # type: ignore[no-untyped-def]
    active = {"1": True, "0": False}.get(request.form.get("active") or "")
    if active is None:
        flash("请选择启用或停用。", "error")
        return redirect(url_for("console.user_detail", user_id=user_id), 303)
    username = _target(user_id)

    def action() -> Any:
        try:
            check_not_self(g.user, username, "停用")
            with platform().transaction() as session:
                set_active(session, username, active)
        except AppError as exc:
            flash(exc.message, "error")
        else:
            flash(f"已停用账号 {username}，它的所有登录已立即失效。" if not active else
                  f"已启用账号 {username}（须重新登录）。", "success")
        return redirect(url_for("console.user_detail", user_id=user_id), 303)
    return once(action)


@console_bp.post("/users/<int:user_id>/password")
@requires(*ADMIN_ROLES)
def user_password(user_id: int):  # type: ignore[no-untyped-def]
    username = _target(user_id)
    generate = request.form.get("mode") != "typed"
    password = generate_password() if generate else request.form.get("password") or ""
    if not generate and password != (request.form.get("password2") or ""):
        return _detail(user_id, {"password2": "两次输入的密码不一致。"}, 400)

    def action() -> Any:
        try:
            check_not_self(g.user, username, "重置")
            with platform().transaction() as session:
                reset_password(session, username, password)
        except AppError as exc:
            return _detail(user_id, {"password": exc.message}, exc.status)
        flash(f"已重置账号 {username} 的密码，它的所有登录已立即失效。", "success")
        token = _keep_shown(password) if generate else None
        return redirect(url_for("console.user_detail", user_id=user_id, shown=token), 303)
    return once(action)


@console_bp.post("/users/<int:user_id>/role")
@requires(*ADMIN_ROLES)
def user_role(user_id: int):  # type: ignore[no-untyped-def]
    role = request.form.get("role") or ""
    if role not in {r.value for r in STAFF_ROLES}:
        return _detail(user_id, {"role": "请选择角色。"}, 400)
    institution = (request.form.get("institution") or "").strip() or None

    def action() -> Any:
        try:
            with platform().transaction() as session:
                change_role(session, g.user, user_id, Role(role), institution)
        except AppError as exc:
            return _detail(user_id, {"role": exc.message}, exc.status)
        flash(f"角色已改为{ROLE_LABELS[Role(role)]}。", "success")
        return redirect(url_for("console.user_detail", user_id=user_id), 303)
    return once(action)


def _keep_shown(password: str) -> str:
    """A generated password waits here for the page after the redirect, for this admin, once."""
    token = secrets.token_hex(16)
    platform().redis.set(f"console:shown-password:{g.user.id}:{token}", password, ex=SHOWN_SECONDS)
    return token


def _take_shown(token: str) -> str | None:
    if not token or len(token) != 32:
        return None
    key = f"console:shown-password:{g.user.id}:{token}"
    pipe = platform().redis.pipeline()  # read and forget in one step: shown once
    value, _ = pipe.get(key).delete(key).execute()
    return value.decode() if value else None
