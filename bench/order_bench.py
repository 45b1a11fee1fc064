"""Order benchmark: orders per second through create -> pay -> accept -> report
-> confirm -> settle on PostgreSQL with concurrent clients, the p95 of each
step, and the ledger invariant checked at the end.

Set-up: the PostgreSQL database at --database-url (created if missing, its
public schema dropped and recreated), a dedicated Redis database (flushed),
`flask db upgrade` and the mini catalog imported (no search index). The app
is then served for real by gunicorn with the project's gunicorn.conf.py
(--workers processes x --threads threads) on a free port of 127.0.0.1.

Each of --clients threads has its own keep-alive HTTP session, signs in as its
own enterprise user (with a company) and as staff of the food lab, and runs
the whole loop on a mailed order of service T-CQ-S002:

    create    POST /orders
    pay       POST /orders/{n}/payment + POST to the sandbox pay_url
    accept    POST /lab/orders/{n}/accept
    testing   POST /lab/orders/{n}/samples-received + /start-testing
    report    multipart POST /lab/orders/{n}/report (a 20 kB PDF)
    confirm   POST /orders/{n}/confirm (escrow released to the lab: settled)

After a warm-up, --rounds timed rounds share --orders orders; orders/s is the
median over the rounds. Before each round the same clients send --baseline
bare GET /api/v1/me each (token check + one user read): the trivial request
each step is compared with. At the end the books are checked twice (GET
/admin/ledger as a platform admin, and `ledger_problems` on the database),
and the lab balances must equal the total of the settled orders (200 CNY an
order with one sample). The exit status is 1 if the books do not balance, the
lab balances differ from that total, or any loop failed.

    .venv/bin/python bench/order_bench.py [--orders 400] [--clients 8] [--rounds 3]
        [--database-url postgresql://postgres@127.0.0.1/bench_orders]
        [--redis-url redis://127.0.0.1:6379/5]

Figures are printed as they come and written to bench/out/order_bench.json.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse

import machine_info  # bench/ is on the path when a benchmark runs as a script
import json
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402
import requests  # noqa: E402
from psycopg import sql  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app import create_app  # noqa: E402
from core.config import load_settings  # noqa: E402
from core.models import Order, OrderStatus  # noqa: E402
from core.platform import Platform  # noqa: E402
from core.services.orders.ledger import balances, ledger_problems  # noqa: E402

MINI_CATALOG = ROOT / "tests" / "data" / "mini_catalog.jsonl"
OUT_FILE = ROOT / "bench" / "out" / "order_bench.json"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1/bench_orders"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/5"
RESERVED_DATABASES = {"test", "postgres", "template0", "template1"}  # the test suite's, and PostgreSQL's own
RESERVED_REDIS_DBS = {3}  # the test suite's
SERVICE = "T-CQ-S002"
LAB = "T-CQ-FOOD"
CREDIT_CODE = "91500000MA5U7G2X39"  # a valid unified social credit code
STEPS = ("create", "pay", "accept", "testing", "report", "confirm")
STEP_LABELS = {
    "create": "create",
    "pay": "pay (start + sandbox)",
    "accept": "accept",
    "testing": "samples + testing",
    "report": "report upload",
    "confirm": "confirm -> settled",
}
REQUESTS_PER_LOOP = 8
PDF = b"%PDF-1.4\n" + b"0" * 20_000 + b"\n%%EOF\n"
HTTP_TIMEOUT = 60


# ---------------------------------------------------------------------------
# measurement helpers
# ---------------------------------------------------------------------------
def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def machine() -> dict[str, Any]:
    return machine_info.machine()


# ---------------------------------------------------------------------------
# the database, Redis and the app's data
# ---------------------------------------------------------------------------
def libpq_url(url: str, database: str | None = None) -> str:
    """The URL psycopg understands (no SQLAlchemy driver suffix), optionally for another database."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def prepare_database(url: str) -> str:
    """Create the database if missing, then start it from an empty public schema. Returns its server version."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgres"):
        raise SystemExit(f"--database-url must be PostgreSQL, not {parsed.drivername}")
    name = parsed.database
    if not name or name in RESERVED_DATABASES:
        raise SystemExit(f"refusing to wipe database {name!r}: give the benchmark a database of its own")
    with psycopg.connect(libpq_url(url, "postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}", flush=True)
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def pg_counters(url: str) -> dict[str, int]:
    """Cumulative deadlocks and rollbacks of the benchmark database (pg_stat_database)."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute("SELECT deadlocks, xact_rollback, xact_commit FROM pg_stat_database "
                           "WHERE datname = current_database()").fetchone()
    return {"deadlocks": int(row[0]), "rollbacks": int(row[1]), "commits": int(row[2])} if row else {}


