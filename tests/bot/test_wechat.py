"""The official-account endpoint, with messages built and signed the way WeChat does."""
import hashlib
import secrets
import time
from typing import Iterator

import pytest
import xmltodict
from flask import Flask
from wechatpy.crypto import WeChatCrypto

from tests.conftest import build_catalog_app, stop_app

TOKEN = "platformtoken"
APP_ID = "wx1234567890abcdef"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
USER = "oUser-1"


def _signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _query(timestamp: str | None = None, nonce: str | None = None) -> dict[str, str]:
    """Signed as WeChat signs a fresh message: now, with a nonce of its own."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or secrets.token_hex(8)
    return {"timestamp": timestamp, "nonce": nonce, "signature": _signature(TOKEN, timestamp, nonce)}


def _text(content: str, msg_id: int, user: str = USER) -> str:
    return (f"<xml><ToUserName><![CDATA[gh_platform]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>")


def _event(event: str, create_time: int, key: str = "", user: str = USER) -> str:
    return (f"<xml><ToUserName><![CDATA[gh_platform]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>")


def _reply_content(xml: str) -> str:
    return xmltodict.parse(xml)["xml"]["Content"]


@pytest.fixture(scope="module")
def wechat_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = build_catalog_app(tmp_path_factory.mktemp("wechat"), WECHAT_TOKEN=TOKEN, WECHAT_APP_ID=APP_ID, WECHAT_AES_KEY=AES_KEY)
    yield app
    stop_app(app)


def test_server_verification(wechat_app: Flask) -> None:
    client = wechat_app.test_client()
    ok = client.get("/wechat", query_string={**_query(), "echostr": "hello-wechat"})
    assert ok.status_code == 200 and ok.get_data(as_text=True) == "hello-wechat"
    bad = client.get("/wechat", query_string={**_query(), "signature": "0" * 40, "echostr": "x"})
    assert bad.status_code == 403 and bad.get_json()["error"]["code"] == "bad_signature"


def test_a_text_message_gets_recommendations(wechat_app: Flask) -> None:
    resp = wechat_app.test_client().post("/wechat", query_string=_query(), data=_text("辣椒粉里有没有苏丹红", 1001))
    assert resp.status_code == 200
    reply = xmltodict.parse(resp.get_data(as_text=True))["xml"]
    assert reply["ToUserName"] == USER and reply["MsgType"] == "text"
    assert "苏丹红" in reply["Content"] and "¥" in reply["Content"] and "code=T-" in reply["Content"]


def test_a_bad_signature_is_refused_and_touches_nothing(wechat_app: Flask) -> None:
    conn = wechat_app.extensions["platform"].redis
    resp = wechat_app.test_client().post("/wechat", query_string={**_query(), "signature": "f" * 40}, data=_text("苏丹红", 2002, "oBad"))
    assert resp.status_code == 403
    assert conn.get("wechat:seen:msg:2002") is None and conn.get("bot:dialogue:oBad") is None


def test_a_retried_message_is_answered_once(wechat_app: Flask) -> None:
    from sqlalchemy import func, select

    from core.db import unit_of_work
    from core.models import UnmetDemand

    def unmet_logged() -> int:
        with unit_of_work(wechat_app.extensions["platform"].session_factory) as s:
            return s.scalar(select(func.count()).select_from(UnmetDemand).where(UnmetDemand.user_key == "oRetry"))

    client = wechat_app.test_client()
    # a need nobody meets is logged once per handling: retries must not add to it
    first = client.post("/wechat", query_string=_query(), data=_text("帮我修一下空调", 3003, "oRetry"))
    assert "暂时还没有实验室" in _reply_content(first.get_data(as_text=True))
    for _ in range(3):
        again = client.post("/wechat", query_string=_query(), data=_text("帮我修一下空调", 3003, "oRetry"))
        assert again.get_data(as_text=True) == first.get_data(as_text=True)
    assert unmet_logged() == 1

    # a retry that arrives while the first delivery is still being answered
    wechat_app.extensions["platform"].redis.set("wechat:seen:msg:3004", b"pending")
    busy = client.post("/wechat", query_string=_query(), data=_text("帮我修一下空调", 3004, "oRetry"))
    assert busy.get_data(as_text=True) == "success" and unmet_logged() == 1


def test_safe_mode_round_trip(wechat_app: Flask) -> None:
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    timestamp, nonce = str(int(time.time())), "nonce-aes"
    envelope = crypto.encrypt_message(_text("新装修的房子能住人了吗", 4004, "oSafe"), nonce, timestamp)
    sent = xmltodict.parse(envelope)["xml"]
    query = {"timestamp": timestamp, "nonce": nonce, "encrypt_type": "aes", "msg_signature": sent["MsgSignature"],
             "signature": _signature(TOKEN, timestamp, nonce)}
    resp = wechat_app.test_client().post("/wechat", query_string=query, data=envelope)
    assert resp.status_code == 200
    answer = xmltodict.parse(resp.get_data(as_text=True))["xml"]
    plain = crypto.decrypt_message(resp.get_data(), answer["MsgSignature"], answer["TimeStamp"], answer["Nonce"])
    assert "甲醛" in _reply_content(plain)

    tampered = {**query, "msg_signature": "0" * 40}
    assert wechat_app.test_client().post("/wechat", query_string=tampered, data=envelope).status_code == 403


@pytest.mark.parametrize(
    "xml, expect",
    [
        (_event("subscribe", 1700000200), "说说您想检测什么"),
        (_event("subscribe", 1700000201, key="qrscene_重庆展会"), "重庆展会"),
        (_event("SCAN", 1700000205, key="杭州展位"), "杭州展位"),
        (_event("CLICK", 1700000202, key="HOT"), "热门检测"),
        (_event("CLICK", 1700000203, key="MY_ORDERS"), "我的订单"),
        (_event("CLICK", 1700000204, key="CONTACT"), "工作人员"),
    ],
)
def test_events_get_a_useful_answer(wechat_app: Flask, xml: str, expect: str) -> None:
    resp = wechat_app.test_client().post("/wechat", query_string=_query(), data=xml)
    assert expect in _reply_content(resp.get_data(as_text=True))


def test_unsubscribe_and_other_message_kinds(wechat_app: Flask) -> None:
    client = wechat_app.test_client()
    gone = client.post("/wechat", query_string=_query(), data=_event("unsubscribe", 1700000300))
    assert gone.get_data(as_text=True) == "success"
    voice = (f"<xml><ToUserName>gh</ToUserName><FromUserName>oVoice</FromUserName><CreateTime>1700000301</CreateTime>"
             f"<MsgType>voice</MsgType><MediaId>m1</MediaId><Format>amr</Format><Recognition>猪肉里有没有瘦肉精</Recognition>"
             f"<MsgId>5005</MsgId></xml>")
    assert "克伦特罗" in _reply_content(client.post("/wechat", query_string=_query(), data=voice).get_data(as_text=True))
    image = (f"<xml><ToUserName>gh</ToUserName><FromUserName>oImg</FromUserName><CreateTime>1700000302</CreateTime>"
             f"<MsgType>image</MsgType><PicUrl>http://127.0.0.1/x.jpg</PicUrl><MediaId>m2</MediaId><MsgId>5006</MsgId></xml>")
    assert "收到图片" in _reply_content(client.post("/wechat", query_string=_query(), data=image).get_data(as_text=True))
    location = (f"<xml><ToUserName>gh</ToUserName><FromUserName>oLoc</FromUserName><CreateTime>1700000303</CreateTime>"
                f"<MsgType>location</MsgType><Location_X>30.27</Location_X><Location_Y>120.15</Location_Y><Scale>15</Scale>"
                f"<Label>浙江省杭州市西湖区</Label><MsgId>5007</MsgId></xml>")
    assert "杭州" in _reply_content(client.post("/wechat", query_string=_query(), data=location).get_data(as_text=True))


def test_without_settings_the_endpoint_says_so(app: Flask) -> None:
    resp = app.test_client().get("/wechat", query_string={**_query(), "echostr": "x"})
    assert resp.status_code == 503
    err = resp.get_json()["error"]
    assert err["code"] == "wechat_not_configured" and "/demo/chat" in err["message"]
