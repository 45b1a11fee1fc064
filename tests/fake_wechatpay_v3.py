"""A local stand-in for WeChat Pay API v3: the provider's API root points here.

As WeChat does, it checks every request's `Authorization: WECHATPAY2-SHA256-RSA2048 …` signature
with the merchant's public key (401 SIGN_ERROR otherwise) and signs every answer with the
platform key (Wechatpay-* headers). Orders, refunds, receivers and profit-sharing splits live in
memory. Its crypto uses `cryptography` directly, not the SDK under test, so the two check each other.
"""
from __future__ import annotations

import copy

import json
import re
import secrets
import threading
import time
import uuid
from base64 import b64decode, b64encode
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

MCH_ID = "1900000109"
APP_ID = "wx-fake-mini-app"
APIV3_KEY = "fakeApiV3Key0123456789abcdefghij"  # AES-256: exactly 32 bytes
MCH_SERIAL = "3775B6A45ACD588826D15E583A95F5DD00000001"  # the merchant API certificate's serial number
PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001000000000000000000000001"
LAB_MCH_ID = "1900000201"  # a lab's merchant number, the profit-sharing receiver
LAB_NAME = "重庆某大学分析测试中心"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"


@dataclass(frozen=True)
class Keys:
    """RSA 2048 keys a test generates: the merchant's, and the platform's with a certificate."""

    merchant: rsa.RSAPrivateKey
    merchant_key_file: Path  # apiclient_key.pem
    platform: rsa.RSAPrivateKey
    platform_public_file: Path  # pub_key.pem of the "platform public key" mode
    certificate: x509.Certificate  # the same platform key in a certificate, for the certificate mode
    certificate_serial: str  # as Wechatpay-Serial names it: upper-case hex


