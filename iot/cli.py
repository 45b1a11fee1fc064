"""`flask iot …`: ingestion, the simulator, the demo, machine-hours and thresholds."""
from __future__ import annotations

import json
import logging
import re
import signal
import sys
import threading
import time
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import current_app
from sqlalchemy import select

from core.cli_group import PlatformGroup
from core.db import unit_of_work
from core.errors import AppError
from core.models import Instrument
from core.models._types import utcnow
from core.platform import Platform
from core.services.people.authz import command_line_actor
from core.services.usage.states import levels_of, set_thresholds
from core.services.usage.hours import month_usage, reconcile_orders
from core.services.usage.frozen_months import freeze_month, month_versions
from core.services.usage.label_check import MIN_SLOTS, WINDOW, order_evidence
from iot.broker import EmbeddedBroker, broker_address
from iot.ingest import Ingestion
from iot.rules import rules_from_settings, thresholds_of
from iot.levels import DEFAULT_THRESHOLDS
from iot.payloads import Topics
from iot.field_publisher import FieldPublisher
from iot.field_traces import field_traces
from iot.simulator import Publisher, simulate, working_morning, write_labels
from iot.tracker import TrackerRules
from iot.usage import render_month

log = logging.getLogger(__name__)

iot_cli = PlatformGroup("iot", help="Instrument current sensors: ingestion, simulator, machine-hours, thresholds.")

STATS_EVERY_S = 30.0
CHUNK_S = 24 * 3600.0  # an endless simulation plays traces generated a day at a time


def platform() -> Platform:
    return current_app.extensions["platform"]


