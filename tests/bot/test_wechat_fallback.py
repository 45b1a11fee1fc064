"""An answer that misses WeChat's passive-reply window is pushed by a worker
through the customer-service API — here a local server standing in for WeChat."""
import time
from typing import Iterator

import pytest
import xmltodict
from flask import Flask
from rq import Queue

from core.queue import NOTIFICATIONS_QUEUE
from tests.bot.test_wechat import TOKEN, _query, _text
from tests.conftest import build_catalog_app, cli, stop_app
from tests.fake_wechat import FakeWeChat


@pytest.fixture
def slow_app(tmp_path, fake_wechat: str) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    # a deadline of 0 s: every answer misses the passive window
    app = build_catalog_app(tmp_path, WECHAT_TOKEN=TOKEN, WECHAT_APP_ID="wxapp", WECHAT_APP_SECRET="secret",
                            WECHAT_API_BASE_URL=fake_wechat, BOT_REPLY_DEADLINE_SECONDS="0")
    yield app
    stop_app(app)


def test_a_late_answer_is_pushed_by_a_worker(slow_app: Flask) -> None:
    conn = slow_app.extensions["platform"].redis
    queue = Queue(NOTIFICATIONS_QUEUE, connection=conn)
    queue.empty()
    client = slow_app.test_client()
    resp = client.post("/wechat", query_string=_query(), data=_text("辣椒粉里有没有苏丹红", 9001, "oLate"))
    assert resp.get_data(as_text=True) == "success"

    deadline = time.monotonic() + 20
    while len(queue) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(queue) == 1
    # WeChat's retry now gets the finished answer instead of a second search
    retry = client.post("/wechat", query_string=_query(), data=_text("辣椒粉里有没有苏丹红", 9001, "oLate"))
    assert "苏丹红" in xmltodict.parse(retry.get_data(as_text=True))["xml"]["Content"]

    result = cli(slow_app, "worker", "--burst", "--simple")
    assert result.exit_code == 0, result.output
    assert [c[0] for c in FakeWeChat.calls if c[0].endswith("token")] == ["/cgi-bin/token"]
    sent = [c for c in FakeWeChat.calls if c[0] == "/cgi-bin/message/custom/send"]
    assert len(sent) == 1
    path, params, body = sent[0]
    assert params["access_token"] == ["AT-123"]
    assert body["touser"] == "oLate" and body["msgtype"] == "text" and "苏丹红" in body["text"]["content"]
    assert len(queue) == 0
