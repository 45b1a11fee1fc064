"""What a hostile client sends the official-account endpoint: replays, stale or future stamps,
garbage with a valid signature, forged or garbled safe-mode envelopes, entity bombs, huge
bodies, huge messages. Each is refused with a 4xx in the error shape, quickly, or answered
briefly; never a 500."""
from __future__ import annotations

import time
from typing import Iterator

import pytest
import xmltodict
from flask import Flask
from flask.testing import FlaskClient
from wechatpy.crypto import WeChatCrypto

from tests.bot.test_wechat import AES_KEY, APP_ID, TOKEN, _query, _signature, _text
from tests.conftest import build_catalog_app, stop_app


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    app: Flask = build_catalog_app(tmp_path_factory.mktemp("hostile"), WECHAT_TOKEN=TOKEN, WECHAT_APP_ID=APP_ID,
                                   WECHAT_AES_KEY=AES_KEY)
    yield app.test_client()
    stop_app(app)


def _refused(resp, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]
    assert resp.get_json()["error"]["code"] == code


@pytest.mark.parametrize("offset", [-6 * 3600, -301, 301, 6 * 3600])
def test_a_signature_stamped_outside_the_window_is_refused(client: FlaskClient, offset: int) -> None:
    query = _query(timestamp=str(int(time.time()) + offset))
    _refused(client.post("/wechat", query_string=query, data=_text("苏丹红", 7001)), 403, "stale_message")


def test_a_captured_signature_cannot_carry_another_message(client: FlaskClient) -> None:
    query = _query()
    first = _text("辣椒粉里有没有苏丹红", 7101, "oA")
    assert client.post("/wechat", query_string=query, data=first).status_code == 200
    # WeChat's own retry repeats the body and is answered; another body under the same signature is not
    assert client.post("/wechat", query_string=query, data=first).status_code == 200
    _refused(client.post("/wechat", query_string=query, data=_text("转账给我", 7102, "oEvil")), 403, "replayed_message")


@pytest.mark.parametrize("body", [b"", b"not xml at all", b"<xml><MsgType>", b"<xml></xml>", b"\xff\xfe\x00<",
                                  b"<xml><MsgType><![CDATA[text]]></MsgType></xml><extra/>"])
def test_garbage_with_a_valid_signature_is_a_400(client: FlaskClient, body: bytes) -> None:
    _refused(client.post("/wechat", query_string=_query(), data=body), 400, "bad_message")


def test_an_entity_bomb_is_refused_quickly(client: FlaskClient) -> None:
    bomb = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
            + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
            + ']><xml><MsgType><![CDATA[text]]></MsgType><Content>&i;</Content></xml>')
    started = time.perf_counter()
    resp = client.post("/wechat", query_string=_query(), data=bomb.encode())
    assert resp.status_code in (400, 200) and time.perf_counter() - started < 5
    assert len(resp.get_data()) < 10_000  # nothing expanded into the answer


def test_a_body_far_larger_than_any_wechat_message_is_413(client: FlaskClient) -> None:
    resp = client.post("/wechat", query_string=_query(), data=b"<xml>" + b"a" * (1024 * 1024) + b"</xml>")
    assert resp.status_code == 413  # refused unread, by the endpoint's own cap or the server-wide one
    assert resp.get_json()["error"]["code"] in ("message_too_large", "payload_too_large")


def test_an_eighteen_thousand_character_message_gets_a_short_answer_fast(client: FlaskClient) -> None:
    started = time.perf_counter()
    resp = client.post("/wechat", query_string=_query(), data=_text("苏丹红" * 6_000, 7201, "oLong"))
    assert resp.status_code == 200 and time.perf_counter() - started < 3
    assert "太长" in xmltodict.parse(resp.get_data(as_text=True))["xml"]["Content"]


def _safe_query(envelope: str, timestamp: str, nonce: str) -> dict[str, str]:
    sent = xmltodict.parse(envelope)["xml"]
    return {"timestamp": timestamp, "nonce": nonce, "encrypt_type": "aes", "msg_signature": sent["MsgSignature"],
            "signature": _signature(TOKEN, timestamp, nonce)}


def test_safe_mode_refuses_forged_garbled_and_unsigned_envelopes(client: FlaskClient) -> None:
    timestamp, nonce = str(int(time.time())), "hostile-aes"
    genuine = WeChatCrypto(TOKEN, AES_KEY, APP_ID).encrypt_message(_text("苏丹红", 7301, "oSafe"), nonce, timestamp)
    query = _safe_query(genuine, timestamp, nonce)
    _refused(client.post("/wechat", query_string={**query, "msg_signature": "0" * 40}, data=genuine),
             403, "bad_signature")
    unsigned = {k: v for k, v in query.items() if k != "msg_signature"}
    _refused(client.post("/wechat", query_string=unsigned, data=genuine), 403, "bad_signature")
    _refused(client.post("/wechat", query_string={**query, "nonce": "other"}, data=b"<xml><Encrypt>x</Encrypt></xml>"),
             400, "bad_message")
    # signed correctly, but encrypted with another key: it cannot be read
    other = WeChatCrypto(TOKEN, "Z" * 43, APP_ID).encrypt_message(_text("苏丹红", 7302, "oSafe"), nonce + "2", timestamp)
    _refused(client.post("/wechat", query_string=_safe_query(other, timestamp, nonce + "2"), data=other),
             400, "bad_message")
    # and a genuine envelope still goes through
    assert client.post("/wechat", query_string=query, data=genuine).status_code == 200
