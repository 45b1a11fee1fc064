"""Topics and payloads of the sensor network, parsed and checked.

    instruments/{instrument_code}/telemetry   {"ts": <ms since epoch>, "current_a": <float>} or a list of them
    gateways/{gateway_id}/status              {"status": "online"|"offline", "instruments": [codes…]} or a bare
                                              "online" / "offline" (retained; "offline" is the gateway's Last Will)

Every topic may carry a deployment prefix (IOT_TOPIC_PREFIX). Nothing here
raises on bad input from the network: bad input becomes a Rejection.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

MAX_READINGS_PER_MESSAGE = 1000  # a gateway flushing its buffer; more is someone's mistake
MAX_CODE_LENGTH = 64  # instruments.code


class Reading(NamedTuple):
    ts: int  # ms since the epoch, as the sensor stamped it
    current_a: float


@dataclass(frozen=True)
class Rejection:
    kind: str  # malformed | bad_topic | unknown_instrument | future | too_old
    source: str  # the instrument code, gateway id or topic it came from
    detail: str


@dataclass(frozen=True)
class GatewayStatus:
    gateway_id: str
    online: bool
    instruments: tuple[str, ...] | None  # None: the message did not list them


class Topics:
    """The topic names of one deployment."""

    def __init__(self, prefix: str = ""):
        self.prefix = prefix
        self._telemetry_head = f"{prefix}instruments/"
        self._gateway_head = f"{prefix}gateways/"

    @property
    def telemetry_filter(self) -> str:
        return f"{self.prefix}instruments/+/telemetry"

    @property
    def gateway_filter(self) -> str:
        return f"{self.prefix}gateways/+/status"

    def telemetry(self, instrument_code: str) -> str:
        return f"{self.prefix}instruments/{instrument_code}/telemetry"

    def gateway_status(self, gateway_id: str) -> str:
        return f"{self.prefix}gateways/{gateway_id}/status"

    def instrument_of(self, topic: str) -> str | None:
        """The instrument code of a telemetry topic, None for any other topic."""
        if not topic.startswith(self._telemetry_head) or not topic.endswith("/telemetry"):
            return None
        code = topic[len(self._telemetry_head): -len("/telemetry")]
        if not code or "/" in code or len(code) > MAX_CODE_LENGTH:
            return None
        return code

    def gateway_of(self, topic: str) -> str | None:
        if not topic.startswith(self._gateway_head) or not topic.endswith("/status"):
            return None
        gateway = topic[len(self._gateway_head): -len("/status")]
        return gateway if gateway and "/" not in gateway else None


def _number(value: Any) -> float | None:
    # bool is an int to Python but never a reading
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def parse_telemetry(
    payload: bytes, source: str, now_ms: int, max_future_ms: int, max_age_ms: int,
) -> tuple[list[Reading], list[Rejection]]:
    """The good readings of one telemetry message and a rejection per bad one.

    A reading is bad when it is not {"ts": number, "current_a": number >= 0},
    or stamped more than max_future_ms ahead of now_ms or max_age_ms behind it.
    """
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        return [], [Rejection("malformed", source, "not JSON")]
    items = body if isinstance(body, list) else [body]
    if len(items) > MAX_READINGS_PER_MESSAGE:
        return [], [Rejection("malformed", source, f"more than {MAX_READINGS_PER_MESSAGE} readings in one message")]
    readings: list[Reading] = []
    rejections: list[Rejection] = []
    for item in items:
        if not isinstance(item, dict):
            rejections.append(Rejection("malformed", source, "a reading must be an object"))
            continue
        ts, current = _number(item.get("ts")), _number(item.get("current_a"))
        if ts is None or current is None:
            rejections.append(Rejection("malformed", source, "a reading needs numeric ts (ms) and current_a (A)"))
            continue
        if current < 0:
            rejections.append(Rejection("malformed", source, "current_a is negative"))
            continue
        if ts > now_ms + max_future_ms:
            rejections.append(Rejection("future", source, "ts is ahead of the clock"))
            continue
        if ts < now_ms - max_age_ms:
            rejections.append(Rejection("too_old", source, "ts is too far in the past"))
            continue
        readings.append(Reading(int(ts), current))
    return readings, rejections


def parse_gateway_status(payload: bytes, gateway_id: str) -> GatewayStatus | Rejection:
    text = payload.decode("utf-8", errors="replace").strip()
    if text in ("online", "offline"):
        return GatewayStatus(gateway_id, text == "online", None)
    try:
        body = json.loads(text)
    except ValueError:
        return Rejection("malformed", gateway_id, "gateway status is neither JSON nor online/offline")
    if not isinstance(body, dict) or body.get("status") not in ("online", "offline"):
        return Rejection("malformed", gateway_id, 'gateway status needs "status": "online" or "offline"')
    listed = body.get("instruments")
    if listed is not None and not (isinstance(listed, list) and all(isinstance(c, str) for c in listed)):
        return Rejection("malformed", gateway_id, '"instruments" must be a list of instrument codes')
    return GatewayStatus(gateway_id, body["status"] == "online", tuple(listed) if listed is not None else None)


def telemetry_payload(readings: list[Reading] | Reading) -> bytes:
    """The wire form the sensors use (the simulator and the tests publish with it)."""
    if isinstance(readings, Reading):
        return json.dumps({"ts": readings.ts, "current_a": round(readings.current_a, 4)}).encode()
    return json.dumps([{"ts": r.ts, "current_a": round(r.current_a, 4)} for r in readings]).encode()


def gateway_payload(online: bool, instruments: list[str]) -> bytes:
    return json.dumps({"status": "online" if online else "offline", "instruments": instruments}).encode()
