"""Search benchmark: build rate, query latency (in process, raw floor, HTTP) and serving memory.

For each catalog size N the seed catalog (JSON Lines, the `catalog import`
format) is replicated and perturbed into N distinct listings, then:

1. build    encode + tokenise (--workers processes, as `flask search reindex`)
            + segment build + save + publish through
            `search_index.builder.build_from_docs` into a fresh DATA_DIR/index;
            reports listings/s next to the baseline of the encoder alone in
            one process on the same listings.
2. engine   `SearchEngine.search` in this process over a fixed set of lay and
            technical queries (some with city / max_price filters), cycled to
            --queries after a warm-up: p50 / p95 / p99 ms.
3. floor    the unavoidable part of a query: `encoder.encode([q])` + one FAISS
            search (k=10) on the same segment's vector index: p50 / p95 ms,
            and the ratio engine p50 / floor p50.
4. HTTP     the real Flask app (`create_app`, migrated DB, synonyms loaded)
            behind werkzeug's threaded server on 127.0.0.1, queried
            sequentially over one keep-alive connection: p50 / p95 ms.
5. memory   a fresh subprocess that loads the engine and the index and runs
            50 queries: RSS and peak RSS (ru_maxrss) in MB.
6. FAISS    at 20k and 200k: exact IndexFlatIP against the IVF-SQ8 index the
            segment builder uses above APPROXIMATE_ABOVE (nprobe=32): p50 ms at
            k=10 and k=200 (the engine's candidate count) and recall@10 of IVF
            against flat, to justify that threshold.

Threads are pinned as in production: encoder threads=1, FAISS/BLAS 1 thread.
Both the in-process engine and the HTTP app use the synonym dictionary
data/synonyms.jsonl (pass --no-synonyms to leave it out).

Targets: in-process p95 <= 15 ms at 20k listings and <= 40 ms at 200k;
build >= 400 listings/s; serving RSS < 1.5 GB at 200k.

    .venv/bin/python bench/search_bench.py [--sizes 2000,20000,200000]
        [--catalog data/demo_catalog.jsonl] [--queries 200]

The figures are printed as they come and written to bench/out/search_bench.json.
"""
from __future__ import annotations

import os

# Pin BLAS / OpenMP threads before numpy and faiss are imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse

import machine_info  # bench/ is on the path when a benchmark runs as a script
import gc
import http.client
import json
import logging
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Sequence
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import faiss  # noqa: E402
import numpy as np  # noqa: E402
import psutil  # noqa: E402

from search_index.builder import build_from_docs  # noqa: E402
from search_index.documents import IndexDoc  # noqa: E402
from search_index.encoders import Encoder, load_encoder  # noqa: E402
from search_index.engine import SearchEngine, SearchFilters  # noqa: E402
from search_index.segment import APPROXIMATE_ABOVE, Segment  # noqa: E402
from search_index.store import IndexStore  # noqa: E402
from search_index.text import terms  # noqa: E402

MODEL = "use-multilingual"
DEFAULT_CATALOG = ROOT / "data" / "demo_catalog.jsonl"
FALLBACK_CATALOG = ROOT / "tests" / "data" / "mini_catalog.jsonl"
SYNONYMS_FILE = ROOT / "data" / "synonyms.jsonl"
OUT_FILE = ROOT / "bench" / "out" / "search_bench.json"
FAISS_COMPARE_SIZES = (20_000, 200_000)
NPROBE = 32  # what the engine uses (scoring.Tuning.nprobe)
RSS_PROBE_QUERIES = 50
LIMIT = 10

CITIES = ["北京", "上海", "广州", "深圳", "杭州", "南京", "苏州", "成都",
          "重庆", "武汉", "西安", "天津", "长沙", "郑州", "青岛"]
NAME_QUALIFIERS = ["", "", "", "（加急）", "（第{n}批）", "（上门采样）", "（CMA报告）",
                   "（仲裁检测）", "（快速筛查）", "（{lab}实验室）", "（复检）", "（委托检测）"]
