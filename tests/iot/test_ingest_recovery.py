"""End to end through a real broker: what the adaptive method changes in the database, and readings
that the broker keeps for an ingestion that was away."""
from __future__ import annotations

import time
import uuid

import pytest

from flask import Flask
from sqlalchemy import select

from core.db import unit_of_work
from core.models import Instrument, InstrumentStateInterval
from iot.ingest import Ingestion
from iot.payloads import Reading, Topics, telemetry_payload
from iot.tracker import TrackerRules
from tests.iot.conftest import Broker, wait_for
from tests.iot.test_ingest import HPLC, SEM, XRD, intervals, publish, status

RULES = TrackerRules(min_dwell_ms=2_000, offline_after=2.5, default_interval_ms=1_000, fault_after_ms=4_000)


def started(app: Flask, client_id: str | None = None) -> Ingestion:
    ing = Ingestion(app.extensions["platform"], rules=RULES, client_id=client_id or f"ingest-{uuid.uuid4().hex[:8]}")
    ing.start()
    wait_for(lambda: ing.connected and ing.stats.connects, what="ingestion to connect")
    time.sleep(0.3)  # the SUBACK
    return ing


def stored(app: Flask, code: str) -> list[tuple[str, str | None, bool]]:
    """(state, reason, amended) in time order."""
    with unit_of_work(app.extensions["platform"].session_factory) as session:
        iid = session.scalar(select(Instrument.id).where(Instrument.code == code))
        rows = session.execute(select(InstrumentStateInterval.state, InstrumentStateInterval.reason,
                                      InstrumentStateInterval.amended_at)
                               .where(InstrumentStateInterval.instrument_id == iid)
                               .order_by(InstrumentStateInterval.start_at)).all()
    return [(state, reason, amended is not None) for state, reason, amended in rows]


def test_a_dead_clamp_is_stored_offline_with_its_reason_and_recovers(iot_app: Flask, broker: Broker) -> None:
    ing = started(iot_app)
    try:
        pub = broker.client()
        t0 = int(time.time() * 1000) - 20_000
        end = publish(pub, Topics(broker.prefix), XRD, t0, [0.9] * 4 + [0.0] * 8)
        wait_for(lambda: status(iot_app, XRD) == "offline", what="zeros to become a sensor fault")
        assert stored(iot_app, XRD)[-1] == ("offline", "sensor_fault", False)
        assert intervals(iot_app, XRD)[-1][1] == t0 + 4000  # from the first zero
        publish(pub, Topics(broker.prefix), XRD, end, [0.9] * 3)  # the clamp is put back
        wait_for(lambda: status(iot_app, XRD) == "idle", what="the sensor back")
        assert [s for s, _, _ in stored(iot_app, XRD)] == ["standby", "offline", "standby"]
        pub.disconnect()
    finally:
        ing.stop()
    assert ing.failure is None


def test_a_backlog_after_live_data_amends_the_stored_offline_stretch(iot_app: Flask, broker: Broker) -> None:
    ing = started(iot_app)
    topics = Topics(broker.prefix)
    try:
        pub = broker.client()
        t0 = int(time.time() * 1000) - 10_000
        publish(pub, topics, SEM, t0, [1.8] * 3)  # standby, then the gateway's link drops
        wait_for(lambda: status(iot_app, SEM) == "offline", timeout=8, what="silence to take it offline")
        # the link is back: live readings first (a run), then the buffer of the gap
        live = int(time.time() * 1000) - 1000
        publish(pub, topics, SEM, live, [4.6] * 3)
        wait_for(lambda: status(iot_app, SEM) == "in_use", what="the live readings")
        gap = range(t0 + 3000, live, 1000)
        buffered = [Reading(ts, 1.8 if ts < t0 + 6000 else 4.6) for ts in gap]
        pub.publish(topics.telemetry(SEM), telemetry_payload(buffered), qos=1)
        wait_for(lambda: ing.stats.amendments >= 1, what="the backlog to amend the history")
        wait_for(lambda: ing.wait_idle(2), what="the amendment to be saved")
        rows = stored(iot_app, SEM)
        assert "offline" not in [s for s, _, _ in rows]  # the whole gap was covered
        assert [s for s, _, _ in rows] in (["standby", "on"], ["standby", "standby", "on", "on"],
                                           ["standby", "on", "on"], ["standby", "standby", "on"])
        assert any(amended for _, _, amended in rows)
        spans = intervals(iot_app, SEM)
        assert spans[0][1] == t0 and spans[-1][2] is None  # no hole, live state still open
        assert all(a[2] == b[1] for a, b in zip(spans, spans[1:]))
        pub.disconnect()
    finally:
        ing.stop()
    assert ing.failure is None


def test_readings_sent_while_the_ingestion_is_away_are_kept_by_the_broker(iot_app: Flask, broker: Broker) -> None:
    if broker.embedded is not None:
        pytest.skip("the embedded amqtt broker keeps no queue for anonymous clients; Mosquitto (MQTT_URL) does")
    client_id = f"ingest-{uuid.uuid4().hex[:8]}"
    first = started(iot_app, client_id)
    first.stop()  # a restart (deploy, crash): the broker keeps the persistent session and its queue
    pub = broker.client()
    t0 = int(time.time() * 1000) - 5000
    publish(pub, Topics(broker.prefix), HPLC, t0, [3.0] * 4, qos=1)
    time.sleep(0.5)
    second = started(iot_app, client_id)
    try:
        wait_for(lambda: status(iot_app, HPLC) == "in_use", what="the queued readings")
        assert intervals(iot_app, HPLC)[0][1] == t0
    finally:
        second.stop()
        pub.disconnect()


def test_the_field_simulator_plays_deliveries_to_the_ingestion(iot_app: Flask, broker: Broker) -> None:
    """`flask iot simulate --field` plays field traces delivery by delivery; the ingestion takes them."""
    import threading

    from iot.field_publisher import FieldPublisher
    from iot.field_traces import field_traces

    ing = started(iot_app)
    traces = field_traces(3, int(time.time() * 1000), 600 / 86400, seed=5)
    for trace, code in zip(traces, (HPLC, XRD, SEM)):
        trace.code = code
    publisher = FieldPublisher(broker.host, broker.port, Topics(broker.prefix), traces)
    publisher.connect()
    stop = threading.Event()
    player = threading.Thread(target=publisher.play, args=(stop,), daemon=True)
    try:
        player.start()
        wait_for(lambda: publisher.published >= 3 and ing.stats.messages >= 3, timeout=15,
                 what="field deliveries to reach the ingestion")
        wait_for(lambda: any(status(iot_app, c) != "unknown" for c in (HPLC, XRD, SEM)), timeout=10,
                 what="a live status from the field readings")
    finally:
        stop.set()
        player.join(5)
        publisher.close()
        ing.stop()
    assert ing.failure is None and not ing.stats.rejected.get("malformed")
