"""Hostile MQTT input never stops the ingestion (security audit: a 4 kB deeply nested
message raised RecursionError in the processing thread and `flask iot ingest` exited 1;
a retained one did it again on every restart).

Every bad payload is one counted rejection with its reason, never an exception; a bug
of ours on one message drops that message only; a poisoned retained message is logged
and skipped on every start."""
from __future__ import annotations

import json
import logging
import math
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core.db import unit_of_work
from core.models import Instrument, InstrumentStateInterval
from core.services.usage.states import as_utc
from core.services.usage.status import live_statuses
from iot.ingest import Ingestion
from iot.payloads import (
    MALFORMED_REASONS, MAX_JSON_DEPTH, MAX_PAYLOAD_BYTES, MAX_READINGS_PER_MESSAGE, GatewayStatus, Reading, Rejection,
    Topics, nesting_exceeds, parse_gateway_status, parse_telemetry, telemetry_payload,
)
from iot.tracker import Tracker, TrackerRules
from tests.iot.conftest import Broker, wait_for

HPLC, XRD, SEM = "T-CQ-FOOD-0001", "T-HZ-ATC-0002", "T-HZ-ATC-0003"
FAST = TrackerRules(min_dwell_ms=2_000, offline_after=1000, default_interval_ms=1_000)  # no offline by silence
NOW = 1_750_000_000_000
MINUTE = 60_000


def deep(levels: int, open_: bytes = b"[", close: bytes = b"]") -> bytes:
    return open_ * levels + close * levels


def parse(payload: bytes) -> tuple[list[Reading], list[Rejection]]:
    return parse_telemetry(payload, "HPLC-1", NOW, max_future_ms=5 * MINUTE, max_age_ms=24 * 60 * MINUTE)


def reading(current: bytes, ts: bytes = str(NOW).encode()) -> bytes:
    return b'{"ts": ' + ts + b', "current_a": ' + current + b"}"


# -- the parsers alone ----------------------------------------------------------------------

@pytest.mark.parametrize("payload, reason", [
    (deep(2048), "too_deep"),  # the audit's 4 kB message: RecursionError before
    (reading(deep(3000, b'{"a":', b"}")), "too_deep"),
    (b"[" * (1 << 20), "too_large"),
    (reading(b'"\xff\xfe"'), "not_utf8"),
    (b"\xed\xa0\x80", "not_utf8"),  # an encoded surrogate: json.loads(bytes) let it through
    (reading(b"NaN"), "non_finite"),
    (reading(b"-Infinity"), "non_finite"),
    (reading(b"1e400"), "non_finite"),
    (reading(b"1", b"9" * 5000), "huge_number"),  # float() of it raised OverflowError before
    (b'"online"', "not_object"),
    (b"[" + b"0," * MAX_READINGS_PER_MESSAGE + b"0]", "too_many_readings"),
    (b"{oops", "not_json"),
])
def test_each_hostile_telemetry_payload_is_one_rejection_with_its_reason(payload: bytes, reason: str) -> None:
    readings, rejected = parse(payload)
    assert readings == [] and [(r.kind, r.reason) for r in rejected] == [("malformed", reason)]


@pytest.mark.parametrize("payload, reason", [
    (b'{"status": "online", "instruments": ' + deep(2000) + b"}", "too_deep"),
    (b"offline" + b" " * MAX_PAYLOAD_BYTES, "too_large"),
    (b"\xffonline", "not_utf8"),
    (b'{"status": "online", "instruments": [NaN]}', "non_finite"),
    (b'["online"]', "not_object"),
    (b'{"status": true}', "bad_status"),
    (b'{"status": "online", "instruments": [1]}', "bad_instruments"),
    (b"{oops", "not_json"),
])
def test_each_hostile_gateway_status_is_a_rejection_with_its_reason(payload: bytes, reason: str) -> None:
    status = parse_gateway_status(payload, "gw-1")
    assert isinstance(status, Rejection) and (status.kind, status.reason) == ("malformed", reason)


def test_legitimate_payloads_fit_the_limits() -> None:
    # a gateway flushing a full buffer, indented, with floats at full precision
    batch = [{"ts": NOW - i * 20_000, "current_a": 1 / 3 + i} for i in range(MAX_READINGS_PER_MESSAGE)]
    payload = json.dumps(batch, indent=4).encode()
    assert len(payload) <= MAX_PAYLOAD_BYTES
    readings, rejected = parse(payload)
    assert len(readings) == MAX_READINGS_PER_MESSAGE and rejected == []
    # extra metadata nested right up to the depth limit is fine, one level more is not
    levels = MAX_JSON_DEPTH - 2  # inside the reading, around the innermost object
    meta = b'{"m": ' * levels + b'{"note": "[{\\"]"}' + b"}" * levels  # brackets and a quote inside a string
    readings, rejected = parse(b'{"ts": %d, "current_a": 2.5, "meta": %s}' % (NOW, meta))
    assert [r.current_a for r in readings] == [2.5] and rejected == []
    readings, rejected = parse(b'{"ts": %d, "current_a": 2.5, "meta": [%s]}' % (NOW, meta))
    assert [r.reason for r in rejected] == ["too_deep"]
    status = parse_gateway_status(b'{"status": "online", "instruments": ["A", "B"], "fw": {"v": [1, 2]}}', "gw")
    assert status == GatewayStatus("gw", True, ("A", "B"))