LABS = ["一", "二", "三", "理化", "中心", "分析", "综合"]
MODEL_PREFIXES = ["LC", "GC", "MS", "XR", "SU", "UTM", "ICP", "AA", "UV", "FT", "TG", "DSC"]
DESCRIPTION_TAILS = ["", "", "可提供上门采样。", "报告加盖CMA章。", "支持线上预约。",
                     "节假日照常收样。", "提供中英文报告。", "样品量不少于50 g。"]


@dataclass(frozen=True)
class Query:
    text: str
    city: str | None = None
    max_price: float | None = None

    def filters(self) -> SearchFilters:
        return SearchFilters(city=self.city, max_price=self.max_price)

    def http_path(self) -> str:
        params: dict[str, Any] = {"q": self.text, "limit": LIMIT}
        if self.city:
            params["city"] = self.city
        if self.max_price is not None:
            params["max_price"] = self.max_price
        return "/api/v1/search?" + urlencode(params)


QUERIES: list[Query] = [
    # lay questions, as typed in WeChat
    Query("辣椒粉里有没有苏丹红"),
    Query("新装修的房子能住人了吗"),
    Query("猪肉瘦肉精"),
    Query("大米重金属超标吗"),
    Query("饮料里防腐剂多不多"),
    Query("火锅底料有没有加违禁色素"),
    Query("螺丝强度够不够"),
    Query("钢筋拉力测试"),
    Query("这块金属是什么材料"),
    Query("药粉是什么晶型"),
    Query("甲醛检测多少钱"),
    Query("家里空气有没有苯"),
    Query("自来水能不能直接喝"),
    Query("奶粉里有没有三聚氰胺"),
    Query("茶叶农药残留超标吗"),
    Query("化妆品有没有加激素"),
    Query("土壤里的重金属"),
    Query("陶瓷表面看看微观形貌"),
    Query("酱菜防腐剂"),
    Query("猪肝有没有违禁药"),
    # technical queries
    Query("GB/T 228.1 拉伸"),
    Query("XRD物相分析"),
    Query("tensile test"),
    Query("HPLC 苏丹红"),
    Query("LC-MS/MS 克伦特罗"),
    Query("ICP-MS 铅镉汞砷"),
    Query("SEM-EDS 能谱"),
    Query("扫描电镜形貌观察"),
    Query("GB/T 19681-2005"),
    Query("GB 5009.28 苯甲酸 山梨酸"),
    Query("莱克多巴胺残留"),
    Query("室内空气 TVOC"),
    Query("室温拉伸试验 铝合金"),
    Query("X射线衍射 原料药"),
    Query("电感耦合等离子体质谱"),
    Query("scanning electron microscope"),
    Query("powder X-ray diffraction"),
    Query("formaldehyde indoor air"),
    # with filters
    Query("辣椒粉里有没有苏丹红", city="重庆"),
    Query("甲醛检测", max_price=400),
    Query("XRD物相分析", city="杭州", max_price=200),
    Query("金属拉伸", city="成都"),
    Query("猪肉瘦肉精", max_price=500),
    Query("大米重金属", city="北京", max_price=500),
    Query("扫描电镜", city="上海"),
    Query("苯甲酸", city="广州", max_price=300),
]


# ---------------------------------------------------------------------------
# catalog: seed listings and their synthetic replicas
# ---------------------------------------------------------------------------
def resolve_catalog(arg: str | None) -> Path:
    if arg is None:
        if DEFAULT_CATALOG.exists():
            return DEFAULT_CATALOG
        print(f"note: {DEFAULT_CATALOG.relative_to(ROOT)} does not exist yet; "
              f"using {FALLBACK_CATALOG.relative_to(ROOT)}", flush=True)
        return FALLBACK_CATALOG
    path = Path(arg)
    for candidate in (path, ROOT / path):
        if candidate.exists():
            return candidate.resolve()
    raise SystemExit(f"catalog {arg} not found")


