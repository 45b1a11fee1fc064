"""What the ingestion accepts on the wire, and what it drops (without failing)."""
from iot.payloads import GatewayStatus, Rejection, Topics, parse_gateway_status, parse_telemetry

NOW = 1_750_000_000_000
MINUTE = 60_000


def parse(payload: bytes):  # type: ignore[no-untyped-def]
    return parse_telemetry(payload, "HPLC-1", NOW, max_future_ms=5 * MINUTE, max_age_ms=24 * 60 * MINUTE)


def test_one_reading_or_a_list() -> None:
    readings, rejected = parse(b'{"ts": 1750000000000, "current_a": 2.5}')
    assert [(r.ts, r.current_a) for r in readings] == [(NOW, 2.5)] and rejected == []
    readings, rejected = parse(b'[{"ts": 1749999990000, "current_a": 0.8}, {"ts": 1750000000000, "current_a": 3}]')
    assert [r.current_a for r in readings] == [0.8, 3.0] and rejected == []


def test_bad_readings_are_rejected_one_by_one_with_a_reason() -> None:
    readings, rejected = parse(
        b'[{"ts": 1750000000000, "current_a": 1.0}, {"ts": "soon", "current_a": 1}, {"current_a": 1},'
        b' {"ts": 1750000000000, "current_a": -3}, {"ts": 1750000000000, "current_a": true}, 7,'
        b' {"ts": 1760000000000, "current_a": 1}, {"ts": 1600000000000, "current_a": 1}]'
    )
    assert [r.current_a for r in readings] == [1.0]
    assert [r.kind for r in rejected] == ["malformed"] * 5 + ["future", "too_old"]
    assert all(r.source == "HPLC-1" for r in rejected)


def test_garbage_is_one_rejection() -> None:
    for payload in (b"\xff\xfe", b"not json", b"", b"NaN", b'{"ts": 1e400, "current_a": 1}'):
        readings, rejected = parse(payload)
        assert readings == [] and len(rejected) == 1 and rejected[0].kind == "malformed", payload


def test_topics_with_a_prefix() -> None:
    topics = Topics("site-a/")
    assert topics.instrument_of("site-a/instruments/CQ-ATC-0312/telemetry") == "CQ-ATC-0312"
    assert topics.instrument_of("instruments/CQ-ATC-0312/telemetry") is None
    assert topics.instrument_of("site-a/instruments/a/b/telemetry") is None
    assert topics.gateway_of("site-a/gateways/gw-7/status") == "gw-7"
    assert topics.telemetry_filter == "site-a/instruments/+/telemetry"


def test_gateway_status_forms() -> None:
    assert parse_gateway_status(b"offline", "gw") == GatewayStatus("gw", False, None)
    assert parse_gateway_status(b'{"status": "online", "instruments": ["A", "B"]}', "gw") == GatewayStatus(
        "gw", True, ("A", "B"))
    assert isinstance(parse_gateway_status(b'{"status": "maybe"}', "gw"), Rejection)
    assert isinstance(parse_gateway_status(b'{"status": "offline", "instruments": "A"}', "gw"), Rejection)