def parse_duration(text: str) -> float:
    """'90s', '30m', '2h', '1d' or a number of seconds; '0' means until stopped."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not match:
        raise click.BadParameter("use e.g. 90s, 30m, 2h, 1d (0: until stopped)")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


def _catalog_codes(limit: int | None) -> list[str]:
    with unit_of_work(platform().session_factory) as session:
        stmt = select(Instrument.code).order_by(Instrument.code)
        return list(session.scalars(stmt.limit(limit) if limit else stmt))


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _start_broker_if_embedded() -> EmbeddedBroker | None:
    address = broker_address(platform().settings)
    if not address.embedded:
        return None
    try:
        return EmbeddedBroker(address.port).start()
    except AppError as exc:
        click.echo(f"Error: {exc.message} Is another `flask iot ingest` or demo running? "
                   f"Set MQTT_EMBEDDED_PORT or MQTT_URL.", err=True)
        sys.exit(1)


class _Simulation:
    """The simulator in a thread, playing day-long chunks until stopped or the duration is over."""

    def __init__(self, codes: list[str], interval: float, duration: float, time_scale: float, seed: int,
                 labels: Path | None, gateway_prefix: str = "sim", field: bool = False):
        settings = platform().settings
        address = broker_address(settings)
        self.codes, self.interval, self.duration, self.time_scale, self.seed = codes, interval, duration, time_scale, seed
        self.labels, self.tz = labels, settings.orders.timezone
        self.address, self.topics, self.gateway_prefix = address, Topics(settings.iot.topic_prefix), gateway_prefix
        self.published = 0
        self.field = field
        self.done = threading.Event()

    def run(self, stop: threading.Event) -> None:
        remaining = self.duration or float("inf")
        chunk_no = 0
        try:
            while remaining > 0 and not stop.is_set():
                length = min(remaining, CHUNK_S)
                start_ms = int((time.time() + 1) * 1000)
                # a sped-up week starts on a working morning, so the demo is busy from the first minute
                origin = working_morning(start_ms, self.tz) if self.time_scale > 1 else None
                if self.field:
                    traces = field_traces(len(self.codes), start_ms, length / 86400, seed=self.seed + chunk_no)
                    for trace, code in zip(traces, self.codes):
                        trace.code = code
                else:
                    traces = simulate(self.codes, start_ms, length, self.interval, seed=self.seed + chunk_no,
                                      time_scale=self.time_scale, tz=self.tz, schedule_from_ms=origin)
                if self.labels is not None:
                    label_file = self.labels if chunk_no == 0 else self.labels.with_suffix(f".{chunk_no}.jsonl")
                    write_labels(label_file, traces)
                publisher: Publisher | FieldPublisher = (
                    FieldPublisher(self.address.host, self.address.port, self.topics, traces) if self.field else
                    Publisher(self.address.host, self.address.port, self.topics, traces,
                              gateway_prefix=self.gateway_prefix))
                publisher.connect()
                try:
                    publisher.play(stop)
                finally:
                    publisher.close(announce_offline=stop.is_set() or remaining <= length)
                self.published += publisher.published
                remaining -= length
                chunk_no += 1
        finally:
            self.done.set()


def _run(ingest: bool, simulation: _Simulation | None, rules: TrackerRules | None = None,
         client_id: str | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = _stop_on_signals()
    broker = _start_broker_if_embedded() if ingest else None
    ingestion = Ingestion(platform(), rules=rules, client_id=client_id).start() if ingest else None
    sim_thread = None
    if simulation is not None:
        sim_thread = threading.Thread(target=simulation.run, args=(stop,), name="iot-simulator", daemon=True)
        sim_thread.start()
    try:
        last = 0
        while not stop.wait(STATS_EVERY_S if ingest else 1.0):
            if simulation is not None and simulation.done.is_set() and not ingest:
                break
            if ingestion is not None:
                if ingestion.failure is not None:
                    sys.exit(1)
                stats = ingestion.stats
                malformed = f" (malformed by reason: {dict(stats.malformed)})" if stats.malformed else ""
                click.echo(f"ingest: {stats.messages} messages (+{(stats.messages - last) / STATS_EVERY_S:.0f}/s), "
                           f"{stats.changes} state changes, rejected {dict(stats.rejected) or 0}{malformed}", err=True)
                last = stats.messages
    finally:
        stop.set()
        if sim_thread is not None:
            sim_thread.join(10)
        if ingestion is not None:
            ingestion.stop()
        if broker is not None:
            broker.stop()
    if simulation is not None:
        click.echo(f"Published {simulation.published} readings for {len(simulation.codes)} instruments.")


@iot_cli.command("ingest")
@click.option("--client-id", default=None, help="MQTT client id (default: ingest-HOST-PID).")
def ingest(client_id: str | None) -> None:
    """Subscribe to the sensors and keep live status and state intervals (until stopped).

    Without MQTT_URL it starts the embedded broker on 127.0.0.1:MQTT_EMBEDDED_PORT."""
    _run(True, None, client_id=client_id)


@iot_cli.command("simulate")
@click.option("--instruments", "count", type=int, default=10, show_default=True,
              help="How many catalog instruments (by code order) to simulate.")
@click.option("--interval", type=float, default=20.0, show_default=True, help="Seconds between readings.")
@click.option("--duration", default="1h", show_default=True, help="e.g. 90s, 30m, 2h, 1d; 0 runs until stopped.")
@click.option("--time-scale", type=float, default=1.0, show_default=True,
              help="Run the working week this many times faster (a lively demo: 60).")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--labels", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Ground-truth file (JSON Lines of state intervals); default DATA_DIR/iot/labels.jsonl.")
@click.option("--field", is_flag=True,
              help="Field behaviours: close levels, centrifuges, thermostat furnaces and ovens, 5/20/60 s sensors, "
                   "drift, dead clamps, buffers flushed after live data, skewed clocks, duplicates (real time; "
                   "--interval and --time-scale do not apply).")
def simulate_cmd(count: int, interval: float, duration: str, time_scale: float, seed: int, labels: Path | None,
                 field: bool) -> None:
    """Publish realistic current traces as sensor gateways would, with a ground-truth file."""
    codes = _catalog_codes(count)
    if not codes:
        click.echo("Error: no instruments in the catalog: run `flask catalog import` first.", err=True)
        sys.exit(1)
    labels = labels or platform().settings.data_dir / "iot" / "labels.jsonl"
    simulation = _Simulation(codes, interval, parse_duration(duration), time_scale, seed, labels, field=field)
    click.echo(f"Simulating {len(codes)} instruments every {interval:g} s to {simulation.address.host}:"
               f"{simulation.address.port}; ground truth in {labels}", err=True)
    _run(False, simulation)


@iot_cli.command("demo")
@click.option("--interval", type=float, default=2.0, show_default=True)
@click.option("--time-scale", type=float, default=60.0, show_default=True)
def demo(interval: float, time_scale: float) -> None:
    """Broker (embedded without MQTT_URL), ingestion and a simulator of every catalog instrument,
    fast enough that statuses change within minutes (for `make demo`)."""
    codes = _catalog_codes(None)
    if not codes:
        click.echo("Error: no instruments in the catalog: run `flask catalog import` first.", err=True)
        sys.exit(1)
    # the rules scale with the fast reporting so that a state still needs three readings to change
    rules = TrackerRules(min_dwell_ms=int(3 * interval * 1000), offline_after=rules_from_settings(platform()).offline_after,
                         default_interval_ms=int(interval * 1000))
    labels = platform().settings.data_dir / "iot" / "demo-labels.jsonl"
    _run(True, _Simulation(codes, interval, 0, time_scale, 1, labels, gateway_prefix="demo"), rules=rules)


@iot_cli.command("usage")
@click.option("--instrument", "code", required=True, help="Instrument code.")
@click.option("--month", required=True, help="YYYY-MM, in the platform's time zone.")
@click.option("--json", "as_json", is_flag=True, help="The API's numbers as JSON.")
def usage(code: str, month: str, as_json: bool) -> None:
    """Hours on / standby / off / offline per day, external vs internal use, sharing rate, possible no-shows."""
    tz = platform().settings.orders.timezone
    try:
        with unit_of_work(platform().session_factory) as session:
            report = month_usage(session, command_line_actor(), code, month, tz)
    except AppError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(asdict(report), default=str, ensure_ascii=False, indent=1))
        return
    for line in render_month(report, tz):
        click.echo(line)
    with unit_of_work(platform().session_factory) as session:
        versions = month_versions(session, code, report.month)
    for v in versions:
        click.echo(f"frozen v{v.version} {v.created_at:%Y-%m-%d %H:%M} UTC for {v.purpose}: on {v.figures['hours']['on']} h, "
                   f"external {v.figures['external_hours']} h ({v.reason})")


@iot_cli.command("freeze")
@click.option("--month", required=True, help="YYYY-MM, in the platform's time zone (a month that is over).")
@click.option("--purpose", required=True, help="What reads it, e.g. 闲置仪器报告 2026年9-10月.")
def freeze(month: str, purpose: str) -> None:
    """Freeze a month's machine-hours of every instrument as a report uses them; later changes to that
    month's history add versions with their reasons instead of changing what the report read."""
    with unit_of_work(platform().session_factory) as session:
        count = freeze_month(session, month, platform().settings.orders.timezone, purpose)
    click.echo(f"Froze {month} for {count} instruments ({purpose}).")