def read_seed_docs(path: Path) -> list[IndexDoc]:
    """Searchable listings of a catalog file, as `searchable_docs` would give them."""
    docs: list[IndexDoc] = []
    for line in path.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        inst, instr = record["institution"], record["instrument"]
        if inst.get("status", "approved") != "approved" or instr.get("open_for_sharing") is False:
            continue
        for svc in record.get("services", []):
            if svc.get("active") is False:
                continue
            docs.append(IndexDoc(
                id=len(docs) + 1,
                code=svc["code"],
                name=svc["name"],
                price_cny=float(svc["price_cny"]),
                description=svc.get("description") or "",
                sample_types=list(svc.get("sample_types") or []),
                analytes=list(svc.get("analytes") or []),
                standards=list(svc.get("standards") or []),
                accreditations=list(svc.get("accreditations") or []),
                price_unit=svc.get("price_unit"),
                turnaround_days=svc.get("turnaround_days"),
                instrument_code=instr["code"],
                instrument_name=instr["name"],
                instrument_name_en=instr.get("name_en") or "",
                category=instr.get("category") or "",
                institution_code=inst["code"],
                institution_name=inst["name"],
                city=inst.get("city") or "",
            ))
    if not docs:
        raise SystemExit(f"{path}: no searchable listing")
    return docs


def _institution_rest(name: str, city: str) -> str:
    return name[len(city):] if city and name.startswith(city) else name


def synthesise(seeds: Sequence[IndexDoc], n: int, seed: int = 20240601) -> list[IndexDoc]:
    """n distinct listings: seeds cycled, with city, price and text perturbed."""
    rng = random.Random(seed)
    samples_by_category: dict[str, list[str]] = {}
    for d in seeds:
        pool = samples_by_category.setdefault(d.category, [])
        pool.extend(s for s in d.sample_types if s not in pool)
    per_institution = 8
    institutions = [rng.choice(CITIES) for _ in range((n + per_institution - 1) // per_institution)]

    docs: list[IndexDoc] = []
    for i in range(n):
        base = seeds[i % len(seeds)]
        inst_no = i // per_institution
        city = institutions[inst_no]
        qualifier = rng.choice(NAME_QUALIFIERS).format(n=rng.randint(1, 40), lab=rng.choice(LABS))
        samples = list(base.sample_types)
        pool = samples_by_category.get(base.category, [])
        if samples and len(pool) > 1 and rng.random() < 0.5:
            samples[rng.randrange(len(samples))] = rng.choice(pool)
            samples = list(dict.fromkeys(samples))
        rng.shuffle(samples)
        model = f"{rng.choice(MODEL_PREFIXES)}-{rng.randint(100, 9999)}{rng.choice(['', 'A', 'Plus', 'Pro', 'II'])}"
        turnaround = base.turnaround_days
        docs.append(replace(
            base,
            id=i + 1,
            code=f"BENCH-S{i:07d}",
            name=base.name + qualifier,
            price_cny=round(base.price_cny * rng.uniform(0.7, 1.3), 0),
            description=base.description + rng.choice(DESCRIPTION_TAILS),
            sample_types=samples,
            turnaround_days=None if turnaround is None else max(1, turnaround + rng.randint(-1, 2)),
            instrument_code=f"BENCH-I{i:07d}",
            instrument_name=f"{base.instrument_name} {model}",
            institution_code=f"BENCH-INST{inst_no:06d}",
            institution_name=f"{city}{_institution_rest(base.institution_name, base.city)}第{inst_no}分部",
            city=city,
        ))
    return docs


# ---------------------------------------------------------------------------
# measurement helpers
# ---------------------------------------------------------------------------
def pct(values_ms: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values_ms), q))


def cycled(queries: Sequence[Query], n: int) -> list[Query]:
    return [queries[i % len(queries)] for i in range(n)]