def make_keys(directory: Path) -> Keys:
    merchant = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    platform = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    merchant_key_file, platform_public_file = directory / "apiclient_key.pem", directory / "pub_key.pem"
    merchant_key_file.write_bytes(merchant.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    platform_public_file.write_bytes(platform.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    now = datetime.now(timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(platform.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
                   .not_valid_after(now + timedelta(days=365)).sign(platform, hashes.SHA256()))
    return Keys(merchant, merchant_key_file, platform, platform_public_file, certificate,
                format(certificate.serial_number, "X"))


def certificate_pem(keys: Keys) -> str:
    return keys.certificate.public_bytes(serialization.Encoding.PEM).decode()


def _sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def signed_headers(body: bytes, key: rsa.RSAPrivateKey, serial: str, timestamp: int | None = None) -> dict[str, str]:
    """The Wechatpay-* headers WeChat puts on its answers and notifications."""
    stamp, nonce = str(int(time.time()) if timestamp is None else timestamp), secrets.token_hex(16)
    return {"Wechatpay-Timestamp": stamp, "Wechatpay-Nonce": nonce, "Wechatpay-Serial": serial,
            "Wechatpay-Signature-Type": SIGNATURE_TYPE,
            "Wechatpay-Signature": _sign(key, f"{stamp}\n{nonce}\n".encode() + body + b"\n")}


def _encrypt(apiv3_key: str, plaintext: str, associated_data: str) -> dict[str, str]:
    nonce = secrets.token_hex(6)  # 12 characters: the GCM nonce WeChat uses
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), plaintext.encode(), associated_data.encode())
    return {"algorithm": "AEAD_AES_256_GCM", "nonce": nonce, "associated_data": associated_data,
            "ciphertext": b64encode(ciphertext).decode()}


def _now() -> str:
    return datetime.now(timezone(timedelta(hours=8))).isoformat(timespec="seconds")


class FakeWeChatPayV3(BaseHTTPRequestHandler):
    keys: Keys
    answer_serial: str = PUBLIC_KEY_ID  # whose key signs answers: the public key id, or the certificate's serial
    answer_key: rsa.RSAPrivateKey | None = None  # None: the platform key; another key forges answers
    hang: threading.Event | None = None  # while unset, every request waits (a hung WeChat)
    calls: list[tuple[str, str, dict[str, Any]]] = []  # (method, path with query, JSON body)
    orders: dict[str, dict[str, Any]] = {}  # out_trade_no -> order
    refunds: dict[str, dict[str, Any]] = {}  # out_refund_no -> refund as answered
    receivers: dict[tuple[str, str], dict[str, Any]] = {}  # (type, account) -> receiver with its decrypted name
    splits: dict[str, dict[str, Any]] = {}  # out_order_no -> split as answered

    @classmethod
    def reset(cls, keys: Keys) -> None:
        cls.keys, cls.answer_serial, cls.answer_key, cls.hang = keys, PUBLIC_KEY_ID, None, None
        cls.calls, cls.orders, cls.refunds, cls.receivers, cls.splits = [], {}, {}, {}, {}

    @classmethod
    def pay(cls, out_trade_no: str) -> str:
        """The user pays in WeChat: the order becomes SUCCESS; its money is frozen if it asked for profit sharing."""
        order = cls.orders[out_trade_no]
        order.update(trade_state="SUCCESS", transaction_id="42000" + secrets.token_hex(10), success_time=_now(),
                     frozen=order["total"] if order["profit_sharing"] else 0)
        return order["transaction_id"]

    @classmethod
    def refunded_cents(cls, out_trade_no: str) -> int:
        return sum(r["amount"]["refund"] for r in cls.refunds.values() if r["out_trade_no"] == out_trade_no)

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def _handle(self, method: str) -> None:
        if self.hang is not None:
            self.hang.wait(30)
            return  # a hung WeChat never answers (and this late request must not reach the next test's log)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        refusal = self._check_authorization(method, raw)
        if refusal:
            return self._answer(401, {"code": "SIGN_ERROR", "message": refusal})
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            return self._error(400, "PARAM_ERROR", "请求体不是JSON")
        FakeWeChatPayV3.calls.append((method, self.path, data))
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        routes = [("POST", r"/v3/pay/transactions/jsapi", self._jsapi),
                  ("GET", r"/v3/pay/transactions/out-trade-no/([^/]+)", self._query_order),
                  ("POST", r"/v3/refund/domestic/refunds", self._refund),
                  ("GET", r"/v3/refund/domestic/refunds/([^/]+)", self._query_refund),
                  ("POST", r"/v3/profitsharing/receivers/add", self._add_receiver),
                  ("POST", r"/v3/profitsharing/orders", self._split),
                  ("GET", r"/v3/profitsharing/orders/([^/]+)", self._query_split),
                  ("GET", r"/v3/certificates", self._certificates)]
        for verb, pattern, handler in routes:
            match = re.fullmatch(pattern, url.path)
            if verb == method and match:
                return handler(data, query, *(unquote(g) for g in match.groups()))
        return self._error(404, "RESOURCE_NOT_EXISTS", f"stand-in has no {method} {url.path}")

    def _check_authorization(self, method: str, raw: bytes) -> str | None:
        scheme, _, params = self.headers.get("Authorization", "").partition(" ")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        if scheme != SIGNATURE_TYPE or fields.get("mchid") != MCH_ID or fields.get("serial_no") != MCH_SERIAL:
            return "Authorization 的签名方式、商户号或证书序列号错误"
        stamp = fields.get("timestamp", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
            return "时间戳过期"
        message = f"{method}\n{self.path}\n{stamp}\n{fields.get('nonce_str', '')}\n".encode() + raw + b"\n"
        try:
            self.keys.merchant.public_key().verify(b64decode(fields.get("signature", "")), message,
                                                   padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return "签名错误，请检查后再试"
        return None

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Request-ID", uuid.uuid4().hex)
        for name, value in signed_headers(body, self.answer_key or self.keys.platform, self.answer_serial).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, code: str, message: str) -> None:
        self._answer(status, {"code": code, "message": message})

    def _jsapi(self, data: dict[str, Any], query: dict[str, str]) -> None:
        if data.get("mchid") != MCH_ID or data.get("appid") != APP_ID:
            return self._error(400, "PARAM_ERROR", "appid和mchid不匹配")
        total = (data.get("amount") or {}).get("total")
        if not (data.get("payer") or {}).get("openid") or not isinstance(total, int) or total <= 0:
            return self._error(400, "PARAM_ERROR", "缺少payer.openid或amount.total")
        if not str(data.get("notify_url", "")).startswith("https://"):
            return self._error(400, "PARAM_ERROR", "notify_url必须是https地址")
        known = self.orders.get(data["out_trade_no"])
        if known and known["total"] != total:
            return self._error(400, "INVALID_REQUEST", "商户订单号重复")
        if known and known["trade_state"] != "NOTPAY":
            return self._error(400, "ORDERPAID", "该订单已支付")
        # the same order opened again gets the same prepay_id, as with WeChat
        self.orders[data["out_trade_no"]] = known or {
            "request": data, "total": total, "prepay_id": "wx" + secrets.token_hex(14), "trade_state": "NOTPAY",
            "transaction_id": None, "frozen": 0,
            "profit_sharing": bool((data.get("settle_info") or {}).get("profit_sharing"))}
        self._answer(200, {"prepay_id": self.orders[data["out_trade_no"]]["prepay_id"]})

    def _query_order(self, data: dict[str, Any], query: dict[str, str], out_trade_no: str) -> None:
        if query.get("mchid") != MCH_ID:
            return self._error(400, "PARAM_ERROR", "mchid不匹配")
        order = self.orders.get(out_trade_no)
        if order is None:
            return self._error(404, "ORDER_NOT_EXIST", "订单不存在")
        answer = {"appid": APP_ID, "mchid": MCH_ID, "out_trade_no": out_trade_no, "trade_type": "JSAPI",
                  "trade_state": order["trade_state"], "trade_state_desc": order["trade_state"],
                  "amount": {"total": order["total"], "currency": "CNY"}}
        if order["transaction_id"]:
            answer.update(transaction_id=order["transaction_id"], success_time=order["success_time"],
                          payer={"openid": order["request"]["payer"]["openid"]})
            answer["amount"].update(payer_total=order["total"], payer_currency="CNY")
        self._answer(200, answer)

    def _refund(self, data: dict[str, Any], query: dict[str, str]) -> None:
        order = self.orders.get(data.get("out_trade_no", ""))
        if order is None:
            return self._error(404, "RESOURCE_NOT_EXISTS", "订单不存在")
        amount = data.get("amount") or {}
        refund, total = amount.get("refund"), amount.get("total")
        if not isinstance(refund, int) or not isinstance(total, int) or refund <= 0 or amount.get("currency") != "CNY":
            return self._error(400, "PARAM_ERROR", "退款金额错误")
        known = self.refunds.get(data.get("out_refund_no", ""))
        if known is not None:
            if known["amount"]["refund"] != refund or known["out_trade_no"] != data["out_trade_no"]:
                return self._error(400, "INVALID_REQUEST", "同一退款单号的订单金额或退款金额与之前请求不一致")
            return self._answer(200, known)  # the same refund again: refunds nothing more
        if order["trade_state"] not in ("SUCCESS", "REFUND"):
            return self._error(400, "INVALID_REQUEST", "订单未支付")
        if total != order["total"]:
            return self._error(400, "INVALID_REQUEST", "订单金额与实际支付金额不一致")
        if self.refunded_cents(data["out_trade_no"]) + refund > order["total"]:
            return self._error(403, "NOT_ENOUGH", "可退金额不足")
        done = {"refund_id": "50300" + secrets.token_hex(10), "out_refund_no": data["out_refund_no"],
                "transaction_id": order["transaction_id"], "out_trade_no": data["out_trade_no"],
                "channel": "ORIGINAL", "user_received_account": "支付用户零钱", "create_time": _now(),
                "status": "PROCESSING", "notify_url": data.get("notify_url"),
                "amount": {"total": total, "refund": refund, "payer_total": total, "payer_refund": refund,
                           "currency": "CNY"}}
        self.refunds[data["out_refund_no"]] = done
        order["trade_state"], order["frozen"] = "REFUND", max(0, order["frozen"] - refund)
        self._answer(200, done)

    def _query_refund(self, data: dict[str, Any], query: dict[str, str], out_refund_no: str) -> None:
        if out_refund_no not in self.refunds:
            return self._error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        self._answer(200, self.refunds[out_refund_no])

    def _add_receiver(self, data: dict[str, Any], query: dict[str, str]) -> None:
        kind, account = data.get("type"), data.get("account")
        if data.get("appid") != APP_ID or kind not in ("MERCHANT_ID", "PERSONAL_OPENID") or not account:
            return self._error(400, "PARAM_ERROR", "appid、type或account错误")
        if not data.get("relation_type") or (kind == "MERCHANT_ID" and not data.get("name")):
            return self._error(400, "PARAM_ERROR", "缺少relation_type或分账接收方全称")
        name = None
        if data.get("name"):  # encrypted with the platform key the Wechatpay-Serial header names
            if self.headers.get("Wechatpay-Serial") != self.answer_serial:
                return self._error(400, "PARAM_ERROR", "Wechatpay-Serial与加密所用的平台公钥不符")
            try:
                name = self.keys.platform.decrypt(b64decode(data["name"]), padding.OAEP(
                    mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)).decode()
            except ValueError:
                return self._error(400, "PARAM_ERROR", "name解密失败")
        if (kind, account) in self.receivers:
            return self._error(400, "INVALID_REQUEST", "分账接收方已存在")
        self.receivers[(kind, account)] = {**data, "name": name}
        self._answer(200, {"type": kind, "account": account, "relation_type": data["relation_type"]})

    def _split(self, data: dict[str, Any], query: dict[str, str]) -> None:
        order = next((o for o in self.orders.values() if o["transaction_id"] == data.get("transaction_id")), None)
        if order is None or data.get("appid") != APP_ID:
            return self._error(404, "RESOURCE_NOT_EXISTS", "订单不存在")
        receivers = data.get("receivers") or []
        known = self.splits.get(data.get("out_order_no", ""))
        if known is not None:  # the same split again answers the first, as WeChat does
            same = [(r["account"], r["amount"]) for r in known["receivers"][:len(receivers)]] == \
                   [(r.get("account"), r.get("amount")) for r in receivers]
            return self._answer(200, known) if same else self._error(400, "INVALID_REQUEST", "分账单号重复")
        if not order["profit_sharing"] or order["trade_state"] not in ("SUCCESS", "REFUND"):
            return self._error(400, "INVALID_REQUEST", "订单未支付或下单时未设置分账")
        if any((r.get("type"), r.get("account")) not in self.receivers for r in receivers):
            return self._error(400, "INVALID_REQUEST", "分账接收方未添加")
        wanted = sum(r.get("amount", 0) for r in receivers)
        if wanted <= 0 or wanted > order["frozen"]:
            return self._error(403, "NOT_ENOUGH", "可分账金额不足")
        order["frozen"] -= wanted
        split = {"transaction_id": data["transaction_id"], "out_order_no": data["out_order_no"],
                 "order_id": "30000" + secrets.token_hex(10), "state": "PROCESSING",
                 "receivers": [{"type": r["type"], "account": r["account"], "amount": r["amount"],
                                "description": r.get("description"), "result": "PENDING"} for r in receivers]}
        if data.get("unfreeze_unsplit") is True and order["frozen"] > 0:  # the rest goes to the merchant itself
            split["receivers"].append({"type": "MERCHANT_ID", "account": MCH_ID, "amount": order["frozen"],
                                       "description": "解冻给分账方", "result": "PENDING"})
            order["frozen"] = 0
        # the answer says PROCESSING, as WeChat's does; the stored split is finished before the answer leaves
        # (finishing it after would race a test that changes a receiver's result as soon as it is answered)
        answer = copy.deepcopy(split)
        split["state"] = "FINISHED"
        for receiver in split["receivers"]:
            receiver["result"] = "SUCCESS"
        self.splits[data["out_order_no"]] = split
        self._answer(200, answer)

    def _query_split(self, data: dict[str, Any], query: dict[str, str], out_order_no: str) -> None:
        split = self.splits.get(out_order_no)
        if split is None or split["transaction_id"] != query.get("transaction_id"):
            return self._error(404, "RESOURCE_NOT_EXISTS", "分账单不存在")
        self._answer(200, split)

    def _certificates(self, data: dict[str, Any], query: dict[str, str]) -> None:
        certificate = self.keys.certificate
        self._answer(200, {"data": [{
            "serial_no": self.keys.certificate_serial,
            "effective_time": certificate.not_valid_before_utc.isoformat(),
            "expire_time": certificate.not_valid_after_utc.isoformat(),
            "encrypt_certificate": _encrypt(APIV3_KEY, certificate_pem(self.keys), "certificate")}]})

    def log_message(self, *args: object) -> None:
        pass


def notification(keys: Keys, event_type: str, resource: dict[str, Any], *, apiv3_key: str = APIV3_KEY,
                 serial: str = PUBLIC_KEY_ID, timestamp: int | None = None,
                 signing_key: rsa.RSAPrivateKey | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a notification WeChat POSTs: `resource` encrypted with the APIv3
    key, the whole signed with the platform key (or `signing_key`, to forge one)."""
    kind = "transaction" if event_type.startswith("TRANSACTION.") else "refund"
    envelope = {"id": str(uuid.uuid4()), "create_time": _now(), "resource_type": "encrypt-resource",
                "event_type": event_type, "summary": "支付成功" if kind == "transaction" else "退款状态变更",
                "resource": {"original_type": kind,
                             **_encrypt(apiv3_key, json.dumps(resource, ensure_ascii=False), kind)}}
    body = json.dumps(envelope, ensure_ascii=False).encode()
    return body, signed_headers(body, signing_key or keys.platform, serial, timestamp)


def payment_notification(keys: Keys, out_trade_no: str, changes: dict[str, Any] | None = None,
                         **options: Any) -> tuple[bytes, dict[str, str]]:
    """TRANSACTION.SUCCESS for an order the stand-in holds as paid; `changes` alters the resource."""
    order = FakeWeChatPayV3.orders[out_trade_no]
    resource = {"appid": APP_ID, "mchid": MCH_ID, "out_trade_no": out_trade_no,
                "transaction_id": order["transaction_id"], "trade_type": "JSAPI", "trade_state": "SUCCESS",
                "trade_state_desc": "支付成功", "bank_type": "OTHERS", "attach": "",
                "success_time": order["success_time"], "payer": {"openid": order["request"]["payer"]["openid"]},
                "amount": {"total": order["total"], "payer_total": order["total"], "currency": "CNY",
                           "payer_currency": "CNY"}, **(changes or {})}
    return notification(keys, "TRANSACTION.SUCCESS", resource, **options)


def refund_notification(keys: Keys, out_refund_no: str, status: str = "SUCCESS",
                        **options: Any) -> tuple[bytes, dict[str, str]]:
    """REFUND.<status> for a refund the stand-in made; the refund takes that status."""
    refund = FakeWeChatPayV3.refunds[out_refund_no]
    refund["status"] = status
    resource = {"mchid": MCH_ID, "out_trade_no": refund["out_trade_no"], "transaction_id": refund["transaction_id"],
                "out_refund_no": out_refund_no, "refund_id": refund["refund_id"], "refund_status": status,
                "success_time": _now(), "user_received_account": refund["user_received_account"],
                "amount": {k: refund["amount"][k] for k in ("total", "refund", "payer_total", "payer_refund")}}
    return notification(keys, f"REFUND.{status}", resource, **options)