@iot_cli.command("reconcile")
@click.option("--days", type=float, default=3.0, show_default=True, help="Slots that ended in the last N days.")
def reconcile(days: float) -> None:
    """Record on-time per booked slot and flag possible no-shows for the labs."""
    now = utcnow()
    with unit_of_work(platform().session_factory) as session:
        report = reconcile_orders(session, now - timedelta(days=days), now, now)
    click.echo(f"Checked {report.checked} booked slots: {report.possible_no_shows} possible no-shows.")


@iot_cli.command("thresholds")
@click.argument("code")
@click.option("--off-below", type=float, default=None, help="Amperes: below this the instrument is off.")
@click.option("--on-above", type=float, default=None, help="Amperes: above this it is on (in use).")
@click.option("--hysteresis", type=float, default=None, help="Ratio (e.g. 1.25) a reading must cross a threshold by.")
@click.option("--clear", is_flag=True, help="Drop the override: back to the learned levels.")
def thresholds(code: str, off_below: float | None, on_above: float | None, hysteresis: float | None,
               clear: bool) -> None:
    """Show an instrument's thresholds, or override them (admin). Running ingestion picks a change up
    within a quarter of a minute."""
    changing = clear or off_below is not None or on_above is not None or hysteresis is not None
    try:
        with unit_of_work(platform().session_factory) as session:
            if changing:
                set_thresholds(session, command_line_actor(), code, None if clear else off_below,
                               None if clear else on_above, None if clear else hysteresis)
            instrument, row = levels_of(session, code)
            learned, override = thresholds_of(row) if row is not None else (None, None)
            evidence = order_evidence(session, instrument.id)
    except AppError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(1)
    click.echo(f"{code} learned:  {(learned or DEFAULT_THRESHOLDS).describe()}")
    if row is not None and row.samples and row.learned_at is not None:
        zone = ZoneInfo(platform().settings.orders.timezone)
        click.echo(f"{code} history:  {row.samples} steady readings, method {row.method}, last learned "
                   f"{row.learned_at.astimezone(zone):%Y-%m-%d %H:%M %Z}")
        if row.explain:
            click.echo(f"{code} seen:     {row.explain}")
    click.echo(f"{code} in force: {(override or learned or DEFAULT_THRESHOLDS).describe()}")
    if evidence.agreement is None:
        click.echo(f"{code} orders:   fewer than {MIN_SLOTS} slots of orders that ran in {WINDOW.days} days: no check")
    else:
        doubt = (f"; {evidence.standby_instead} read as standby: the on level may be taken for standby, check the "
                 "thresholds" if evidence.doubtful else "")
        click.echo(f"{code} orders:   on in {evidence.seen_on} of {evidence.slots} slots of orders that ran "
                   f"({evidence.agreement:.0%}){doubt}")