def timed_ms(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return (time.perf_counter() - start) * 1000.0, out


def load_synonyms_file(path: Path) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            entry = json.loads(line)
            table[" ".join(entry["term"].split()).lower()] = list(entry["expansions"])
    return table


def dir_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


# ---------------------------------------------------------------------------
# 1. build
# ---------------------------------------------------------------------------
def warm_up_build(encoder: Encoder) -> None:
    """One-time process costs (model graph, jieba dictionary) are not per-listing costs."""
    encoder.encode(["预热"])
    terms("预热 jieba 词典")


def single_process_encode_rate(encoder: Encoder, docs: Sequence[IndexDoc], sample: int = 2000) -> float:
    """The baseline: one process, one thread, encoding only (no tokenising, no index)."""
    texts = [d.vector_text() for d in docs[:sample]]
    start = time.perf_counter()
    for i in range(0, len(texts), 256):
        encoder.encode(texts[i : i + 256])
    return len(texts) / (time.perf_counter() - start)


def build_index(index_dir: Path, encoder: Encoder, docs: Sequence[IndexDoc], workers: int) -> dict[str, float]:
    warm_up_build(encoder)
    baseline = single_process_encode_rate(encoder, docs)
    n = len(docs)
    done = 0
    next_report = 0.1
    start = time.perf_counter()

    def progress(batch: int) -> None:
        nonlocal done, next_report
        done += batch
        if done >= next_report * n or done == n:
            elapsed = time.perf_counter() - start
            print(f"    prepared {done:>7}/{n}  {done / elapsed:6.0f} listings/s  ({elapsed:5.1f} s)", flush=True)
            while next_report * n <= done:
                next_report += 0.1

    build_from_docs(IndexStore(index_dir), encoder, docs, progress, workers=workers)
    total = time.perf_counter() - start
    result = {
        "seconds": total,
        "workers": workers,
        "listings_per_s": n / total,
        "baseline_encode_per_s": baseline,
        "index_mb": dir_size_mb(index_dir),
    }
    print(f"  build: {n} listings in {total:.1f} s = {result['listings_per_s']:.0f} listings/s with {workers} workers "
          f"(encode, tokenise, index, save); baseline encode alone in one process {baseline:.0f} listings/s "
          f"-> {result['listings_per_s'] / baseline:.2f}x; index {result['index_mb']:.0f} MB on disk", flush=True)
    return result


# ---------------------------------------------------------------------------
# 2-3. in-process engine and the floor
# ---------------------------------------------------------------------------
def make_engine(index_dir: Path, encoder: Encoder, synonyms: dict[str, list[str]] | None) -> SearchEngine:
    loader = (lambda: synonyms) if synonyms else None
    return SearchEngine(IndexStore(index_dir), encoder_factory=lambda: encoder, synonyms_loader=loader)


def time_engine(engine: SearchEngine, queries: Sequence[Query], n: int) -> dict[str, float]:
    engine.warm()
    for q in queries:  # warm-up: jieba, synonym table, caches
        engine.search(q.text, LIMIT, q.filters())
    latencies: list[float] = []
    answered = 0
    for q in cycled(queries, n):
        ms, result = timed_ms(engine.search, q.text, LIMIT, q.filters())
        latencies.append(ms)
        answered += bool(result.hits)
    return {"p50": pct(latencies, 50), "p95": pct(latencies, 95), "p99": pct(latencies, 99),
            "answered_share": answered / n}


def time_floor(encoder: Encoder, segment: Segment, queries: Sequence[Query], n: int) -> dict[str, float]:
    """encode([q]) + one k=10 search on the segment's own vector index."""
    vindex = segment.vindex
    params = faiss.SearchParametersIVF(nprobe=NPROBE) if isinstance(vindex, faiss.IndexIVF) else None

    def one(text: str) -> None:
        vindex.search(encoder.encode([text]), LIMIT, params=params)

    for q in queries:
        one(q.text)
    latencies = [timed_ms(one, q.text)[0] for q in cycled(queries, n)]
    return {"p50": pct(latencies, 50), "p95": pct(latencies, 95), "p99": pct(latencies, 99)}


# ---------------------------------------------------------------------------
# 4. through HTTP
# ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_app(data_dir: Path, synonyms: bool) -> Any:
    from app import create_app
    from core.config import load_settings

    app = create_app(load_settings({"DATA_DIR": str(data_dir), "DEMO_MODE": "1"}))
    commands = [["db", "upgrade"]]
    if synonyms:
        commands.append(["search", "synonyms", "load", str(SYNONYMS_FILE)])
    for args in commands:
        result = app.test_cli_runner().invoke(args=args)
        if result.exit_code != 0:
            raise SystemExit(f"flask {' '.join(args)} failed: {result.output}")
    return app


def close_app(app: Any) -> None:
    # Platform.close() disposes the DB engine and stops the embedded redis-server it started
    app.extensions["platform"].close()


@contextmanager
def serving(app: Any) -> Iterator[int]:
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per request
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="bench-http", daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def http_get(conn: http.client.HTTPConnection, path: str) -> dict[str, Any]:
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"GET {path}: HTTP {response.status}: {body[:300]!r}")
    return json.loads(body)


