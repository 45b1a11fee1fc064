"""The wechatpayv3 SDK, adapted: a configurable API root, no network while a client is built,
and failures as exceptions of our own where the SDK returns False or raises a bare Exception.
These subclasses lean on private fields of wechatpayv3 2.0.4: check them before moving the pin."""
from __future__ import annotations

import logging
import os
import re
import time
from datetime import datetime, timezone
from typing import Any, Mapping

import requests
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.core import Core
from wechatpayv3.utils import format_private_key, format_public_key, load_certificate

from core.errors import DependencyUnavailable

log = logging.getLogger(__name__)

_CERT_DOWNLOAD_INTERVAL_SECONDS = 300.0  # a forged serial number must not make us download certificates per request
_SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
_SIGNATURE_HEADERS = ("Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial")
_HEX = re.compile(r"[0-9A-Fa-f]{1,40}")


class PlatformKeyError(Exception):
    """An answer or notification that cannot be checked against WeChat Pay's platform key."""


def signature_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The Wechatpay-* headers under the names the SDK looks up, whatever their case on the wire."""
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    picked = {name: lower.get(name.lower(), "") for name in _SIGNATURE_HEADERS}
    # RSA is the only algorithm v3 signs with for us; an absent type header means it
    picked["Wechatpay-Signature-Type"] = lower.get("wechatpay-signature-type") or _SIGNATURE_TYPE
    return picked


class GatewayCore(Core):
    """The SDK's Core with a configurable API root, which never connects while being built: Core.__init__
    would download platform certificates from the production root. Here they come from cert_dir, and are
    downloaded (from our root, at most once per interval) only when a signature names a serial we lack."""

    def __init__(self, api_root: str, use_certificates: bool, **kwargs: Any) -> None:
        self._use_certificates = use_certificates
        self._next_download = 0.0
        super().__init__(**kwargs)
        self._gate_way = api_root.rstrip("/")
        if use_certificates and self._cert_dir and os.path.isdir(self._cert_dir):
            self._certificates.extend(_read_certificates(self._cert_dir))

    def _init_certificates(self) -> None:  # deferred: see the class docstring
        pass

    def _update_certificates(self) -> None:
        if not self._use_certificates or time.monotonic() < self._next_download:
            return
        self._next_download = time.monotonic() + _CERT_DOWNLOAD_INTERVAL_SECONDS
        known = list(self._certificates)
        try:
            super()._update_certificates()
        except (requests.RequestException, ValueError, TypeError, AttributeError, OSError) as exc:
            log.warning("WeChat Pay platform certificate download failed: %s", exc)
        if not self._certificates:  # the SDK empties its list first; a failed download keeps what we had
            self._certificates.extend(known)

    def _last_certificate(self) -> Any:
        if not self._certificates:
            self._update_certificates()
        if not self._certificates:
            raise PlatformKeyError("没有可用的微信支付平台证书")
        return super()._last_certificate()

    def _verify_signature(self, headers: Mapping[str, str], body: str) -> bool:
        """The SDK's check, raising PlatformKeyError where the SDK returns False or raises a bare Exception."""
        signed = signature_headers(headers)
        if signed["Wechatpay-Signature-Type"] != _SIGNATURE_TYPE:
            raise PlatformKeyError(f"不支持的签名算法 {signed['Wechatpay-Signature-Type']}")
        serial = signed["Wechatpay-Serial"]
        if not (self._public_key_id and serial == self._public_key_id):
            if not self._use_certificates:
                raise PlatformKeyError(f"未知的微信支付平台公钥 ID {serial or '（空）'}")
            if not _HEX.fullmatch(serial):
                raise PlatformKeyError(f"无效的平台证书序列号 {serial or '（空）'}")
        if not super()._verify_signature(signed, body):
            raise PlatformKeyError("签名验证失败")
        return True


def _read_certificates(directory: str) -> list[Any]:
    """Platform certificates saved in cert_dir (by an earlier download) that are valid now."""
    now, found = datetime.now(timezone.utc), []
    for name in sorted(n for n in os.listdir(directory) if n.lower().endswith(".pem")):
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                certificate = load_certificate(f.read())
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("Skipping unreadable WeChat Pay platform certificate %s: %s", name, exc)
            continue
        if certificate and certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            found.append(certificate)
    return found


class Client(WeChatPay):
    """The SDK's client around our GatewayCore. WeChatPay.__init__ would build a stock Core (which
    connects while being built); these are the attributes it sets in wechatpayv3 2.0.4, pinned."""

    def __init__(self, core: GatewayCore, appid: str, notify_url: str) -> None:
        self._type, self._partner_mode, self._core = WeChatPayType.MINIPROG, False, core
        self._mchid, self._appid, self._notify_url = core._mchid, appid, notify_url


def read_pem(path: str, variable: str, private: bool) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise DependencyUnavailable(f"无法读取 {variable} 指向的文件 {path}：{exc.strerror}。",
                                    code="wechatpay_not_configured") from exc
    try:  # as the SDK will read it, so a bad file is named here and not as a bare SDK Exception
        if private:
            load_pem_private_key(format_private_key(text).encode(), password=None)
        else:
            load_pem_public_key(format_public_key(text).encode())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        kind = "PKCS#8 PEM 私钥（apiclient_key.pem）" if private else "PEM 公钥（pub_key.pem）"
        raise DependencyUnavailable(f"{variable} 指向的文件不是{kind}。", code="wechatpay_not_configured") from exc
    return text


