"""The demo chat channel: a phone-like web page over the same dialogue engine."""
from __future__ import annotations

import secrets
from dataclasses import asdict

from flask import Blueprint, current_app, jsonify, render_template, request, session

from bot.dialogue import WELCOME, safe_reply
from core.errors import InvalidInput, NotFound
from core.services.people.rate_limit import enforce

demo_bp = Blueprint("demo", __name__, url_prefix="/demo", template_folder="templates")


@demo_bp.before_request
def _demo_only() -> None:
    """The demo chat exists only in demo mode, and costs a search: it is limited like search."""
    platform = current_app.extensions["platform"]
    if not platform.settings.demo_mode:
        raise NotFound("演示聊天只在演示模式（DEMO_MODE=1）下提供；请在微信公众号里使用机器人。", code="demo_off")
    if request.method == "POST":
        enforce(platform.redis, "demo-chat-ip", request.remote_addr or "-", platform.settings.search_per_ip)

MAX_MESSAGE = 500


def _user_key() -> str:
    if "demo_user" not in session:
        session["demo_user"] = "demo-" + secrets.token_hex(8)
    return session["demo_user"]


@demo_bp.get("/chat")
def chat_page():  # type: ignore[no-untyped-def]
    _user_key()
    return render_template("chat.html", welcome=WELCOME)


@demo_bp.post("/chat/messages")
def chat_message():  # type: ignore[no-untyped-def]
    payload = request.get_json(silent=True) or {}
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_MESSAGE:
        raise InvalidInput(f"请发送 {{\"text\": \"…\"}}，内容 1 到 {MAX_MESSAGE} 个字符。", code="invalid_message")
    reply = safe_reply(current_app.extensions["dialogue"], _user_key(), text, "demo")
    return jsonify({"kind": reply.kind, "text": reply.text, "items": [asdict(i) for i in reply.items]})