def _check_outcome(payload: bytes) -> None:
    """What the ingestion may get back: good readings and counted rejections, never an exception."""
    readings, rejected = parse(payload)
    assert all(math.isfinite(r.current_a) and r.current_a >= 0 and isinstance(r.ts, int) for r in readings)
    assert all(r.kind in ("malformed", "future", "too_old") for r in rejected)
    assert all(r.reason in MALFORMED_REASONS for r in rejected if r.kind == "malformed")
    status = parse_gateway_status(payload, "gw")
    assert isinstance(status, GatewayStatus) or (status.kind == "malformed" and status.reason in MALFORMED_REASONS)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=10 ** 30) | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=40,
)
fragments = st.lists(st.sampled_from([
    b"[", b"]", b"{", b"}", b'"', b"\\", b'\\"', b",", b":", b" ", b"1", b"-", b"NaN", b"Infinity", b"1e999",
    b"9" * 40, b'"ts":', b'"current_a":', b'"status":', b'"online"', b"\xff", b"\xed\xa0\x80", "电流".encode(),
]), max_size=300).map(b"".join)


def depth_of(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=4096) | fragments)
def test_any_bytes_give_readings_or_counted_rejections(payload: bytes) -> None:
    _check_outcome(payload)


@settings(max_examples=300, deadline=None)
@given(json_values, st.booleans(), st.integers(min_value=0, max_value=MAX_JSON_DEPTH + 2))
def test_any_json_gives_readings_or_rejections_and_depth_is_measured_exactly(
        value: Any, ascii_only: bool, limit: int) -> None:
    payload = json.dumps(value, ensure_ascii=ascii_only).encode()  # NaN and Infinity included
    _check_outcome(payload)
    _check_outcome(json.dumps([{"ts": NOW, "current_a": value, "x": value}]).encode())
    assert nesting_exceeds(payload, limit) == (depth_of(value) > limit)


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=MAX_JSON_DEPTH + 1, max_value=30_000),
       st.lists(st.sampled_from([(b"[", b"]"), (b'{"k": ', b"}"), (b'{"[": ', b"}")]), min_size=1, max_size=5))
def test_any_deep_nesting_is_refused_before_parsing(depth: int, pattern: list[tuple[bytes, bytes]]) -> None:
    levels = [pattern[i % len(pattern)] for i in range(depth)]
    payload = b"".join(o for o, _ in levels) + b"0" + b"".join(c for _, c in reversed(levels))
    for outcome in (parse(payload)[1][0], parse_gateway_status(payload, "gw")):
        assert isinstance(outcome, Rejection)
        assert outcome.reason == ("too_large" if len(payload) > MAX_PAYLOAD_BYTES else "too_deep")


# -- through the broker ------------------------------------------------------------------

def status(app: Flask, code: str) -> str:
    return live_statuses(app.extensions["platform"].redis, [code])[code]


def states(app: Flask, code: str) -> list[tuple[str, int, int | None]]:
    with unit_of_work(app.extensions["platform"].session_factory) as session:
        iid = session.scalar(select(Instrument.id).where(Instrument.code == code))
        rows = session.execute(select(InstrumentStateInterval.state, InstrumentStateInterval.start_at,
                                      InstrumentStateInterval.end_at)
                               .where(InstrumentStateInterval.instrument_id == iid)
                               .order_by(InstrumentStateInterval.start_at)).all()
    ms = lambda d: None if d is None else round(as_utc(d).timestamp() * 1000)  # noqa: E731
    return [(s, ms(a), ms(b)) for s, a, b in rows]  # type: ignore[misc]


def publish_readings(client: mqtt.Client, topics: Topics, code: str, start_ms: int, amps: list[float]) -> None:
    for i, a in enumerate(amps):
        client.publish(topics.telemetry(code), telemetry_payload(Reading(start_ms + i * 1000, a)), qos=1)


def start_ingestion(app: Flask, tracker: Tracker | None = None, client_id: str | None = None) -> Ingestion:
    ing = Ingestion(app.extensions["platform"], rules=FAST, client_id=client_id or f"ingest-{uuid.uuid4().hex[:8]}")
    if tracker is not None:
        ing.tracker = tracker
    ing.start()
    wait_for(lambda: ing.connected and ing.stats.connects, what="ingestion to connect")
    time.sleep(0.3)  # the SUBACK
    return ing


