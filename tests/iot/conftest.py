"""A real MQTT broker for the IoT tests: the embedded amqtt broker on a free
port, or the broker at MQTT_URL (Mosquitto in CI) with a topic prefix and
client ids of the test's own."""
from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import paho.mqtt.client as mqtt
import pytest
from flask import Flask

from iot.broker import EmbeddedBroker
from tests.conftest import MINI_CATALOG, cli


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Broker:
    host: str
    port: int
    env: dict[str, str]  # what the app needs to reach it
    prefix: str
    embedded: EmbeddedBroker | None

    def client(self, client_id: str | None = None, will: tuple[str, bytes] | None = None,
               keepalive: int = 60) -> mqtt.Client:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"test-{uuid.uuid4().hex[:10]}")
        if will:
            c.will_set(will[0], will[1], qos=1, retain=True)
        c.connect(self.host, self.port, keepalive=keepalive)
        c.loop_start()
        wait_for(c.is_connected, what="the test client to connect")
        return c


@pytest.fixture
def broker() -> Iterator[Broker]:
    prefix = f"t{uuid.uuid4().hex[:8]}/"
    url = os.environ.get("MQTT_URL")
    if url:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        yield Broker(parts.hostname or "127.0.0.1", parts.port or 1883, {"MQTT_URL": url, "IOT_TOPIC_PREFIX": prefix},
                     prefix, None)
        return
    port = free_port()
    embedded = EmbeddedBroker(port).start()
    try:
        yield Broker("127.0.0.1", port, {"MQTT_EMBEDDED_PORT": str(port), "IOT_TOPIC_PREFIX": prefix}, prefix,
                     embedded)
    finally:
        embedded.stop()


@pytest.fixture
def iot_app(tmp_path: Path, app_factory: Callable[..., Flask], broker: Broker) -> Flask:
    """A migrated app with the mini catalog (no search index: these tests do not search)."""
    app = app_factory(tmp_path, **broker.env)
    assert cli(app, "catalog", "import", "--approve", str(MINI_CATALOG)).exit_code == 0
    return app
