"""End to end through a real broker: readings in, live status in Redis (as the
catalog API shows it), state intervals in the database."""
from __future__ import annotations

import time
import uuid
from typing import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from core.db import unit_of_work
from core.models import Instrument, InstrumentStateInterval
from core.services.usage.states import as_utc
from core.services.usage.status import live_statuses
from iot.broker import EmbeddedBroker
from iot.ingest import Ingestion
from iot.payloads import Reading, Topics, gateway_payload, telemetry_payload
from iot.tracker import TrackerRules
from tests.iot.conftest import Broker, wait_for

HPLC, XRD, SEM = "T-CQ-FOOD-0001", "T-HZ-ATC-0002", "T-HZ-ATC-0003"
FAST = TrackerRules(min_dwell_ms=2_000, offline_after=2.5, default_interval_ms=1_000)


@pytest.fixture
def ingestion(iot_app: Flask) -> Iterator[Ingestion]:
    ing = Ingestion(iot_app.extensions["platform"], rules=FAST, client_id=f"ingest-{uuid.uuid4().hex[:8]}",
                    override_poll_s=0.2).start()
    wait_for(lambda: ing.connected and ing.stats.connects, what="ingestion to connect")
    time.sleep(0.3)  # the SUBACK
    yield ing
    ing.stop()
    assert ing.failure is None


def status(app: Flask, code: str) -> str:
    return live_statuses(app.extensions["platform"].redis, [code])[code]


def intervals(app: Flask, code: str) -> list[tuple[str, int, int | None]]:
    """(state, start ms, end ms) in time order."""
    with unit_of_work(app.extensions["platform"].session_factory) as session:
        iid = session.scalar(select(Instrument.id).where(Instrument.code == code))
        rows = session.execute(select(InstrumentStateInterval.state, InstrumentStateInterval.start_at,
                                      InstrumentStateInterval.end_at)
                               .where(InstrumentStateInterval.instrument_id == iid)
                               .order_by(InstrumentStateInterval.start_at)).all()
    ms = lambda d: None if d is None else round(as_utc(d).timestamp() * 1000)  # noqa: E731
    return [(s, ms(a), ms(b)) for s, a, b in rows]  # type: ignore[misc]


def publish(client, topics: Topics, code: str, start_ms: int, values: list[float], qos: int = 1) -> int:  # type: ignore[no-untyped-def]
    for i, amps in enumerate(values):
        client.publish(topics.telemetry(code), telemetry_payload(Reading(start_ms + i * 1000, amps)), qos=qos)
    return start_ms + len(values) * 1000


def test_readings_become_live_status_and_intervals(iot_app: Flask, broker: Broker, ingestion: Ingestion) -> None:
    topics = Topics(broker.prefix)
    pub = broker.client()
    t0 = int(time.time() * 1000) - 30_000
    # switched on, warmed up in standby, a run: 1 reading a second, stamped in the recent past
    end = publish(pub, topics, HPLC, t0, [0.02] * 5 + [0.8] * 5 + [3.0] * 6)
    wait_for(lambda: status(iot_app, HPLC) == "in_use", what="HPLC in use")
    assert intervals(iot_app, HPLC) == [("off", t0, t0 + 5000), ("standby", t0 + 5000, t0 + 10_000),
                                        ("on", t0 + 10_000, None)]
    # what a user sees on the instrument's page
    page = iot_app.test_client().get(f"/api/v1/instruments/{HPLC}").get_json()
    assert page["status"] == "in_use"

    # the run ends: back to standby, dated from the first standby reading
    publish(pub, topics, HPLC, end, [0.8] * 4)
    wait_for(lambda: status(iot_app, HPLC) == "idle", what="HPLC idle")
    assert intervals(iot_app, HPLC)[-2:] == [("on", t0 + 10_000, end), ("standby", end, None)]
    pub.disconnect()


def test_bad_input_is_counted_and_dropped_and_ingestion_goes_on(iot_app: Flask, broker: Broker,
                                                                ingestion: Ingestion) -> None:
    topics = Topics(broker.prefix)
    pub = broker.client()
    now = int(time.time() * 1000)
    pub.publish(topics.telemetry(HPLC), b"\x00garbage", qos=1)
    pub.publish(topics.telemetry(HPLC), b'{"ts": "yesterday", "current_a": 1}', qos=1)
    pub.publish(topics.telemetry("NO-SUCH-INSTRUMENT"), telemetry_payload(Reading(now, 1.0)), qos=1)
    pub.publish(topics.telemetry(HPLC), telemetry_payload(Reading(now + 3_600_000, 1.0)), qos=1)
    pub.publish(topics.telemetry(HPLC), telemetry_payload(Reading(now - 30 * 86_400_000, 1.0)), qos=1)
    pub.publish(f"{broker.prefix}gateways/gw-x/status", b"{oops", qos=1)
    publish(pub, topics, XRD, now - 5000, [0.9] * 4)
    wait_for(lambda: status(iot_app, XRD) == "idle", what="the good readings to count")
    assert ingestion.stats.rejected == {"malformed": 3, "unknown_instrument": 1, "future": 1, "too_old": 1}
    assert status(iot_app, HPLC) == "unknown" and ingestion.failure is None
    pub.disconnect()


def test_silence_takes_an_instrument_offline(iot_app: Flask, broker: Broker, ingestion: Ingestion) -> None:
    topics = Topics(broker.prefix)
    pub = broker.client()
    t0 = int(time.time() * 1000) - 4000
    publish(pub, topics, XRD, t0, [0.9] * 5)
    wait_for(lambda: status(iot_app, XRD) == "idle", what="XRD idle")
    wait_for(lambda: status(iot_app, XRD) == "offline", timeout=8, what="XRD offline after 2.5 s of silence")
    (state, start, end) = intervals(iot_app, XRD)[-1]
    assert state == "offline" and end is None and start == t0 + 5000  # when the next reading was due
    pub.disconnect()