def time_http(app: Any, queries: Sequence[Query], n: int) -> dict[str, float]:
    app.extensions["search"].warm()
    with serving(app) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            for q in queries:
                http_get(conn, q.http_path())
            latencies: list[float] = []
            answered = 0
            for q in cycled(queries, n):
                ms, body = timed_ms(http_get, conn, q.http_path())
                latencies.append(ms)
                answered += bool(body["items"])
        finally:
            conn.close()
    return {"p50": pct(latencies, 50), "p95": pct(latencies, 95), "p99": pct(latencies, 99),
            "answered_share": answered / n}


# ---------------------------------------------------------------------------
# 5. memory of a serving process (run in a fresh subprocess)
# ---------------------------------------------------------------------------
def rss_probe(index_dir: Path, synonyms: bool) -> None:
    """Child side: load the engine + index, run queries, print the RSS as JSON."""
    faiss.omp_set_num_threads(1)
    encoder = load_encoder(MODEL, threads=1)
    engine = make_engine(index_dir, encoder, load_synonyms_file(SYNONYMS_FILE) if synonyms else None)
    engine.warm()
    for q in cycled(QUERIES, RSS_PROBE_QUERIES):
        engine.search(q.text, LIMIT, q.filters())
    print(json.dumps({
        "rss_mb": psutil.Process().memory_info().rss / 2**20,
        "maxrss_mb": peak_rss_mb(),
    }))


