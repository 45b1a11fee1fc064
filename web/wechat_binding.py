"""微信绑定, the same page in the workbench and the console: staff and admins link the official account to
their back-office account by scanning a one-time QR code, so their notifications reach WeChat."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from core.db import unit_of_work
from core.models import User
from core.services.people.wechat_binding import binding_status, complete_binding, start_binding, unbind
from web.session import platform


def _me(session: Any) -> User:
    return session.get(User, g.user.id)


def binding_page(area: str) -> Any:
    with unit_of_work(platform().session_factory, write=False) as session:
        status = binding_status(session, _me(session))
    return render_template("shared/wechat.html", status=status, binding=None, area=area)


def binding_started(area: str) -> Any:
    """A fresh QR code (a new one replaces the last); the page then polls until the scan arrives."""
    binding = start_binding(platform().redis, platform().settings, g.user)
    with unit_of_work(platform().session_factory, write=False) as session:
        status = binding_status(session, _me(session))
    return render_template("shared/wechat.html", status=status, binding=binding, area=area,
                           demo=platform().settings.demo_mode and binding.qr_url is None)


def binding_state(area: str) -> Any:
    """The htmx poll: the status block alone."""
    with unit_of_work(platform().session_factory, write=False) as session:
        status = binding_status(session, _me(session))
    return render_template("shared/wechat_status.html", status=status, area=area)


def demo_scan(area: str) -> Any:
    """Demo mode without an official account: what a scan of the scene would do, so the flow can be tried."""
    if not platform().settings.demo_mode:
        flash("模拟扫码只在演示模式下可用；请用微信扫描二维码。", "error")
        return redirect(url_for(f"{area}.wechat"))
    with platform().transaction() as session:
        bound = complete_binding(session, platform().redis, request.form.get("scene", ""), f"demo-openid-{g.user.id}")
    flash("已绑定（演示）。" if bound else "二维码已过期或已使用，请重新生成。", "success" if bound else "error")
    return redirect(url_for(f"{area}.wechat"))


def unbound(area: str) -> Any:
    with platform().transaction() as session:
        unbind(session, _me(session))
    flash("已解除微信绑定，之后的提醒只在站内消息里。", "success")
    return redirect(url_for(f"{area}.wechat"))


def add_binding_routes(bp: Blueprint, guard: Any) -> None:
    """The page's routes on one area's blueprint (its navigation and its roles)."""
    area = bp.name
    bp.add_url_rule("/wechat", "wechat", guard(lambda: binding_page(area)))
    bp.add_url_rule("/wechat/status", "wechat_status", guard(lambda: binding_state(area)))
    bp.add_url_rule("/wechat/bind", "wechat_bind", guard(lambda: binding_started(area)), methods=["POST"])
    bp.add_url_rule("/wechat/demo-scan", "wechat_demo_scan", guard(lambda: demo_scan(area)), methods=["POST"])
    bp.add_url_rule("/wechat/unbind", "wechat_unbind", guard(lambda: unbound(area)), methods=["POST"])
