"""The dialogue engine, through the terminal and the demo page, on the mini catalog."""
from flask import Flask
from sqlalchemy import select

from bot.intents import chinese_number, read_turn
from bot.state import STATE_TTL_SECONDS
from core.db import unit_of_work
from core.models import UnmetDemand


def _say(app: Flask, user: str, text: str):  # type: ignore[no-untyped-def]
    return app.extensions["dialogue"].reply(user, text, "test")


def test_reading_turns() -> None:
    cities = frozenset({"重庆", "杭州"})
    assert read_turn("第二个", cities, True).number == 2
    assert read_turn("3", cities, True).kind == "pick"
    assert read_turn("重庆的", cities, True).city == "重庆"
    assert read_turn("三天内出报告的", cities, True).max_days == 3
    assert read_turn("500元以内", cities, True).max_price == 500
    assert read_turn("便宜一点的", cities, True).cheaper
    # without a need on the table a short message is a need
    assert read_turn("重庆的", cities, False).kind == "need"
    # a city inside a longer message is a new need, not a refinement
    assert read_turn("重庆哪里可以测甲醛", cities, True).kind == "need"
    assert (chinese_number("十二"), chinese_number("两"), chinese_number("7")) == (12, 2, 7)


def test_a_need_gets_recommendations_with_lab_price_and_booking_link(shared_catalog_app: Flask) -> None:
    reply = _say(shared_catalog_app, "u1", "辣椒粉里有没有苏丹红")
    assert reply.kind == "results"
    assert {i.code for i in reply.items} == {"T-CQ-S001", "T-HZ-S001"}
    first = reply.items[0]
    assert first.link.endswith(f"code={first.code}") and first.status == "unknown"
    assert "¥" in reply.text and "第2个" in reply.text  # what to say next


def test_follow_ups_refine_pick_and_page(shared_catalog_app: Flask) -> None:
    app = shared_catalog_app
    _say(app, "u2", "辣椒粉里有没有苏丹红")
    hz = _say(app, "u2", "杭州的")
    assert [i.code for i in hz.items] == ["T-HZ-S001"]
    detail = _say(app, "u2", "第1个")
    assert detail.kind == "detail"
    assert "杭州某大学分析测试中心" in detail.text and "GB/T 19681-2005" in detail.text and "¥260" in detail.text
    assert _say(app, "u2", "第9个").kind == "bad_pick"

    _say(app, "u2", "重新开始")
    all_ = _say(app, "u2", "苏丹红")
    cheap = _say(app, "u2", "便宜一点的")
    assert [i.price_cny for i in cheap.items] == sorted(i.price_cny for i in all_.items)
    fast = _say(app, "u2", "四天内出报告的")
    assert [i.code for i in fast.items] == ["T-HZ-S001"]
    assert _say(app, "u2", "换一批").kind == "results"


def test_a_vague_need_gets_a_question_not_a_list(shared_catalog_app: Flask) -> None:
    for text in ("我想做个检测", "测成分"):
        reply = _say(shared_catalog_app, "u3", text)
        assert reply.kind == "clarify" and not reply.items and "样品是什么" in reply.text


def test_an_unmet_need_is_said_honestly_and_logged(shared_catalog_app: Flask) -> None:
    reply = _say(shared_catalog_app, "u4", "帮我修一下空调")
    assert reply.kind == "unmet" and "暂时还没有实验室" in reply.text and "联系平台" in reply.text
    with unit_of_work(shared_catalog_app.extensions["platform"].session_factory) as s:
        logged = s.scalars(select(UnmetDemand).where(UnmetDemand.user_key == "u4")).all()
    assert [(u.query, u.channel) for u in logged] == [("帮我修一下空调", "test")]


def test_state_lives_in_redis_and_expires(shared_catalog_app: Flask) -> None:
    _say(shared_catalog_app, "u5", "晶型")
    conn = shared_catalog_app.extensions["platform"].redis
    ttl = conn.ttl("bot:dialogue:u5")
    assert 0 < ttl <= STATE_TTL_SECONDS
    conn.delete("bot:dialogue:u5")  # as if it expired
    assert _say(shared_catalog_app, "u5", "第1个").kind != "detail"


def test_the_terminal_chat(shared_catalog_app: Flask) -> None:
    result = shared_catalog_app.test_cli_runner().invoke(args=["bot", "chat", "-m", "猪肉里有没有瘦肉精", "-m", "第1个"])
    assert result.exit_code == 0
    assert "克伦特罗" in result.output and "重庆某食品检验研究院" in result.output


def test_the_demo_page_and_its_message_endpoint(shared_catalog_app: Flask) -> None:
    client = shared_catalog_app.test_client()
    page = client.get("/demo/chat")
    assert page.status_code == 200 and "说说您想检测什么" in page.get_data(as_text=True)
    resp = client.post("/demo/chat/messages", json={"text": "辣椒粉里有没有苏丹红"})
    body = resp.get_json()
    assert resp.status_code == 200 and body["kind"] == "results"
    assert body["items"][0]["code"] in {"T-CQ-S001", "T-HZ-S001"}
    # the same browser session continues the conversation
    assert client.post("/demo/chat/messages", json={"text": "第1个"}).get_json()["kind"] == "detail"
    bad = client.post("/demo/chat/messages", json={"text": ""})
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_message"