def peak_rss_mb() -> float:
    """The high-water RSS of this process image. Not ru_maxrss: that survives
    exec and would report the (larger) parent's RSS at fork time."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_rss(index_dir: Path, synonyms: bool) -> dict[str, float]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--rss-probe", str(index_dir)]
    if not synonyms:
        cmd.append("--no-synonyms")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------
# 6. flat vs IVF-SQ8
# ---------------------------------------------------------------------------
def ivf_sq8(vectors: np.ndarray) -> faiss.Index:
    """The approximate index of segment._vector_index, built whatever the size."""
    n, dim = vectors.shape
    nlist = int(4 * np.sqrt(n))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)
    index.train(vectors[rng.choice(n, size=min(n, 64 * nlist), replace=False)])
    index.add(vectors)
    return index


def search_p50(index: faiss.Index, qvecs: np.ndarray, k: int, n: int, params: Any) -> float:
    for v in qvecs:
        index.search(v[None, :], k, params=params)
    return pct([timed_ms(index.search, qvecs[i % len(qvecs)][None, :], k, params=params)[0] for i in range(n)], 50)


def compare_flat_ivf(segment: Segment, qvecs: np.ndarray, n: int) -> dict[str, float]:
    vectors = np.ascontiguousarray(segment.vectors, dtype=np.float32)
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    if isinstance(segment.vindex, faiss.IndexIVF):
        ivf, built_s = segment.vindex, 0.0
    else:
        start = time.perf_counter()
        ivf = ivf_sq8(vectors)
        built_s = time.perf_counter() - start
    params = faiss.SearchParametersIVF(nprobe=NPROBE)
    flat_scores, flat_ids = flat.search(qvecs, LIMIT)
    _, ivf_ids = ivf.search(qvecs, LIMIT, params=params)
    exact_ivf = np.einsum("qd,qkd->qk", qvecs, vectors[np.clip(ivf_ids, 0, None)])
    recall = np.mean([len(set(a) & set(b)) / LIMIT for a, b in zip(flat_ids, ivf_ids)])
    # ties: many synthetic listings share a text; count an IVF hit as right when it
    # scores (exactly) at least as high as the flat 10th hit
    tie_recall = np.mean((exact_ivf >= flat_scores[:, -1:] - 1e-5) & (ivf_ids >= 0))
    return {
        "flat_p50_k10": search_p50(flat, qvecs, LIMIT, n, None),
        "ivf_p50_k10": search_p50(ivf, qvecs, LIMIT, n, params),
        "flat_p50_k200": search_p50(flat, qvecs, 200, n, None),
        "ivf_p50_k200": search_p50(ivf, qvecs, 200, n, params),
        "recall_at_10": float(recall),
        "recall_at_10_ties": float(tie_recall),
        "nlist": int(ivf.nlist),
        "ivf_build_s": built_s,
    }


# ---------------------------------------------------------------------------
# one size, and the report
# ---------------------------------------------------------------------------
def bench_size(n: int, seeds: Sequence[IndexDoc], encoder: Encoder, args: argparse.Namespace,
               work: Path) -> dict[str, Any]:
    print(f"\n=== {n} listings ===", flush=True)
    docs = synthesise(seeds, n)
    data_dir = work / f"n{n}"
    index_dir = data_dir / "index"
    synonyms = load_synonyms_file(SYNONYMS_FILE) if args.synonyms else None
    row: dict[str, Any] = {"size": n, "vector_index": "flat" if n <= APPROXIMATE_ABOVE else "ivf-sq8"}

    print(f"  - build ({row['vector_index']})", flush=True)
    row["build"] = build_index(index_dir, encoder, docs, args.workers)
    del docs
    gc.collect()

    print(f"  - in process, {args.queries} queries", flush=True)
    engine = make_engine(index_dir, encoder, synonyms)
    row["engine"] = time_engine(engine, QUERIES, args.queries)
    e = row["engine"]
    print(f"  engine: p50 {e['p50']:.1f} ms  p95 {e['p95']:.1f} ms  p99 {e['p99']:.1f} ms  "
          f"({100 * e['answered_share']:.0f} % of queries with hits)", flush=True)

    segment = engine.index().segments[0]
    row["floor"] = time_floor(encoder, segment, QUERIES, args.queries)
    f = row["floor"]
    row["ratio"] = e["p50"] / f["p50"]
    print(f"  floor (encode + faiss k=10): p50 {f['p50']:.1f} ms  p95 {f['p95']:.1f} ms  "
          f"-> engine p50 / floor p50 = {row['ratio']:.1f}x", flush=True)

    if n in FAISS_COMPARE_SIZES:
        print(f"  - flat vs IVF-SQ8 (nprobe={NPROBE})", flush=True)
        qvecs = encoder.encode([q.text for q in QUERIES])
        row["faiss"] = compare_flat_ivf(segment, qvecs, args.queries)
        c = row["faiss"]
        print(f"  flat p50 {c['flat_p50_k10']:.2f} ms, IVF p50 {c['ivf_p50_k10']:.2f} ms (k=10); "
              f"recall@10 {c['recall_at_10']:.3f} (with ties {c['recall_at_10_ties']:.3f})", flush=True)
    del engine, segment
    gc.collect()

    print(f"  - HTTP, {args.queries} queries over one connection", flush=True)
    app = make_app(data_dir, args.synonyms)
    try:
        row["http"] = time_http(app, QUERIES, args.queries)
    finally:
        close_app(app)
    del app
    gc.collect()
    h = row["http"]
    print(f"  HTTP: p50 {h['p50']:.1f} ms  p95 {h['p95']:.1f} ms  p99 {h['p99']:.1f} ms", flush=True)

    print("  - serving memory (fresh process)", flush=True)
    row["memory"] = measure_rss(index_dir, args.synonyms)
    m = row["memory"]
    print(f"  RSS after {RSS_PROBE_QUERIES} queries {m['rss_mb']:.0f} MB, peak {m['maxrss_mb']:.0f} MB", flush=True)

    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    return row


def machine() -> dict[str, Any]:
    return machine_info.machine(faiss=faiss.__version__, numpy=np.__version__)


def print_faiss_table(rows: Sequence[dict[str, Any]]) -> None:
    rows = [r for r in rows if "faiss" in r]
    if not rows:
        return
    print(f"\nFlat vs IVF-SQ8 (nprobe={NPROBE}) on the same vectors, p50 ms per query "
          f"(the segment switches to IVF above {APPROXIMATE_ABOVE})")
    print(f"{'size':>8} {'nlist':>6} {'flat k10':>9} {'ivf k10':>8} {'flat k200':>10} {'ivf k200':>9} "
          f"{'recall@10':>10} {'w/ ties':>8}")
    for r in rows:
        c = r["faiss"]
        print(f"{r['size']:>8} {c['nlist']:>6} {c['flat_p50_k10']:>9.2f} {c['ivf_p50_k10']:>8.2f} "
              f"{c['flat_p50_k200']:>10.2f} {c['ivf_p50_k200']:>9.2f} {c['recall_at_10']:>10.3f} "
              f"{c['recall_at_10_ties']:>8.3f}")


def print_summary(rows: Sequence[dict[str, Any]], info: dict[str, Any], report: dict[str, Any]) -> None:
    print_faiss_table(rows)
    print(f"\nSummary ({report['queries']} queries per figure, {report['catalog']}, "
          f"synonyms {'on' if report['synonyms'] else 'off'}; latencies in ms)")
    header = (f"{'size':>8} {'index':>7} {'build/s':>8} {'base/s':>7} {'eng p50':>8} {'eng p95':>8} "
              f"{'http p50':>9} {'http p95':>9} {'floor p50':>10} {'floor p95':>10} {'ratio':>6} {'RSS MB':>7} {'peak MB':>8}")
    print(header)
    print("-" * len(header))
    for r in rows:
        b, e, h, f, m = r["build"], r["engine"], r["http"], r["floor"], r["memory"]
        print(f"{r['size']:>8} {r['vector_index']:>7} {b['listings_per_s']:>8.0f} {b['baseline_encode_per_s']:>7.0f} "
              f"{e['p50']:>8.1f} {e['p95']:>8.1f} {h['p50']:>9.1f} {h['p95']:>9.1f} "
              f"{f['p50']:>10.1f} {f['p95']:>10.1f} {r['ratio']:>6.1f} {m['rss_mb']:>7.0f} {m['maxrss_mb']:>8.0f}")
    print(f"\nTargets: in-process p95 <= 15 ms at 20k, <= 40 ms at 200k; build >= 400 listings/s; "
          f"serving RSS < 1.5 GB at 200k")
    print(f"Machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory_gb']} GB RAM, Python {info['python']}, "
          f"faiss {info['faiss']}, numpy {info['numpy']}; {info['date']}; "
          f"load average at start {info['loadavg_at_start']}, at end {[round(x, 2) for x in os.getloadavg()]}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2000,20000,200000", help="listing counts, comma-separated")
    parser.add_argument("--catalog", default=None,
                        help=f"seed catalog (default {DEFAULT_CATALOG.relative_to(ROOT)}, "
                             f"else {FALLBACK_CATALOG.relative_to(ROOT)})")
    parser.add_argument("--queries", type=int, default=200, help="timed queries per figure")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="build processes, as INDEX_BUILD_WORKERS (default: the core count)")
    parser.add_argument("--no-synonyms", dest="synonyms", action="store_false",
                        help="search without the synonym dictionary")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directories")
    parser.add_argument("--out", type=Path, default=OUT_FILE, help="where the JSON goes (default %(default)s)")
    parser.add_argument("--rss-probe", metavar="INDEX_DIR", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    faiss.omp_set_num_threads(1)
    if args.rss_probe:
        rss_probe(Path(args.rss_probe), args.synonyms)
        return
    logging.basicConfig(level=logging.WARNING)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    catalog = resolve_catalog(args.catalog)
    seeds = read_seed_docs(catalog)
    info = machine()
    print(f"search bench: sizes {sizes}, {args.queries} queries, {len(QUERIES)} distinct; "
          f"seed catalog {catalog} ({len(seeds)} searchable listings); model {MODEL}, 1 thread", flush=True)
    encoder = load_encoder(MODEL, threads=1)

    work = Path(tempfile.mkdtemp(prefix="search-bench-"))
    rows: list[dict[str, Any]] = []
    try:
        for n in sizes:
            rows.append(bench_size(n, seeds, encoder, args, work))
    finally:
        if args.keep:
            print(f"data directories kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    report = {
        "machine": info,
        "catalog": str(catalog.relative_to(ROOT) if catalog.is_relative_to(ROOT) else catalog),
        "seed_listings": len(seeds),
        "queries": args.queries,
        "distinct_queries": len(QUERIES),
        "synonyms": args.synonyms,
        "targets": {"p95_ms_20k": 15, "p95_ms_200k": 40, "build_listings_per_s": 400, "rss_mb_200k": 1536},
        "sizes": rows,
    }
    print_summary(rows, info, report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