def test_a_gateways_last_will_takes_its_instruments_offline(iot_app: Flask, broker: Broker) -> None:
    slow = TrackerRules(min_dwell_ms=2_000, offline_after=1000, default_interval_ms=1_000)  # silence alone: never
    ing = Ingestion(iot_app.extensions["platform"], rules=slow, client_id=f"ingest-{uuid.uuid4().hex[:8]}").start()
    try:
        wait_for(lambda: ing.connected, what="ingestion to connect")
        time.sleep(0.3)
        topics = Topics(broker.prefix)
        gateway_id = f"gw-{uuid.uuid4().hex[:6]}"
        will = (topics.gateway_status(gateway_id), gateway_payload(False, [XRD, SEM]))
        gw = broker.client(will=will, keepalive=2)
        gw.publish(topics.gateway_status(gateway_id), gateway_payload(True, [XRD, SEM]), qos=1, retain=True)
        t0 = int(time.time() * 1000) - 4000
        publish(gw, topics, XRD, t0, [0.9] * 4)
        publish(gw, topics, SEM, t0, [4.0] * 4)
        wait_for(lambda: status(iot_app, XRD) == "idle" and status(iot_app, SEM) == "in_use", what="both reporting")
        # the gateway loses its network: no DISCONNECT, the broker publishes its Will
        gw.loop_stop()
        gw.socket().close()
        wait_for(lambda: status(iot_app, XRD) == status(iot_app, SEM) == "offline", timeout=10,
                 what="the Will to take both offline")
        assert ing.failure is None
    finally:
        ing.stop()
        cleaner = broker.client()
        cleaner.publish(topics.gateway_status(gateway_id), b"", qos=1, retain=True).wait_for_publish(2)
        cleaner.disconnect()


def test_a_restarted_ingestion_carries_on_from_the_database(iot_app: Flask, broker: Broker) -> None:
    platform = iot_app.extensions["platform"]
    topics = Topics(broker.prefix)
    # a restart keeps its client id: the broker's session for it (and, with a shared subscription, its
    # share of the readings) is picked up again rather than left to queue for a client that never returns
    client_id = f"ingest-{uuid.uuid4().hex[:8]}"
    first = Ingestion(platform, rules=FAST, client_id=client_id).start()
    wait_for(lambda: first.connected, what="ingestion to connect")
    time.sleep(0.3)
    pub = broker.client()
    t0 = int(time.time() * 1000) - 10_000
    publish(pub, topics, HPLC, t0, [3.0] * 5)
    wait_for(lambda: status(iot_app, HPLC) == "in_use", what="HPLC in use")
    first.stop()
    platform.redis.hdel("instrument:status", HPLC)

    second = Ingestion(platform, rules=FAST, client_id=client_id).start()
    try:
        wait_for(lambda: second.connected, what="the second ingestion to connect")
        wait_for(lambda: status(iot_app, HPLC) == "in_use", what="the stored status to be published again")
        time.sleep(0.3)
        t1 = int(time.time() * 1000)
        publish(pub, topics, HPLC, t1, [3.0] * 2 + [0.8] * 4)
        wait_for(lambda: status(iot_app, HPLC) == "idle", what="HPLC idle")
        # one continuous "on" interval across the restart, then standby
        assert intervals(iot_app, HPLC) == [("on", t0, t1 + 2000), ("standby", t1 + 2000, None)]
    finally:
        second.stop()
        pub.disconnect()


def test_reconnects_and_resubscribes_after_a_broker_restart(iot_app: Flask, broker: Broker) -> None:
    if broker.embedded is None:
        pytest.skip("restarts its own embedded broker; MQTT_URL's broker is not ours to restart")
    ing = Ingestion(iot_app.extensions["platform"], rules=FAST, client_id=f"ingest-{uuid.uuid4().hex[:8]}").start()
    try:
        wait_for(lambda: ing.connected, what="ingestion to connect")
        broker.embedded.stop()
        wait_for(lambda: not ing.connected, what="the connection to drop")
        restarted = EmbeddedBroker(broker.port).start()
        broker.embedded = restarted  # the fixture stops this one
        wait_for(lambda: ing.connected and ing.stats.connects == 2, timeout=20, what="ingestion to reconnect")
        time.sleep(0.3)
        pub = broker.client()
        publish(pub, Topics(broker.prefix), SEM, int(time.time() * 1000) - 5000, [4.0] * 4)
        wait_for(lambda: status(iot_app, SEM) == "in_use", what="readings after the restart")
        pub.disconnect()
    finally:
        ing.stop()


def test_an_admins_threshold_override_reaches_the_running_ingestion(iot_app: Flask, broker: Broker,
                                                                    ingestion: Ingestion) -> None:
    from tests.conftest import cli

    # this unit idles at 0.8 A but its maker's standby is 0.3 A: 0.8 A means a run
    assert cli(iot_app, "iot", "thresholds", HPLC, "--off-below", "0.1", "--on-above", "0.5").exit_code == 0
    wait_for(lambda: ingestion.tracker.tracks.get(HPLC) is not None
             and ingestion.tracker.tracks[HPLC].thresholds.source == "override", what="the override to arrive")
    pub = broker.client()
    publish(pub, Topics(broker.prefix), HPLC, int(time.time() * 1000) - 5000, [0.8] * 4)
    wait_for(lambda: status(iot_app, HPLC) == "in_use", what="0.8 A to count as in use")
    pub.disconnect()
