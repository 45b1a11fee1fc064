"""WeChat official-account endpoint, dialogue engine and the demo chat channel."""
from __future__ import annotations

from flask import Blueprint

from bot.demo import demo_bp
from bot.wechat import wechat_bp


def blueprints() -> list[Blueprint]:
    return [demo_bp, wechat_bp]