@iot_cli.command("evaluate")
@click.option("--set", "which", type=click.Choice(["field", "heldout", "simulator"]), default="heldout",
              show_default=True, help="field: the development traces; heldout: traces the tuning never saw "
                                      "(other seeds and parameters); simulator: the demo's simulator.")
@click.option("--instruments", type=int, default=30, show_default=True)
@click.option("--days", type=float, default=7.0, show_default=True)
@click.option("--seed", type=int, default=None, help="Default: the set's own seed.")
@click.option("--with-hmm", is_flag=True, help="Add the offline hidden-Markov-model reference (slower).")
def evaluate(which: str, instruments: int, days: float, seed: int | None, with_hmm: bool) -> None:
    """Replay traces through both state methods and print accuracy, hours errors, spurious changes,
    dead-clamp detection and backlog recovery per instrument kind, the baseline next to the adaptive one."""
    from iot.evaluation_report import compare, meets_bar, render

    start = working_morning(int(time.time() * 1000), platform().settings.orders.timezone) - 8 * 3_600_000
    rules = rules_from_settings(platform())
    if which == "simulator":
        traces = simulate([f"SIM-{i:03d}" for i in range(instruments)], start, days * 86400,
                          rules.default_interval_ms / 1000, seed=1 if seed is None else seed)
        plans = None
    else:
        from iot.field_traces import deliveries

        traces = field_traces(instruments, start, days, seed=(7 if which == "field" else 1009) if seed is None else seed,
                              heldout=which == "heldout")
        plans = deliveries
    click.echo(f"{len(traces)} instruments x {days:g} days ({which}); dwell {rules.min_dwell_ms / 1000:g} s, "
               f"offline after {rules.offline_after:g} intervals", err=True)
    comparison = compare(traces, rules, plans, with_hmm=with_hmm)
    for line in render(comparison):
        click.echo(line)
    for method, scores in comparison.items():
        misses = meets_bar(scores)
        click.echo(f"{method}: " + ("meets the bar" if not misses else "misses: " + "; ".join(misses)))
