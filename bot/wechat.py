"""The WeChat official-account endpoint: server verification and messages,
in plaintext and safe (AES) mode, with WeChat's retries answered once."""
from __future__ import annotations

import binascii
import hashlib
import hmac
import logging
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any
from xml.parsers.expat import ExpatError

from flask import Blueprint, Flask, Response, current_app, request
from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature

from bot.dialogue import WELCOME, safe_reply
from core.errors import DependencyUnavailable, Forbidden, InvalidInput, PayloadTooLarge
from core.queue import enqueue_wechat_text
from core.services.people.wechat_binding import complete_binding, is_binding_scene, scan_reply

log = logging.getLogger(__name__)

wechat_bp = Blueprint("wechat", __name__)

# WeChat's own messages are a few kB; anything far larger is not from WeChat
MAX_BODY_BYTES = 64 * 1024
# WeChat retries a message 3 times within ~15 s; remember answers a bit longer.
DEDUP_SECONDS = 300
PENDING = b"pending"
MENU_REPLIES = {
    "HOT": "热门检测：食品中苏丹红、瘦肉精、农药残留；室内空气甲醛/TVOC；金属拉伸与硬度；XRD物相、扫描电镜；"
    "锂电池安全与UN38.3。直接发一句需求，比如“辣椒粉里有没有苏丹红”。",
    "MY_ORDERS": "您的订单在小程序“我的订单”里查看：下单、付款、报告和评价都在那里。",
    "CONTACT": "平台工作人员工作日 9:00-17:30 在线：直接留言您的需求和联系方式，我们会尽快回电对接实验室。",
}


def _settings() -> dict[str, str]:
    wechat = current_app.extensions["platform"].settings.wechat
    if not wechat.get("WECHAT_TOKEN"):
        raise DependencyUnavailable(
            "微信公众号尚未配置（请设置 WECHAT_TOKEN、WECHAT_APP_ID，安全模式还需 WECHAT_AES_KEY）。"
            "可先在 /demo/chat 试用机器人。",
            code="wechat_not_configured",
        )
    return dict(wechat)


def _check(token: str) -> None:
    args = request.args
    try:
        check_signature(token, args.get("signature", ""), args.get("timestamp", ""), args.get("nonce", ""))
    except InvalidSignatureException:
        raise Forbidden("微信签名校验不通过。", code="bad_signature") from None


def _check_fresh(body: bytes) -> None:
    """Refuse a replay. The plaintext signature covers token, timestamp and nonce but not the
    body, so a captured one could carry another message: the timestamp must be recent and a
    nonce is good for one body only (WeChat's own retries repeat the same body)."""
    settings = current_app.extensions["platform"].settings
    try:
        stamp = int(request.args.get("timestamp", ""))
    except ValueError:
        raise Forbidden("微信消息缺少有效的时间戳。", code="stale_message") from None
    if abs(time.time() - stamp) > settings.wechat_max_skew_seconds:
        raise Forbidden("微信消息的时间戳已过期或来自未来，已拒绝。", code="stale_message")
    key = f"wechat:nonce:{stamp}:{request.args.get('nonce', '')}"
    digest = hashlib.sha256(body).hexdigest().encode()
    conn = current_app.extensions["platform"].redis
    if not conn.set(key, digest, nx=True, ex=2 * settings.wechat_max_skew_seconds) and conn.get(key) != digest:
        raise Forbidden("这条微信消息的签名已被使用过，已拒绝。", code="replayed_message")


_ENCRYPT = re.compile(rb"<Encrypt>\s*<!\[CDATA\[([A-Za-z0-9+/=]{1,200000})\]\]>\s*</Encrypt>")


def _decrypt(crypto: WeChatCrypto, token: str, body: bytes) -> bytes:
    """Safe mode: check msg_signature over the envelope before parsing or decrypting anything."""
    args = request.args
    found = _ENCRYPT.search(body)
    if found is None:
        raise InvalidInput("安全模式消息缺少加密内容。", code="bad_message")
    encrypted = found.group(1).decode()
    expected = hashlib.sha1("".join(sorted([token, args.get("timestamp", ""), args.get("nonce", ""),
                                            encrypted])).encode()).hexdigest()
    if not hmac.compare_digest(expected, args.get("msg_signature", "")):
        raise Forbidden("微信消息签名校验不通过。", code="bad_signature")
    envelope = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    try:
        plain = crypto.decrypt_message(envelope, args.get("msg_signature", ""), args.get("timestamp", ""),
                                       args.get("nonce", ""))
    except (InvalidSignatureException, InvalidAppIdException):
        raise Forbidden("微信消息签名校验不通过。", code="bad_signature") from None
    except (ValueError, TypeError, KeyError, IndexError, UnicodeError, binascii.Error):
        raise InvalidInput("安全模式消息无法解密（AES 密钥或内容不对）。", code="bad_message") from None
    return plain.encode() if isinstance(plain, str) else plain


def _parse(body: bytes) -> Any:
    try:
        message = parse_message(body)
    except (ExpatError, ValueError, TypeError, KeyError, AttributeError, IndexError):
        message = None
    # an empty body parses to nothing, a shapeless one to a message with no sender
    if message is None or not getattr(message, "source", None):
        raise InvalidInput("消息不是有效的微信 XML。", code="bad_message")
    return message


@wechat_bp.get("/wechat")
def verify():  # type: ignore[no-untyped-def]
    _check(_settings()["WECHAT_TOKEN"])
    return Response(request.args.get("echostr", ""), mimetype="text/plain")


