"""Topics and payloads of the sensor network, parsed and checked.

    instruments/{instrument_code}/telemetry   {"ts": <ms since epoch>, "current_a": <float>} or a list of them
    gateways/{gateway_id}/status              {"status": "online"|"offline", "instruments": [codes…]} or a bare
                                              "online" / "offline" (retained; "offline" is the gateway's Last Will)

Every topic may carry a deployment prefix (IOT_TOPIC_PREFIX). Nothing here
raises on bad input from the network: bad input becomes a Rejection.

Anyone who can publish can send anything, so a payload is bounded before it is
parsed: its size, its nesting depth (json recursion on "[[[[…" raised
RecursionError and stopped the ingestion), its numbers (a 5,000-digit integer
overflows float(), NaN/Infinity are not JSON) and its encoding (strict UTF-8).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

MAX_READINGS_PER_MESSAGE = 1000  # a gateway flushing its buffer; more is someone's mistake
MAX_CODE_LENGTH = 64  # instruments.code
# A full batch of 1,000 readings with full-precision floats is ~60 kB compact, ~85 kB indented by
# 4; 128 kB leaves room for that and extra fields, and parses in a few milliseconds.
MAX_PAYLOAD_BYTES = 128 * 1024
# Readings and gateway statuses nest 2 deep ([{…}] and {"instruments": […]}); 8 allows extra
# metadata objects and stays far below the interpreter's recursion limit (~1,000).
MAX_JSON_DEPTH = 8
# A ms timestamp has 13 digits, int64 19 (+ sign), a float's shortest repr at most 24 chars;
# a longer number literal is an attack or a bug, and a long one costs quadratic time to convert.
MAX_NUMBER_CHARS = 32

# Why a malformed message was dropped (Rejection.reason), counted per reason by the ingestion.
MALFORMED_REASONS = ("too_large", "not_utf8", "too_deep", "not_json", "non_finite", "huge_number", "not_object",
                     "too_many_readings", "bad_reading", "negative_current", "bad_status", "bad_instruments")


class Reading(NamedTuple):
    ts: int  # ms since the epoch, as the sensor stamped it
    current_a: float


@dataclass(frozen=True)
class Rejection:
    kind: str  # malformed | bad_topic | unknown_instrument | future | too_old
    source: str  # the instrument code, gateway id or topic it came from
    detail: str
    reason: str = ""  # for "malformed": which check failed, one of MALFORMED_REASONS


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


class _Refused(ValueError):
    """Raised by the json hooks below; becomes a Rejection with this reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


# A JSON string (escapes included), or an unterminated one running to the end. The second
# branch keeps the scan linear: a failed match never restarts at every later quote.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\[\s\S][^"\\]*)*"|"[\s\S]*')
_INNERMOST_PAIR = re.compile(rb"\[\]|\{\}")
_NOT_BRACKET = bytes(sorted(set(range(256)) - set(b"[]{}")))


def nesting_exceeds(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when arrays/objects in data nest deeper than limit (or its brackets do not pair up).

    Works on the raw bytes before any parsing: in UTF-8 a bracket or quote byte is always that
    ASCII character. Cost is linear in len(data) times at most `limit` regex passes, all in C.
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return False  # the usual one-reading message: it cannot nest deeper than it has brackets
    skeleton = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKET)
    for _ in range(limit):  # each pass removes the innermost level of every nest
        if not skeleton:
            return False
        skeleton = _INNERMOST_PAIR.sub(b"", skeleton)
    return bool(skeleton)


def _refuse_constant(name: str) -> Any:
    raise _Refused("non_finite", f"{name} is not a number")


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused("huge_number", f"a {len(text)}-digit number")
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused("huge_number", f"a {len(text)}-character number")
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses as inf
        raise _Refused("non_finite", f"{text} is out of range")
    return value


# built once: json.loads(text, **hooks) would build a decoder for every message
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_int=_bounded_int, parse_float=_bounded_float)


