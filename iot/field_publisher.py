"""Plays field traces (iot.field_traces) to the broker in real time, delivery by delivery:
each reading at its arrival instant with the stamp its gateway wrote, so the ingestion meets skewed
clocks, duplicates, dead clamps and buffers flushed after live data as it would in the field."""
from __future__ import annotations

import heapq
import logging
import threading
import time
from typing import Callable, Sequence

from iot.field_traces import deliveries
from iot.payloads import Reading, Topics, telemetry_payload
from iot.simulator import Trace

log = logging.getLogger(__name__)


class FieldPublisher:
    def __init__(self, host: str, port: int, topics: Topics, traces: Sequence[Trace], qos: int = 1):
        self.host, self.port, self.topics, self.qos = host, port, topics, qos
        self.traces = list(traces)
        self.published = 0
        self.client = None

    def connect(self) -> None:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"field-gateways-{id(self):x}")
        client.connect_async(self.host, self.port, keepalive=30)
        client.loop_start()
        self.client = client

    def play(self, stop: threading.Event, clock: Callable[[], float] = time.time) -> None:
        """Deliver everything at its arrival, the traces' start mapped to now; stamps keep their skew."""
        if not self.traces or self.client is None:
            return
        origin = min(int(t.ts[0]) for t in self.traces)
        shift = int(clock() * 1000) - origin
        streams = ([(arrival, trace.code, stamp, amps) for arrival, stamp, amps in deliveries(trace)]
                   for trace in self.traces)
        for arrival, code, stamp, amps in heapq.merge(*streams):
            due = (arrival + shift) / 1000.0
            while not stop.is_set() and clock() < due:
                stop.wait(min(0.5, due - clock()))
            if stop.is_set():
                return
            self.client.publish(self.topics.telemetry(code), telemetry_payload(Reading(stamp + shift, amps)),
                                qos=self.qos)
            self.published += 1
        log.info("field simulator: %d deliveries played", self.published)

    def close(self, announce_offline: bool = True) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
