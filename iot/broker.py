"""The embedded MQTT broker (amqtt) used when MQTT_URL is unset, and the
address of whichever broker is in use.

amqtt has no shared subscriptions, so with it one ingestion process takes
every message; production runs Mosquitto or EMQX at MQTT_URL.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.config import Settings
from core.errors import DependencyUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    embedded: bool = False


def broker_address(settings: Settings) -> BrokerAddress:
    if settings.mqtt_url is None:
        return BrokerAddress("127.0.0.1", settings.iot.embedded_port, embedded=True)
    url = urlsplit(settings.mqtt_url)
    if url.scheme not in ("mqtt", "tcp") or not url.hostname:
        raise DependencyUnavailable(f"MQTT_URL 须形如 mqtt://host:1883，当前为 {settings.mqtt_url!r}。",
                                    code="mqtt_url_invalid")
    return BrokerAddress(url.hostname, url.port or 1883, url.username, url.password)


class EmbeddedBroker:
    """An amqtt broker on 127.0.0.1:port, on its own event loop thread."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker = None

    def start(self, timeout: float = 10.0) -> "EmbeddedBroker":
        # amqtt narrates every session's state machine at INFO; keep the operator's log readable
        for noisy in ("transitions", "amqtt"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            from amqtt.broker import Broker

            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            config = {
                "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
                # no $SYS publishing, no packet logging: a quiet, anonymous local broker
                "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
            }

            async def boot() -> None:
                self._broker = Broker(config)
                await self._broker.start()

            try:
                loop.run_until_complete(boot())
            except Exception as exc:  # handed to start(), which raises it in the caller's thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=f"mqtt-broker-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise DependencyUnavailable(f"内置 MQTT 服务未能在端口 {self.port} 上启动。",
                                        code="mqtt_unavailable")
        if failure:
            raise DependencyUnavailable(f"内置 MQTT 服务无法监听 {self.host}:{self.port}："
                                        f"{failure[0]}", code="mqtt_unavailable")
        log.info("embedded MQTT broker on %s:%d", self.host, self.port)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        loop, broker = self._loop, self._broker
        if loop is None or broker is None or not loop.is_running():
            return
        asyncio.run_coroutine_threadsafe(broker.shutdown(), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)
        self._broker = None

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