def decode_text(payload: bytes, source: str) -> str | Rejection:
    """The payload as text, or a rejection when it is too large or not UTF-8."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Rejection("malformed", source, f"payload over the {MAX_PAYLOAD_BYTES} byte limit", "too_large")
    try:
        return payload.decode("utf-8")  # strict: also refuses encoded surrogates
    except UnicodeDecodeError as exc:
        return Rejection("malformed", source, f"not UTF-8 (byte {exc.start})", "not_utf8")


def load_json(payload: bytes, source: str, text: str | None = None) -> Any | Rejection:
    """The JSON value of a payload within the bounds above, or a rejection saying which bound it broke.

    Never raises on any input (tests/iot/test_hostile_mqtt.py checks that with hypothesis).
    `text` is the payload already decoded by decode_text."""
    if text is None:
        decoded = decode_text(payload, source)
        if isinstance(decoded, Rejection):
            return decoded
        text = decoded
    if nesting_exceeds(payload):
        return Rejection("malformed", source, f"JSON nested deeper than {MAX_JSON_DEPTH} levels", "too_deep")
    try:
        return _DECODER.decode(text)
    except _Refused as exc:
        return Rejection("malformed", source, exc.detail, exc.reason)
    except RecursionError:  # unreachable within MAX_JSON_DEPTH; a rejection even if the limit is raised too far
        return Rejection("malformed", source, "JSON nested too deep", "too_deep")
    except ValueError:  # JSONDecodeError
        return Rejection("malformed", source, "not JSON", "not_json")


def _number(value: Any) -> float | None:
    # bool is an int to Python but never a reading
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range (load_json already refuses long literals)
        return None
    return number if math.isfinite(number) else None


def parse_telemetry(
    payload: bytes, source: str, now_ms: int, max_future_ms: int, max_age_ms: int,
) -> tuple[list[Reading], list[Rejection]]:
    """The good readings of one telemetry message and a rejection per bad one.

    A reading is bad when it is not {"ts": number, "current_a": number >= 0},
    or stamped more than max_future_ms ahead of now_ms or max_age_ms behind it.
    """
    body = load_json(payload, source)
    if isinstance(body, Rejection):
        return [], [body]
    if not isinstance(body, (dict, list)):
        return [], [Rejection("malformed", source, "a message is a reading or a list of readings", "not_object")]
    items = body if isinstance(body, list) else [body]
    if len(items) > MAX_READINGS_PER_MESSAGE:
        return [], [Rejection("malformed", source, f"more than {MAX_READINGS_PER_MESSAGE} readings in one message",
                              "too_many_readings")]
    readings: list[Reading] = []
    rejections: list[Rejection] = []
    for item in items:
        if not isinstance(item, dict):
            rejections.append(Rejection("malformed", source, "a reading must be an object", "not_object"))
            continue
        ts, current = _number(item.get("ts")), _number(item.get("current_a"))
        if ts is None or current is None:
            rejections.append(Rejection("malformed", source, "a reading needs numeric ts (ms) and current_a (A)",
                                        "bad_reading"))
            continue
        if current < 0:
            rejections.append(Rejection("malformed", source, "current_a is negative", "negative_current"))
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
    text = decode_text(payload, gateway_id)
    if isinstance(text, Rejection):
        return text
    if text.strip() in ("online", "offline"):
        return GatewayStatus(gateway_id, text.strip() == "online", None)
    body = load_json(payload, gateway_id, text)
    if isinstance(body, Rejection):
        if body.reason == "not_json":
            return Rejection("malformed", gateway_id, "gateway status is neither JSON nor online/offline", "not_json")
        return body
    if not isinstance(body, dict):
        return Rejection("malformed", gateway_id, "gateway status must be a JSON object", "not_object")
    if body.get("status") not in ("online", "offline"):
        return Rejection("malformed", gateway_id, 'gateway status needs "status": "online" or "offline"',
                         "bad_status")
    listed = body.get("instruments")
    if listed is not None and not (isinstance(listed, list) and all(isinstance(c, str) for c in listed)):
        return Rejection("malformed", gateway_id, '"instruments" must be a list of instrument codes',
                         "bad_instruments")
    return GatewayStatus(gateway_id, body["status"] == "online", tuple(listed) if listed is not None else None)


def telemetry_payload(readings: list[Reading] | Reading) -> bytes:
    """The wire form the sensors use (the simulator and the tests publish with it)."""
    if isinstance(readings, Reading):
        return json.dumps({"ts": readings.ts, "current_a": round(readings.current_a, 4)}).encode()
    return json.dumps([{"ts": r.ts, "current_a": round(r.current_a, 4)} for r in readings]).encode()


def gateway_payload(online: bool, instruments: list[str]) -> bytes:
    return json.dumps({"status": "online" if online else "offline", "instruments": instruments}).encode()