def prepare_redis(url: str) -> str:
    conn = redis.Redis.from_url(url)
    db = int(conn.connection_pool.connection_kwargs.get("db", 0))
    if db in RESERVED_REDIS_DBS:
        raise SystemExit(f"refusing to flush Redis db {db}: the test suite uses it")
    conn.flushdb()
    version = str(conn.info("server").get("redis_version", "?"))
    conn.close()
    return version


def app_environ(args: argparse.Namespace, data_dir: Path) -> dict[str, str]:
    return {
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "RATE_LIMIT_LOGIN_PER_IP": "0",  # every client signs in from 127.0.0.1
        "DEMO_MODE": "1",
        "PAYMENT_PROVIDER": "sandbox",
        "INDEX_BUILD_WORKERS": "1",
    }


def migrate_and_import(env: dict[str, str]) -> None:
    app = create_app(load_settings(env))
    try:
        runner = app.test_cli_runner()
        for cmd in (["db", "upgrade"], ["catalog", "import", "--approve", str(MINI_CATALOG)]):
            result = runner.invoke(args=cmd)
            if result.exit_code != 0:
                raise SystemExit(f"flask {' '.join(cmd)} failed:\n{result.output}")
    finally:
        app.extensions["platform"].close()


# ---------------------------------------------------------------------------
# the server
# ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """gunicorn with the project's gunicorn.conf.py, on 127.0.0.1 only, in its own session
    (Ctrl-C reaches this script, which stops the server itself)."""

    def __init__(self, env: dict[str, str], workers: int, threads: int, log: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workers, self.threads, self.log = workers, threads, log
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("WECHAT_", "WECHATPAY_")) and k != "MQTT_URL"}
        self.env.update(env, HOST="127.0.0.1", PORT=str(self.port), WEB_CONCURRENCY=str(workers),
                        PUBLIC_BASE_URL=self.base)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120) -> None:
        gunicorn = Path(sys.executable).parent / "gunicorn"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [str(gunicorn), "app:create_app()", "--config", str(ROOT / "gunicorn.conf.py"),
                 "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers), "--threads", str(self.threads),
                 "--no-control-socket"],  # the default socket lives in $HOME, shared with any other gunicorn
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        # each worker warms (or fails to warm: there is no index) before it takes traffic
        while len(re.findall(r"search (?:not )?warmed", self.log_text())) < self.workers:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn workers not ready after {timeout:.0f} s:\n{self.log_text()[-3000:]}")
            time.sleep(0.2)
        while True:
            try:
                if requests.get(self.base + "/api/v1/services/" + SERVICE, timeout=5).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn does not answer on {self.base}:\n{self.log_text()[-3000:]}")
            time.sleep(0.2)

    def log_text(self) -> str:
        try:
            return self.log.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()  # the master: graceful shutdown of its workers
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


# ---------------------------------------------------------------------------
# the clients
# ---------------------------------------------------------------------------
class StepFailed(Exception):
    def __init__(self, step: str, status: int, body: str):
        super().__init__(f"{step}: HTTP {status} {body}")
        self.step, self.status, self.body = step, status, body


@dataclass
class Tally:
    """What one phase of one client measured."""

    steps: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    loops: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    settled: list[tuple[str, int]] = field(default_factory=list)  # (number, total cents)
    failures: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    def merge(self, other: "Tally") -> None:
        for s in STEPS:
            self.steps[s] += other.steps[s]
        self.loops += other.loops
        self.baseline += other.baseline
        self.settled += other.settled
        self.failures += other.failures
        self.statuses.update(other.statuses)


class Client:
    def __init__(self, base: str, index: int):
        self.base, self.index = base, index
        self.http = requests.Session()
        self.customer: dict[str, str] = {}
        self.lab: dict[str, str] = {}
        self.tally = Tally()

    def request(self, step: str, method: str, path: str, who: dict[str, str], expect: int, **kw: Any) -> dict[str, Any]:
        url = path if path.startswith("http") else self.base + (path if path.startswith("/api/") else "/api/v1" + path)
        resp = self.http.request(method, url, headers=who, timeout=HTTP_TIMEOUT, **kw)
        self.tally.statuses[resp.status_code] += 1
        if resp.status_code != expect:
            raise StepFailed(step, resp.status_code, resp.text[:300].replace("\n", " "))
        return resp.json() if resp.content else {}

    def sign_in(self, role: str, name: str, institution: str | None = None) -> dict[str, str]:
        body: dict[str, Any] = {"name": name, "role": role}
        if institution:
            body["institution"] = institution
        token = self.request("sign-in", "POST", "/auth/demo-login", {}, 200, json=body)["token"]
        return {"Authorization": f"Bearer {token}"}

    def set_up(self) -> None:
        self.customer = self.sign_in("enterprise", f"压测客户{self.index}")
        self.request("company", "PUT", "/me/company", self.customer, 200, json={
            "company_name": f"压测{self.index}号食品有限公司", "credit_code": CREDIT_CODE,
            "contact_name": f"压测客户{self.index}", "contact_phone": "13800000000"})
        self.lab = self.sign_in("lab_staff", f"食品实验室{self.index}", LAB)

    def timed(self, step: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        out = fn()
        self.tally.steps[step].append((time.perf_counter() - start) * 1000)
        return out

    def baseline(self, n: int) -> None:
        for _ in range(n):
            start = time.perf_counter()
            self.request("baseline", "GET", "/me", self.customer, 200)
            self.tally.baseline.append((time.perf_counter() - start) * 1000)

    def loop(self, samples: int) -> None:
        """One order through the whole loop; a failed step ends the order (and is counted)."""
        tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).date().isoformat()
        start = time.perf_counter()
        step = "create"
        try:
            order = self.timed("create", lambda: self.request("create", "POST", "/orders", self.customer, 201, json={
                "service_code": SERVICE, "samples": samples, "sample_description": "辣椒酱一瓶，约 200 g",
                "mode": "mail", "delivery_date": tomorrow}))
            number = order["number"]

            def pay() -> dict[str, Any]:
                started = self.request("pay", "POST", f"/orders/{number}/payment", self.customer, 200)
                if started["payment"].get("paid"):
                    return started["order"]
                return self.request("pay", "POST", started["payment"]["pay_url"], self.customer, 200)["order"]

            step = "pay"
            paid = self.timed("pay", pay)
            if paid["status"] != "paid":
                raise StepFailed("pay", 200, f"order is {paid['status']} after paying")
            step = "accept"
            self.timed("accept", lambda: self.request("accept", "POST", f"/lab/orders/{number}/accept", self.lab, 200))
            step = "testing"
            self.timed("testing", lambda: [
                self.request("testing", "POST", f"/lab/orders/{number}/{s}", self.lab, 200)
                for s in ("samples-received", "start-testing")])
            step = "report"
            self.timed("report", lambda: self.request(
                "report", "POST", f"/lab/orders/{number}/report", self.lab, 201,
                files={"file": ("report.pdf", PDF, "application/pdf")}))
            step = "confirm"
            done = self.timed("confirm", lambda: self.request("confirm", "POST", f"/orders/{number}/confirm",
                                                               self.customer, 200))
            if done["status"] != "settled":
                raise StepFailed("confirm", 200, f"order is {done['status']} after confirming")
        except StepFailed as exc:
            self.tally.failures.append(str(exc))
            return
        except (requests.RequestException, ValueError, KeyError) as exc:
            self.tally.failures.append(f"{step}: {exc.__class__.__name__}: {exc}")
            return
        self.tally.loops.append((time.perf_counter() - start) * 1000)
        self.tally.settled.append((number, round(float(done["total_cny"]) * 100)))

    def take_tally(self) -> Tally:
        tally, self.tally = self.tally, Tally()
        return tally


def run_parallel(clients: Sequence[Client], work: Callable[[Client], None], stop: threading.Event) -> float:
    """Run `work` on every client in its own thread, started together; the wall time in seconds."""
    barrier = threading.Barrier(len(clients) + 1)
    errors: list[BaseException] = []

    def body(client: Client) -> None:
        barrier.wait()
        try:
            work(client)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=body, args=(c,), daemon=True, name=f"client-{c.index}") for c in clients]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        while t.is_alive():
            t.join(0.5)  # short joins: Ctrl-C still reaches the main thread
    wall = time.perf_counter() - start
    if errors:
        raise errors[0]
    return wall


def order_phase(clients: Sequence[Client], n: int, samples: int, stop: threading.Event) -> float:
    remaining = [n]
    lock = threading.Lock()

    def take() -> bool:
        with lock:
            if remaining[0] <= 0 or stop.is_set():
                return False
            remaining[0] -= 1
            return True

    def work(client: Client) -> None:
        while take():
            client.loop(samples)

    return run_parallel(clients, work, stop)


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


# ---------------------------------------------------------------------------
# the books
# ---------------------------------------------------------------------------
def check_books(base: str, env: dict[str, str], client_settled_cents: int, client_settled: int) -> dict[str, Any]:
    http = requests.Session()
    token = http.post(base + "/api/v1/auth/demo-login", json={"name": "压测平台", "role": "platform_admin"},
                      timeout=HTTP_TIMEOUT).json()["token"]
    resp = http.get(base + "/api/v1/admin/ledger", headers={"Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT)
    api = resp.json() if resp.status_code == 200 else {"balanced": False, "problems": [f"HTTP {resp.status_code}"],
                                                       "balances": {}}
    plat = Platform(load_settings(env))
    try:
        with plat.session_factory() as session:
            problems = ledger_problems(session)
            totals = balances(session)
            settled_n, settled_cents = session.execute(
                select(func.count(Order.id), func.coalesce(func.sum(Order.total_cents), 0))
                .where(Order.status == OrderStatus.settled)).one()
            by_status = dict(session.execute(select(Order.status, func.count(Order.id)).group_by(Order.status)).all())
    finally:
        plat.close()
    lab_cents = sum(v for k, v in totals.items() if k.startswith("lab:"))
    return {
        "api_balanced": bool(api.get("balanced")),
        "api_problems": api.get("problems", []),
        "api_lab_cny": sum(v for k, v in api.get("balances", {}).items() if k.startswith("lab:")),
        "db_problems": problems,
        "lab_cents": lab_cents,
        "settled_in_db": int(settled_n),
        "settled_cents_in_db": int(settled_cents),
        "settled_by_clients": client_settled,
        "settled_cents_by_clients": client_settled_cents,
        "orders_by_status": {getattr(k, "value", str(k)): int(v) for k, v in by_status.items()},
    }


# ---------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------
def summarise(values: Sequence[float]) -> dict[str, float]:
    return {"n": len(values), "p50": statistics.median(values), "p95": pct(values, 95), "max": max(values)} if values \
        else {"n": 0, "p50": float("nan"), "p95": float("nan"), "max": float("nan")}


def server_log_findings(text: str) -> dict[str, Any]:
    lines = text.splitlines()
    tracebacks = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
    return {
        "tracebacks": len(tracebacks),
        "worker_timeouts": sum("WORKER TIMEOUT" in line for line in lines),
        "deadlock_mentions": sum("deadlock" in line.lower() for line in lines),
        "errors": sum(("[ERROR]" in line or " ERROR " in line) for line in lines),
        "first_traceback": "\n".join(lines[tracebacks[0]: tracebacks[0] + 40]) if tracebacks else "",
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=400, help="timed orders, shared by the rounds (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds; orders/s is their median (default %(default)s)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed loops per client first (default %(default)s)")
    parser.add_argument("--baseline", type=int, default=25,
                        help="bare GET /api/v1/me per client before each round (default %(default)s)")
    parser.add_argument("--samples", type=int, default=1, help="samples per order (default %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default %(default)s)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default %(default)s)")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL,
                        help="PostgreSQL database of the benchmark's own: created if missing, WIPED (default %(default)s)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL,
                        help="Redis database of the benchmark's own: FLUSHED (default %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory and the server log")
    parser.add_argument("--out", type=Path, default=OUT_FILE, help="where the JSON goes (default %(default)s)")
    args = parser.parse_args(argv)
    if min(args.orders, args.rounds, args.clients, args.samples, args.workers, args.threads) < 1:
        parser.error("--orders, --rounds, --clients, --samples, --workers and --threads must be at least 1")
    if args.orders < args.rounds:
        parser.error("--orders must be at least --rounds")
    return args


def _sigterm(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)
    info = machine()
    if info["loadavg_at_start"][0] > info["nproc"] / 2:
        print(f"note: the machine is busy before the start (load average {info['loadavg_at_start']}); "
              "other work shows up in the figures", flush=True)
    print(f"order bench: {args.orders} orders in {args.rounds} rounds, {args.clients} clients, "
          f"gunicorn {args.workers} workers x {args.threads} threads; service {SERVICE}, {args.samples} sample(s)",
          flush=True)
    info["postgresql"] = prepare_database(args.database_url)
    info["redis"] = prepare_redis(args.redis_url)
    work = Path(tempfile.mkdtemp(prefix="order-bench-"))
    env = app_environ(args, work / "data")
    migrate_and_import(env)
    print(f"database migrated, mini catalog imported; PostgreSQL {info['postgresql']}, Redis {info['redis']}", flush=True)

    server = Server(env, args.workers, args.threads, work / "gunicorn.log")
    stop = threading.Event()
    timed = Tally()
    rounds: list[dict[str, Any]] = []
    warm = Tally()
    books: dict[str, Any] = {}
    pg_before: dict[str, int] = {}
    pg_after: dict[str, int] = {}
    interrupted = False
    try:
        server.start()
        print(f"serving on {server.base}", flush=True)
        clients = [Client(server.base, i) for i in range(args.clients)]
        run_parallel(clients, Client.set_up, stop)
        pg_before = pg_counters(args.database_url)

        def warm_up(client: Client) -> None:
            client.baseline(5)
            for _ in range(args.warmup):
                client.loop(args.samples)

        run_parallel(clients, warm_up, stop)
        for c in clients:
            warm.merge(c.take_tally())
        print(f"warm-up: {len(warm.settled)} orders settled, {len(warm.failures)} failed", flush=True)

        for r, n in enumerate(split(args.orders, args.rounds), start=1):
            base_wall = run_parallel(clients, lambda c: c.baseline(args.baseline), stop)
            wall = order_phase(clients, n, args.samples, stop)
            round_tally = Tally()
            for c in clients:
                round_tally.merge(c.take_tally())
            done = len(round_tally.settled)
            b = summarise(round_tally.baseline)
            row = {"orders": n, "settled": done, "failed": len(round_tally.failures), "seconds": wall,
                   "orders_per_s": done / wall, "baseline_requests_per_s": len(round_tally.baseline) / base_wall,
                   "baseline_p50": b["p50"], "loop_p50": statistics.median(round_tally.loops) if round_tally.loops
                   else float("nan")}
            rounds.append(row)
            timed.merge(round_tally)
            print(f"  round {r}: {done}/{n} orders settled in {wall:.1f} s = {row['orders_per_s']:.1f} orders/s "
                  f"(loop p50 {row['loop_p50']:.0f} ms); baseline {row['baseline_requests_per_s']:.0f} req/s, "
                  f"p50 {b['p50']:.1f} ms" + (f"; {row['failed']} failed" if row["failed"] else ""), flush=True)
            if stop.is_set():
                break
        pg_after = pg_counters(args.database_url)
        all_settled = warm.settled + timed.settled
        books = check_books(server.base, env, sum(c for _, c in all_settled), len(all_settled))
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
        print("\ninterrupted: stopping the server", flush=True)
    finally:
        server.stop()
        log_text = server.log_text()
        if args.keep:
            print(f"data directory and server log kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if interrupted:
        return 130

    # ------------------------------------------------------------------ figures
    steps = {s: summarise(timed.steps[s]) for s in STEPS}
    loop = summarise(timed.loops)
    base = summarise(timed.baseline)
    rates = [r["orders_per_s"] for r in rounds]
    rate = statistics.median(rates)
    base_rates = [r["baseline_requests_per_s"] for r in rounds]
    base_rate = statistics.median(base_rates)
    ceiling = base_rate / REQUESTS_PER_LOOP  # orders/s if every request of a loop cost a bare GET /me
    findings = server_log_findings(log_text)
    deadlocks = pg_after.get("deadlocks", 0) - pg_before.get("deadlocks", 0)
    all_statuses = warm.statuses + timed.statuses
    fivexx = sum(v for k, v in all_statuses.items() if k >= 500)
    failures = warm.failures + timed.failures

    print(f"\nOrders through create -> pay -> accept -> report -> confirm -> settle, PostgreSQL "
          f"{info['postgresql']}, {args.clients} concurrent clients, gunicorn {args.workers}x{args.threads} on 127.0.0.1")
    print(f"  orders/s: {rate:.1f} (median of {len(rates)} rounds: {', '.join(f'{x:.1f}' for x in rates)}); "
          f"{len(timed.settled)} timed orders, {REQUESTS_PER_LOOP} requests each")
    print(f"\n  {'step (ms)':<24} {'p50':>7} {'p95':>7} {'max':>7} {'p50/base':>9} {'p95/base':>9}")
    for s in STEPS:
        st = steps[s]
        print(f"  {STEP_LABELS[s]:<24} {st['p50']:>7.1f} {st['p95']:>7.1f} {st['max']:>7.1f} "
              f"{st['p50'] / base['p50']:>8.1f}x {st['p95'] / base['p95']:>8.1f}x")
    print(f"  {'whole loop':<24} {loop['p50']:>7.1f} {loop['p95']:>7.1f} {loop['max']:>7.1f} "
          f"{loop['p50'] / base['p50']:>8.1f}x {loop['p95'] / base['p95']:>8.1f}x")
    print(f"  {'baseline GET /me':<24} {base['p50']:>7.1f} {base['p95']:>7.1f} {base['max']:>7.1f}   "
          f"({base['n']} requests, same clients, same run)")
    print(f"\n  baseline throughput {base_rate:.0f} req/s -> {ceiling:.1f} orders/s if each of the "
          f"{REQUESTS_PER_LOOP} requests cost a bare GET /me; measured {rate:.1f} = {rate / ceiling:.2f}x of that")

    print(f"\n  HTTP statuses: {dict(sorted(all_statuses.items()))}; 5xx: {fivexx}; failed loops: {len(failures)}")
    for line in Counter(re.sub(r"O\d{8}[0-9A-F]{8}", "O…", f) for f in failures).most_common(5):
        print(f"    {line[1]} x {line[0]}")
    print(f"  PostgreSQL deadlocks during the run: {deadlocks}; rollbacks "
          f"{pg_after.get('rollbacks', 0) - pg_before.get('rollbacks', 0)}, commits "
          f"{pg_after.get('commits', 0) - pg_before.get('commits', 0)}")
    print(f"  server log: {findings['tracebacks']} tracebacks, {findings['errors']} error lines, "
          f"{findings['worker_timeouts']} worker timeouts, {findings['deadlock_mentions']} deadlock mentions")
    if findings["first_traceback"]:
        print("    first traceback:\n      " + findings["first_traceback"].replace("\n", "\n      "))

    balanced = books["api_balanced"] and not books["db_problems"]
    lab_ok = books["lab_cents"] == books["settled_cents_in_db"] == books["settled_cents_by_clients"] \
        and books["settled_in_db"] == books["settled_by_clients"]
    per_order = books["settled_cents_by_clients"] / books["settled_by_clients"] / 100 if books["settled_by_clients"] else 0
    print(f"\n  orders by status: {books['orders_by_status']}")
    if balanced:
        print("  ledger: balanced (GET /admin/ledger and ledger_problems)")
    else:
        print("  ledger: NOT balanced")
        for p in books["api_problems"][:10]:
            print(f"    api: {p}")
        for p in books["db_problems"][:10]:
            print(f"    db:  {p}")
    print(f"  lab balances {books['lab_cents'] / 100:,.2f} CNY "
          f"{'=' if lab_ok else '!='} {books['settled_by_clients']} settled orders x {per_order:,.2f} CNY "
          f"(clients saw {books['settled_cents_by_clients'] / 100:,.2f}; database: {books['settled_in_db']} settled, "
          f"{books['settled_cents_in_db'] / 100:,.2f}; API lab balance {books['api_lab_cny']:,.2f})")

    print(f"\nMachine: {info['nproc']} CPUs ({info['cpu']}), Python {info['python']}, PostgreSQL {info['postgresql']}, "
          f"Redis {info['redis']}; {info['date']}; load average at start {info['loadavg_at_start']}, "
          f"at end {[round(x, 2) for x in os.getloadavg()]} (clients, server and database share the machine)")

    report = {
        "machine": info,
        "config": {k: getattr(args, k) for k in ("orders", "rounds", "clients", "warmup", "baseline", "samples",
                                                   "workers", "threads")},
        "orders_per_s": rate,
        "rounds": rounds,
        "steps_ms": steps,
        "loop_ms": loop,
        "baseline_ms": base,
        "baseline_requests_per_s": base_rate,
        "statuses": {str(k): v for k, v in sorted(all_statuses.items())},
        "failures": failures,
        "pg_deadlocks": deadlocks,
        "server_log": {k: v for k, v in findings.items() if k != "first_traceback"},
        "books": books,
        "balanced": balanced,
        "lab_total_matches": lab_ok,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"\nwritten {args.out}")
    return 0 if balanced and lab_ok and not failures else 1


if __name__ == "__main__":
    sys.exit(main())
