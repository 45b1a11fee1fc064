"""An answer that misses WeChat's passive-reply window is pushed by a worker
through the customer-service API — here a local server standing in for WeChat."""
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
import xmltodict
from flask import Flask
from rq import Queue

from core.queue import DEFAULT_QUEUE
from tests.bot.test_wechat import TOKEN, _query, _text
from tests.conftest import build_catalog_app, cli, serving


class FakeWeChat(BaseHTTPRequestHandler):
    calls: list[tuple[str, dict, dict]] = []

    def _answer(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        FakeWeChat.calls.append((url.path, parse_qs(url.query), {}))
        self._answer({"access_token": "AT-123", "expires_in": 7200})

    def do_POST(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeWeChat.calls.append((url.path, parse_qs(url.query), body))
        self._answer({"errcode": 0, "errmsg": "ok"})

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_wechat() -> Iterator[str]:
    FakeWeChat.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeWeChat)
    with serving(server):
        yield f"http://127.0.0.1:{server.server_port}/cgi-bin/"


@pytest.fixture
def slow_app(tmp_path, fake_wechat: str) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    # a deadline of 0 s: every answer misses the passive window
    app = build_catalog_app(tmp_path, WECHAT_TOKEN=TOKEN, WECHAT_APP_ID="wxapp", WECHAT_APP_SECRET="secret",
                            WECHAT_API_BASE_URL=fake_wechat, BOT_REPLY_DEADLINE_SECONDS="0")
    yield app
    app.extensions["platform"].close()


def test_a_late_answer_is_pushed_by_a_worker(slow_app: Flask) -> None:
    conn = slow_app.extensions["platform"].redis
    queue = Queue(DEFAULT_QUEUE, connection=conn)
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
    sent = [c for c in FakeWeChat.calls if c[0].endswith("/message/custom/send")]
    assert len(sent) == 1
    path, params, body = sent[0]
    assert params["access_token"] == ["AT-123"]
    assert body["touser"] == "oLate" and body["msgtype"] == "text" and "苏丹红" in body["text"]["content"]
    assert len(queue) == 0
