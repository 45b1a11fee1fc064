"""A tiny SMTP server on 127.0.0.1 that keeps what it receives (aiosmtpd is not installed)."""
from __future__ import annotations

import socketserver
from email import message_from_bytes, policy
from email.message import EmailMessage


class SmtpSink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Session)
        self.messages: list[tuple[str, list[str], EmailMessage]] = []  # (from, recipients, message)

    @property
    def port(self) -> int:
        return self.server_address[1]


class _Session(socketserver.StreamRequestHandler):
    server: SmtpSink

    def _say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self._say("220 sink ESMTP")
        sender, recipients = "", []
        while line := self.rfile.readline():
            command = line.decode(errors="replace").strip()
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self._say("250-sink")
                self._say("250 8BITMIME")
            elif verb == "HELO":
                self._say("250 sink")
            elif verb == "MAIL":
                sender, recipients = command.split(":", 1)[1].strip(" <>"), []
                self._say("250 OK")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip(" <>"))
                self._say("250 OK")
            elif verb == "DATA":
                self._say("354 end with <CRLF>.<CRLF>")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                message = message_from_bytes(data, policy=policy.default)
                self.server.messages.append((sender, recipients, message))  # type: ignore[arg-type]
                self._say("250 queued")
            elif verb in ("RSET", "NOOP"):
                self._say("250 OK")
            elif verb == "QUIT":
                self._say("221 bye")
                return
            else:
                self._say("502 not implemented")