@wechat_bp.post("/wechat")
def receive():  # type: ignore[no-untyped-def]
    cfg = _settings()
    args = request.args
    crypto = None
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"微信消息不能超过 {MAX_BODY_BYTES // 1024} KB。", code="message_too_large")
    body = request.get_data()[:MAX_BODY_BYTES + 1]
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"微信消息不能超过 {MAX_BODY_BYTES // 1024} KB。", code="message_too_large")
    if args.get("encrypt_type") == "aes":
        if not cfg.get("WECHAT_AES_KEY"):
            raise Forbidden("收到安全模式消息，但未配置 WECHAT_AES_KEY。", code="bad_signature")
        try:
            crypto = WeChatCrypto(cfg["WECHAT_TOKEN"], cfg["WECHAT_AES_KEY"], cfg.get("WECHAT_APP_ID", ""))
        except (ValueError, TypeError, binascii.Error):
            raise DependencyUnavailable("WECHAT_AES_KEY 不是有效的 43 位密钥。", code="wechat_not_configured") from None
        _check_fresh(body)
        body = _decrypt(crypto, cfg["WECHAT_TOKEN"], body)
    else:
        _check(cfg["WECHAT_TOKEN"])
        _check_fresh(body)
    message = _parse(body)
    xml = _answer_once(message)
    if crypto is not None and xml:
        xml = crypto.encrypt_message(xml, args.get("nonce", ""), args.get("timestamp"))
    return Response(xml or "success", mimetype="application/xml" if xml else "text/plain")


def _answer_once(message: Any) -> str:
    """The reply XML; a retry of a message being answered gets 'success', of one
    already answered the same reply, and never a second search. An answer not
    ready within the deadline is pushed later as a customer-service message."""
    conn = current_app.extensions["platform"].redis
    if getattr(message, "id", None):
        key = f"wechat:seen:msg:{message.id}"
    else:
        key = f"wechat:seen:evt:{message.source}:{message.create_time}"
    if not conn.set(key, PENDING, nx=True, ex=DEDUP_SECONDS):
        done = conn.get(key)
        return "" if done in (None, PENDING) else done.decode()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    future = _pool().submit(_answer, app, message, key)
    try:
        return future.result(timeout=app.extensions["platform"].settings.bot_reply_deadline)[1]
    except FutureTimeout:
        # "success" now (WeChat will not retry it); the answer follows through a worker
        future.add_done_callback(lambda f: _push_late(app, message.source, f))
        return ""


def _answer(app: Flask, message: Any, key: str) -> tuple[str, str]:
    with app.app_context():
        text = _reply_text(message)
        xml = create_reply(text, message).render() if text else ""
        app.extensions["platform"].redis.set(key, xml.encode(), ex=DEDUP_SECONDS)
        return text, xml


def _push_late(app: Flask, openid: str, future: Future[tuple[str, str]]) -> None:
    if future.exception() is not None:
        log.error("bot answer for %s failed after the passive window: %s", openid, future.exception())
        return
    text, _ = future.result()
    if text:
        enqueue_wechat_text(app.extensions["platform"].redis, openid, text)


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="wechat-answer")
        return _executor


def _reply_text(message: Any) -> str:
    dialogue = current_app.extensions["dialogue"]
    user = message.source
    kind = message.type
    if kind == "text":
        return safe_reply(dialogue, user, message.content, "wechat").text
    if kind == "voice":
        if message.recognition:
            return safe_reply(dialogue, user, message.recognition, "wechat").text
        return "没听清，能用文字说说您想检测什么吗？比如“自来水能不能直接喝”。"
    if kind == "image":
        return "收到图片。请用一句话说说样品是什么、想知道什么，比如“这块金属是什么材质”，我来推荐实验室。"
    if kind == "location":
        cities = current_app.extensions["search"].index().cities
        city = next((c for c in cities if c in (message.label or "")), None)
        if city:
            return safe_reply(dialogue, user, f"{city}的", "wechat").text if dialogue.store.load(user).active else (
                f"好的，您在{city}。说说想检测什么，我优先推荐{city}的实验室。"
            )
        return "您所在的城市暂时还没有入驻的实验室，可以寄送样品到其他城市检测。说说您想检测什么？"
    if kind == "link":
        return f"收到链接《{message.title}》。请直接用一句话描述检测需求，我来推荐实验室。"
    if kind == "event":
        return _event_text(message)
    return "请用文字说说您想检测什么，我来推荐实验室。"


def _event_text(event: Any) -> str:
    name = event.event
    if name == "unsubscribe":
        return ""
    if name in ("subscribe", "subscribe_scan", "scan"):
        scene = getattr(event, "scene_id", "") or ""
        scene = scene.removeprefix("qrscene_")
        if is_binding_scene(scene):
            return _bind_staff(scene, event.source)
        return WELCOME + (f"\n（您扫描的是“{scene}”的二维码，我们会优先为您推荐相关服务。）" if scene else "")
    if name == "click":
        return MENU_REPLIES.get(event.key, WELCOME)
    return ""


def _bind_staff(scene: str, openid: str) -> str:
    """A staff member scanned the binding QR code of the workbench (subscribe or SCAN)."""
    platform = current_app.extensions["platform"]
    with platform.transaction() as session:
        bound = complete_binding(session, platform.redis, scene, openid)
    return scan_reply(bound)