def test_poisoned_retained_and_hostile_messages_never_stop_the_ingestion(
        iot_app: Flask, broker: Broker, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="iot.ingest")
    topics = Topics(broker.prefix)
    gateway = f"gw-{uuid.uuid4().hex[:6]}"
    pub = broker.client()
    # left on the broker before the ingestion starts: it gets them on every (re)subscription
    poisoned = {topics.gateway_status(gateway): b'{"status": "online", "instruments": ' + deep(2000) + b"}",
                topics.telemetry(SEM): deep(2048)}
    for topic, payload in poisoned.items():
        pub.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)
    now = int(time.time() * 1000)
    live_hostile = [
        (topics.telemetry(SEM), deep(2048)),
        (topics.telemetry(SEM), reading(b'"\xff\xfe"', str(now).encode())),
        (topics.telemetry(SEM), reading(b"NaN", str(now).encode())),
        (topics.telemetry(SEM), reading(b"1", b"9" * 5000)),
        (topics.telemetry(SEM), b"[" * (1 << 20)),  # 1 MB
        (topics.gateway_status(f"{gateway}-b"), b"\xff\xfeoffline"),
    ]
    client_id = f"ingest-{uuid.uuid4().hex[:8]}"  # kept across the restart below, as a deployment does
    ing = start_ingestion(iot_app, client_id=client_id)
    try:
        for topic, payload in live_hostile:
            pub.publish(topic, payload, qos=1)
        t0 = int(time.time() * 1000) - 10_000
        publish_readings(pub, topics, HPLC, t0, [3.0] * 5)
        wait_for(lambda: status(iot_app, HPLC) == "in_use", what="the good readings after the poison")
        wait_for(lambda: sum(ing.stats.malformed.values()) == 8, what="every hostile message to be counted")
        assert ing.stats.malformed == {"too_deep": 3, "not_utf8": 2, "non_finite": 1, "huge_number": 1,
                                       "too_large": 1}
        assert ing.stats.rejected == {"malformed": 8}
        assert states(iot_app, HPLC) == [("on", t0, None)]
        assert ing.failure is None and ing.connected
    finally:
        ing.stop()
    assert ing.failure is None

    # a restart: the retained poison comes again, is logged again and skipped again
    second = start_ingestion(iot_app, client_id=client_id)
    try:
        # at least once each (amqtt delivers retained messages again to each later subscriber)
        wait_for(lambda: second.stats.malformed["too_deep"] >= 2, what="the retained poison after the restart")
        t1 = int(time.time() * 1000) - 5000
        publish_readings(pub, topics, XRD, t1, [0.9] * 4)
        wait_for(lambda: status(iot_app, XRD) == "idle", what="good readings after the restart")
        assert states(iot_app, XRD) == [("standby", t1, None)]
        assert second.failure is None and second.connected
    finally:
        second.stop()
        for topic in poisoned:  # an empty retained message clears it
            pub.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        pub.disconnect()
    logged = [r.getMessage() for r in caplog.records if r.name == "iot.ingest"]
    for source in (gateway, SEM):
        # once per start, saying it is retained (what the operator must clear)
        assert sum(f"from {source}:" in m and "too_deep" in m and "retained" in m for m in logged) == 2, logged


class BuggyTracker(Tracker):
    """Stands for a bug we did not foresee, hit by one instrument's readings and one gateway's status."""

    def feed(self, code: str, readings: Any, now_ms: int) -> None:
        if code == SEM:
            raise ZeroDivisionError("a bug on SEM's readings")
        super().feed(code, readings, now_ms)

    def gateway_status(self, status: GatewayStatus, now_ms: int) -> None:
        if status.gateway_id == "gw-buggy":
            raise KeyError("a bug on this gateway's status")
        super().gateway_status(status, now_ms)


def test_a_message_that_hits_a_bug_is_logged_counted_and_dropped(
        iot_app: Flask, broker: Broker, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="iot.ingest")
    topics = Topics(broker.prefix)
    ing = start_ingestion(iot_app, BuggyTracker(FAST))
    pub = broker.client()
    try:
        t0 = int(time.time() * 1000) - 5000
        publish_readings(pub, topics, SEM, t0, [4.0] * 4)
        pub.publish(topics.gateway_status("gw-buggy"), b"offline", qos=1)
        # a topic that is not UTF-8 (a broker should refuse it) reaches paho's callback: it must not end
        # the network thread
        bad_topic = mqtt.MQTTMessage(topic=b"\xff\xfe/instruments/x/telemetry")
        bad_topic.payload = telemetry_payload(Reading(t0, 1.0))
        ing._on_message(None, None, bad_topic)  # type: ignore[arg-type]
        publish_readings(pub, topics, HPLC, t0, [3.0] * 4)
        wait_for(lambda: status(iot_app, HPLC) == "in_use", what="the other instrument's readings")
        wait_for(lambda: ing.stats.rejected["error"] >= 2, what="both bugs to be counted")
        assert ing.stats.rejected["bad_topic"] == 1
        assert status(iot_app, SEM) == "unknown" and ing.failure is None and ing.connected
        errors = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "iot.ingest"]
        assert {r.getMessage().split(":")[0] for r in errors} == {
            f"dropped a message on {topics.telemetry(SEM)}", f"dropped a message on {topics.gateway_status('gw-buggy')}"}
        assert all(r.exc_info for r in errors)  # the traceback, to find the bug
    finally:
        ing.stop()
        pub.disconnect()
    assert ing.failure is None
