"""MQTT ingestion: readings in, live status to Redis, state intervals to the database.

The paho network thread only puts messages on a queue (a slow callback makes
the broker drop the client). One processing thread takes them in batches:
parse and check, apply to the tracker, then one database transaction per batch
for the state changes and learned levels, and after the commit one Redis
HSET of the statuses that changed. Late readings that fill a stretch marked
offline amend it in the same transaction (iot.backlog).

The session is persistent (MQTT 3.1.1 clean_session false, QoS 1) under a
client id each process keeps across restarts (IOT_CLIENT_ID, default
ingest-HOSTNAME): the broker queues readings while the ingestion reconnects or
restarts. A member of a shared subscription that never returns keeps taking its
share until the broker expires its session (Mosquitto: persistent_client_expiration;
MQTT 5's session expiry would do it per client, but paho decodes MQTT 5
properties on every message, which halved the ingestion's rate).
Subscriptions are still made in on_connect; reconnecting is retried every few
seconds, so a broker that comes back is rejoined at once.

Several processes can share the telemetry through the shared subscription
`$share/<group>/…`; the broker must then deliver each instrument's topic to one
process (EMQX's `hash_topic` dispatch; Mosquitto's round robin splits an
instrument's readings, so with Mosquitto give each process its own gateways
through IOT_TOPIC_PREFIX, or run one process).
"""
from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

import paho.mqtt.client as mqtt
import redis
from sqlalchemy.exc import SQLAlchemyError

from core.db import unit_of_work
from core.platform import Platform
from core.services.usage.states import (
    PUBLIC_STATUS, AmendedStretch, StateChange, all_levels, amend_state_history, instrument_ids,
    open_intervals, overrides_since, record_state_changes, save_learned_levels,
)
from core.services.usage.frozen_months import note_history_changes
from core.services.usage.status import STATUS_KEY
from core.services.usage.hours import reconcile_orders
from iot.broker import BrokerAddress, broker_address
from iot.ingest_stats import IngestStats
from iot.payloads import MAX_PAYLOAD_BYTES, GatewayStatus, Reading, Rejection, Topics, parse_gateway_status, \
    parse_telemetry
from iot.rules import AMENDMENT_REASONS, learned_levels_of, ms_to_datetime, rules_from_settings, stretch_of, \
    thresholds_of
from iot.tracker import Tracker, TrackerRules

log = logging.getLogger(__name__)

ID_REFRESH_S = 30.0  # an unknown code reloads the instrument list at most this often
OVERRIDE_POLL_S = 15.0
RECONCILE_S = 600.0  # flag slots that ended without on-time this often…
RECONCILE_WINDOW = timedelta(days=3)  # … looking this far back (late readings, late status changes)
SWEEP_S = 1.0
RECONNECT_MAX_DELAY_S = 4  # paho doubles its delay up to this: a broker back is rejoined within seconds


