"""A local stand-in for WeChat's HTTP API: the client's base URL points here."""
from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse


UNREACHABLE_OPENID = "o-refuses"  # messages to this user are refused, as WeChat does without a subscription


class FakeWeChat(BaseHTTPRequestHandler):
    calls: list[tuple[str, dict[str, list[str]], dict[str, Any]]] = []
    tickets: list[str] = []  # the scene of each QR code made, in order

    @classmethod
    def templates(cls) -> list[dict[str, Any]]:
        """The template messages received, as WeChat got them."""
        return [body for path, _, body in cls.calls if path == "/cgi-bin/message/template/send"]

    def _answer(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        params = parse_qs(url.query)
        FakeWeChat.calls.append((url.path, params, {}))
        if url.path == "/cgi-bin/token":
            self._answer({"access_token": "AT-123", "expires_in": 7200})
        elif url.path == "/sns/jscode2session":
            code = params.get("js_code", [""])[0]
            if code == "bad-code":
                self._answer({"errcode": 40029, "errmsg": "invalid code"})
            else:
                self._answer({"openid": f"o-{code}", "session_key": f"sk-{code}"})
        else:
            self._answer({"errcode": 404, "errmsg": "no such API in the fake"})

    def do_POST(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeWeChat.calls.append((url.path, parse_qs(url.query), body))
        if body.get("touser") == UNREACHABLE_OPENID:
            self._answer({"errcode": 43101, "errmsg": "user refuse to accept the msg"})
        elif url.path == "/cgi-bin/qrcode/create":
            # a temporary parametric QR code: WeChat answers a ticket (URL-unsafe characters included)
            scene = body.get("action_info", {}).get("scene", {}).get("scene_str", "")
            FakeWeChat.tickets.append(scene)
            self._answer({"ticket": f"gQH/ticket+{len(FakeWeChat.tickets)}==", "expire_seconds": body.get("expire_seconds"),
                          "url": f"http://weixin.qq.com/q/{len(FakeWeChat.tickets)}"})
        elif url.path == "/cgi-bin/message/template/send":
            if not body.get("template_id") or not isinstance(body.get("data"), dict):
                self._answer({"errcode": 40037, "errmsg": "invalid template_id"})
            else:
                self._answer({"errcode": 0, "errmsg": "ok", "msgid": len(FakeWeChat.calls)})
        else:
            self._answer({"errcode": 0, "errmsg": "ok"})

    def log_message(self, *args: object) -> None:
        pass
