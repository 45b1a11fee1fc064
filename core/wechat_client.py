"""Clients for WeChat's HTTP API: the official account (customer-service and template
messages, parametric QR codes) and the mini-program (code2session, subscribe messages)."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

import redis
import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.redisstorage import RedisStorage

from core.config import Settings
from core.errors import DependencyUnavailable, Unauthorized


class _Client(WeChatClient):
    """wechatpy fetches its token from a fixed host; follow the configured root instead."""

    token_url = ""

    def fetch_access_token(self) -> Any:
        return self._fetch_access_token(
            url=self.token_url,
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


def _client(settings: Settings, conn: redis.Redis, app_id_key: str, secret_key: str, base: str) -> _Client:
    cfg = settings.wechat
    if not (cfg.get(app_id_key) and cfg.get(secret_key)):
        raise DependencyUnavailable(
            f"此功能需要配置 {app_id_key} 和 {secret_key}。", code="wechat_not_configured"
        )
    client = _Client(cfg[app_id_key], cfg[secret_key], session=RedisStorage(conn, prefix=f"wechat:{app_id_key}"), timeout=10)
    client.API_BASE_URL = base
    client.token_url = settings.wechat_api_base + "cgi-bin/token"
    return client


def official_account_client(settings: Settings, conn: redis.Redis) -> WeChatClient:
    return _client(settings, conn, "WECHAT_APP_ID", "WECHAT_APP_SECRET", settings.wechat_api_base + "cgi-bin/")


def code_to_session(settings: Settings, conn: redis.Redis, js_code: str) -> dict[str, str]:
    """wx.login's code -> {"openid", "session_key", …} from WeChat."""
    client = _client(settings, conn, "WECHAT_MINI_APP_ID", "WECHAT_MINI_APP_SECRET", settings.wechat_api_base)
    client.wxa.API_BASE_URL = settings.wechat_api_base  # the wxa API carries its own host
    try:
        return client.wxa.code_to_session(js_code)
    except WeChatClientException as exc:
        if exc.errcode is None:  # no answer at all, not a refusal
            raise DependencyUnavailable("暂时无法连接微信，请稍后再试。", code="wechat_unreachable") from exc
        raise Unauthorized(f"微信未接受该登录 code（{exc.errcode}：{exc.errmsg}）。", code="bad_login_code") from exc
    except requests.RequestException as exc:
        raise DependencyUnavailable("暂时无法连接微信，请稍后再试。", code="wechat_unreachable") from exc


def send_subscribe_message(settings: Settings, conn: redis.Redis, openid: str, title: str, body: str,
                           page: str | None = None) -> None:
    """A mini-program subscribe message (the template's two text fields carry title and body).
    Raises DependencyUnavailable when WeChat cannot be reached or refuses, so the job retries."""
    template = settings.wechat.get("WECHAT_SUBSCRIBE_TEMPLATE_ID")
    if not template:
        raise DependencyUnavailable("未设置 WECHAT_SUBSCRIBE_TEMPLATE_ID。", code="wechat_not_configured")
    client = _client(settings, conn, "WECHAT_MINI_APP_ID", "WECHAT_MINI_APP_SECRET", settings.wechat_api_base)
    client.wxa.API_BASE_URL = settings.wechat_api_base
    data = {"thing1": {"value": title[:20]}, "thing2": {"value": body[:20]}}
    try:
        client.wxa.send_subscribe_message(openid, template, data, page)
    except (WeChatClientException, requests.RequestException) as exc:
        raise DependencyUnavailable(f"微信未接收该消息：{exc}", code="wechat_send_failed") from exc


def official_account_configured(settings: Settings) -> bool:
    return bool(settings.wechat.get("WECHAT_APP_ID") and settings.wechat.get("WECHAT_APP_SECRET"))


def create_scene_qr(settings: Settings, conn: redis.Redis, scene: str, expire_seconds: int) -> str:
    """A temporary parametric QR code (QR_STR_SCENE) of the official account; returns its ticket."""
    client = official_account_client(settings, conn)
    try:
        answer = client.qrcode.create({"expire_seconds": expire_seconds, "action_name": "QR_STR_SCENE",
                                       "action_info": {"scene": {"scene_str": scene}}})
    except (WeChatClientException, requests.RequestException) as exc:
        raise DependencyUnavailable(f"暂时无法从微信获取二维码，请稍后再试（{exc}）。", code="wechat_unreachable") from exc
    ticket = answer.get("ticket") if isinstance(answer, dict) else None
    if not ticket:
        raise DependencyUnavailable("微信没有返回二维码，请稍后再试。", code="wechat_unreachable")
    return str(ticket)


def qr_image_url(settings: Settings, ticket: str) -> str:
    """The one place a QR ticket becomes the image URL people open."""
    return f"{settings.wechat_qrcode_base}?ticket={quote(ticket, safe='')}"


def send_template_message(settings: Settings, conn: redis.Redis, openid: str, template_id: str,
                          data: dict[str, dict[str, str]], url: str | None = None) -> None:
    """An official-account template message. Raises DependencyUnavailable when WeChat cannot be
    reached or refuses, so the notification job retries."""
    client = official_account_client(settings, conn)
    try:
        client.message.send_template(openid, template_id, data, url=url)
    except (WeChatClientException, requests.RequestException) as exc:
        raise DependencyUnavailable(f"微信未接收该模板消息：{exc}", code="wechat_send_failed") from exc