class Ingestion:
    def __init__(self, platform: Platform, *, address: BrokerAddress | None = None, topics: Topics | None = None,
                 rules: TrackerRules | None = None, client_id: str | None = None, share_group: str | None = None,
                 clock: Callable[[], float] = time.time, batch_max: int = 5000,
                 after_batch: Callable[[], None] | None = None, override_poll_s: float = OVERRIDE_POLL_S):
        settings = platform.settings
        self.platform = platform
        self.address = address or broker_address(settings)
        self.topics = topics or Topics(settings.iot.topic_prefix)
        self.tracker = Tracker(rules or rules_from_settings(platform))
        # stable across restarts, so that the broker keeps this ingestion's session and queue
        self.client_id = client_id or settings.iot.client_id or f"ingest-{socket.gethostname()}"
        group = settings.iot.share_group if share_group is None else share_group
        # amqtt knows no shared subscriptions: the embedded broker has one ingestion process anyway
        self.share_group = "" if self.address.embedded else group
        self.clock = clock
        self.batch_max = batch_max
        self.after_batch = after_batch
        self.override_poll_s = override_poll_s
        self.qos = settings.iot.qos
        self.timezone = settings.orders.timezone
        self.max_ahead_ms = int(settings.iot.max_ahead_s * 1000)
        self.max_age_ms = int(settings.iot.max_age_s * 1000)
        self.stats = IngestStats()
        self._inbox: queue.SimpleQueue[tuple[str, bytes, bool]] = queue.SimpleQueue()  # topic, payload, retained
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        self._ids: dict[str, int] = {}
        self._ids_loaded_at = 0.0
        self._unsaved: list[StateChange] = []
        self._unsaved_amendments: list[AmendedStretch] = []
        self._unsaved_levels: set[str] = set()
        self._unpublished: dict[str, str] = {}
        self._retry_db_at = 0.0
        self._last_sweep = 0.0
        self._last_override_poll = 0.0
        self._last_reconcile = clock() - RECONCILE_S + 60.0  # first pass a minute after start
        self._override_mark = datetime.now(timezone.utc)
        self.failure: BaseException | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def telemetry_subscription(self) -> str:
        flt = self.topics.telemetry_filter
        return f"$share/{self.share_group}/{flt}" if self.share_group else flt

    def start(self) -> "Ingestion":
        self._load_state()
        # MQTT 3.1.1: paho decodes MQTT 5 properties on every message, which halved the ingestion's rate
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=False)
        if self.address.username:
            client.username_pw_set(self.address.username, self.address.password)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=RECONNECT_MAX_DELAY_S)
        client.max_queued_messages_set(0)
        self._client = client
        self._thread = threading.Thread(target=self._process_loop, name="iot-ingest", daemon=True)
        self._thread.start()
        client.connect_async(self.address.host, self.address.port, keepalive=30)
        client.loop_start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once every message received so far has been processed and saved (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._idle.clear()
            if self._idle.wait(max(0.0, deadline - time.monotonic())) and self._inbox.empty() and not (
                    self._unsaved or self._unsaved_amendments or self._unpublished):
                return True
        return False

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected()

    # -- network thread: as little as possible ----------------------------------------------
    def _on_connect(self, client: mqtt.Client, _userdata: object, _flags: object, reason: object,
                    _properties: object) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("MQTT connection to %s:%d refused: %s", self.address.host, self.address.port, reason)
            return
        self.stats.connects += 1
        client.subscribe([(self.telemetry_subscription, self.qos), (self.topics.gateway_filter, 1)])
        log.info("MQTT connected to %s:%d, subscribed to %s", self.address.host, self.address.port,
                 self.telemetry_subscription)

    def _on_disconnect(self, _client: mqtt.Client, _userdata: object, _flags: object, reason: object,
                       _properties: object) -> None:
        if not self._stop.is_set():
            log.warning("MQTT connection lost (%s); reconnecting", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:  # raised here it would end paho's network thread: a bad topic instead
            topic = "(topic not UTF-8)"
        # a payload over the limit is refused anyway: queue no megabytes for it (a short one is not copied)
        self._inbox.put((topic, message.payload[:MAX_PAYLOAD_BYTES + 1], bool(message.retain)))

    # -- processing thread -----------------------------------------------------------------
    def _process_loop(self) -> None:
        try:
            while not self._stop.is_set():
                batch = self._take_batch()
                now = self.clock()
                if batch:
                    self._apply(batch, int(now * 1000))
                if now - self._last_sweep >= SWEEP_S:
                    self._last_sweep = now
                    self.tracker.sweep(int(now * 1000))
                if now - self._last_override_poll >= self.override_poll_s:
                    self._last_override_poll = now
                    self._poll_overrides(now)
                if now - self._last_reconcile >= RECONCILE_S:
                    self._last_reconcile = now
                    self._reconcile(now)
                self._flush(now)
                if self.after_batch is not None:
                    self.after_batch()
                if self._inbox.empty():
                    self._idle.set()
        except BaseException as exc:
            self.failure = exc
            log.exception("ingestion stopped by an unexpected error")
            self._idle.set()
            raise

    def _take_batch(self) -> list[tuple[str, bytes, bool]]:
        try:
            first = self._inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + 0.1
        while len(batch) < self.batch_max:
            try:
                batch.append(self._inbox.get_nowait())
            except queue.Empty:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.005)
        return batch

    def _apply(self, batch: list[tuple[str, bytes, bool]], now_ms: int) -> None:
        stats = self.stats
        if stats.first_message_at is None:
            stats.first_message_at = time.time()
        stats.messages += len(batch)
        stats.batches += 1
        per_instrument: dict[str, list[Reading]] = {}
        # The parsers never raise on bad input. These guards are for a bug of ours that one message
        # hits: that message is logged, counted and dropped, and the others go on.
        for topic, payload, retained in batch:
            try:
                self._route(topic, payload, retained, now_ms, per_instrument)
            except Exception as exc:  # the per-message boundary
                self.stats.failed(topic, exc)
        for code, readings in per_instrument.items():
            try:
                self.tracker.feed(code, readings, now_ms)
            except Exception as exc:  # the per-message boundary (this instrument's readings of the batch)
                self.stats.failed(self.topics.telemetry(code), exc)
        stats.last_batch_at = time.time()

    def _route(self, topic: str, payload: bytes, retained: bool, now_ms: int,
               per_instrument: dict[str, list[Reading]]) -> None:
        code = self.topics.instrument_of(topic)
        if code is None:
            gateway = self.topics.gateway_of(topic)
            if gateway is None:
                self.stats.reject(Rejection("bad_topic", topic, "not a telemetry or gateway topic"), retained)
            elif payload:  # an empty retained message only clears the retained status
                self._gateway(gateway, payload, retained, now_ms)
            return
        if code not in self._ids and not self._knows(code):
            self.stats.reject(Rejection("unknown_instrument", code, "no instrument with this code"), retained)
            return
        readings, rejections = parse_telemetry(payload, code, now_ms, self.max_ahead_ms, self.max_age_ms)
        for rejection in rejections:
            self.stats.reject(rejection, retained)
        if readings:
            per_instrument.setdefault(code, []).extend(readings)

    def _gateway(self, gateway: str, payload: bytes, retained: bool, now_ms: int) -> None:
        status = parse_gateway_status(payload, gateway)
        if isinstance(status, Rejection):
            self.stats.reject(status, retained)
            return
        known = tuple(c for c in status.instruments or () if c in self._ids) if status.instruments else None
        self.tracker.gateway_status(GatewayStatus(gateway, status.online, known), now_ms)
        if not status.online:
            log.info("gateway %s is offline (Last Will or announcement)", gateway)

    def _knows(self, code: str) -> bool:
        now = time.monotonic()
        if now - self._ids_loaded_at < ID_REFRESH_S:
            return False
        self._ids_loaded_at = now
        try:
            with unit_of_work(self.platform.session_factory) as session:
                self._ids = instrument_ids(session)
        except SQLAlchemyError as exc:
            log.warning("could not reload the instrument list: %s", exc)
        return code in self._ids


    # -- persistence: one transaction per batch, Redis after the commit --------------------
    def _flush(self, now: float) -> None:
        changes, relearned = self.tracker.drain()
        amendments = self.tracker.drain_amendments()
        ids = self._ids
        self._unsaved.extend(StateChange(ids[c.code], c.state, ms_to_datetime(c.at_ms), c.reason or None)
                             for c in changes if c.code in ids)
        self._unsaved_amendments.extend(stretch_of(a, ids[a.code]) for a in amendments if a.code in ids)
        self.stats.changes += len(changes)
        self.stats.amendments += len(amendments)
        self._unsaved_levels |= relearned
        for change in changes:
            self._unpublished[change.code] = PUBLIC_STATUS[change.state]
        if (self._unsaved or self._unsaved_levels or self._unsaved_amendments) and now >= self._retry_db_at:
            try:
                with unit_of_work(self.platform.session_factory) as session:
                    record_state_changes(session, self._unsaved)
                    amend_state_history(session, self._unsaved_amendments)
                    note_history_changes(session, [  # a month a report froze gets a new version
                        (a.instrument_id, a.start, a.end, AMENDMENT_REASONS.get(a.source, a.source))
                        for a in self._unsaved_amendments], self.timezone)
                    save_learned_levels(session, [learned_levels_of(self.tracker.tracks[code], ids[code])
                                                  for code in self._unsaved_levels
                                                  if code in ids])
            except SQLAlchemyError as exc:
                self.stats.db_errors += 1
                self._retry_db_at = now + min(30.0, 2.0 ** min(self.stats.db_errors, 5))
                log.warning("could not save %d state changes (retrying): %s", len(self._unsaved), exc)
                return
            self._unsaved, self._unsaved_levels, self._unsaved_amendments = [], set(), []
        if self._unpublished and not self._unsaved:
            try:
                self.platform.redis.hset(STATUS_KEY, mapping=self._unpublished)
            except redis.RedisError as exc:
                self.stats.redis_errors += 1
                log.warning("could not publish %d live statuses (retrying): %s", len(self._unpublished), exc)
                return
            self._unpublished = {}


    # -- start-up and admin overrides --------------------------------------------------------
    def _load_state(self) -> None:
        now_ms = int(self.clock() * 1000)
        with unit_of_work(self.platform.session_factory) as session:
            self._ids = instrument_ids(session)
            opens = open_intervals(session)
            levels = all_levels(session)
        self._ids_loaded_at = time.monotonic()
        codes = {iid: code for code, iid in self._ids.items()}
        for row in levels:
            learned, override = thresholds_of(row)
            self.tracker.seed_levels(codes[row.instrument_id], now_ms, learned, override, row.histogram or None)
        for iid, state, since in opens:
            self.tracker.seed_state(codes[iid], state, int(since.timestamp() * 1000), now_ms)
            self._unpublished[codes[iid]] = PUBLIC_STATUS[state]
        log.info("ingestion knows %d instruments, %d with a state, %d with learned levels",
                 len(self._ids), len(opens), len(levels))

    def _reconcile(self, now: float) -> None:
        moment = datetime.fromtimestamp(now, tz=timezone.utc)
        try:
            with unit_of_work(self.platform.session_factory) as session:
                report = reconcile_orders(session, moment - RECONCILE_WINDOW, moment, moment)
        except SQLAlchemyError as exc:
            log.warning("could not reconcile booked slots with on-time: %s", exc)
            return
        if report.possible_no_shows:
            log.info("booked slots checked: %d, possible no-shows: %d", report.checked, report.possible_no_shows)

    def _poll_overrides(self, now: float) -> None:
        mark = datetime.now(timezone.utc)
        try:
            with unit_of_work(self.platform.session_factory) as session:
                rows = overrides_since(session, self._override_mark)
        except SQLAlchemyError as exc:
            log.warning("could not read threshold overrides: %s", exc)
            return
        # overlap the polls: an override committed while we read must not slip between them
        self._override_mark = mark - timedelta(seconds=60)
        codes = {iid: code for code, iid in self._ids.items()}
        for row in rows:
            code = codes.get(row.instrument_id)
            if code is not None:
                self.tracker.set_override(code, thresholds_of(row)[1], int(now * 1000))
