"""Bot benchmark: a signed WeChat text message through the Flask app to its
reply, next to the search alone for the same text, on the demo catalog.

Target: p95 <= 300 ms for a message; a retry of the same MsgId must cost a
cache lookup, not a second search.

    .venv/bin/python bench/bot_bench.py [--messages 200]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from core.config import load_settings  # noqa: E402

TOKEN = "benchtoken"
NEEDS = [
    "辣椒粉里有没有苏丹红", "新装修的房子能住人了吗", "猪肉里有没有瘦肉精", "这批钢材强度够不够", "药粉是哪种晶型",
    "白酒里面会不会有塑化剂", "宝宝的玩具安全不安全", "自来水能不能直接喝", "口红里面铅汞超不超标", "锂电池要空运",
    "衣服洗了几次就掉色", "重庆哪里可以测甲醛", "300块以内测农残", "XRD物相分析", "GB/T 228.1 拉伸试验",
    "tensile test of steel", "帮我修一下空调", "我想做个检测", "土壤重金属", "医用口罩细胞毒性",
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def signed_query(timestamp: str, nonce: str) -> dict[str, str]:
    signature = hashlib.sha1("".join(sorted([TOKEN, timestamp, nonce])).encode()).hexdigest()
    return {"timestamp": timestamp, "nonce": nonce, "signature": signature}


def text_message(content: str, msg_id: int, user: str) -> str:
    return (f"<xml><ToUserName>gh_bench</ToUserName><FromUserName>{user}</FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType>text</MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bot-bench-") as tmp:
        app = create_app(load_settings({"DATA_DIR": tmp, "WECHAT_TOKEN": TOKEN, "INDEX_BUILD_WORKERS": "1", "DEMO_MODE": "1"}))
        runner = app.test_cli_runner()
        for cmd in (["db", "upgrade"], ["catalog", "import", "--approve", str(ROOT / "data" / "demo_catalog.jsonl")], ["search", "reindex"]):
            result = runner.invoke(args=cmd)
            assert result.exit_code == 0, result.output
        engine = app.extensions["search"]
        engine.warm()
        client = app.test_client()
        query = signed_query("1700000000", "bench")
        client.post("/wechat", query_string=query, data=text_message("预热", 1, "oWarm"))

        search_ms, message_ms, retry_ms = [], [], []
        for i in range(args.messages):
            need = NEEDS[i % len(NEEDS)]
            start = time.perf_counter()
            engine.search(need, 10)
            search_ms.append((time.perf_counter() - start) * 1000)
            body = text_message(need, 10_000 + i, f"oUser{i % 37}")
            start = time.perf_counter()
            resp = client.post("/wechat", query_string=query, data=body)
            message_ms.append((time.perf_counter() - start) * 1000)
            assert resp.status_code == 200
            start = time.perf_counter()
            again = client.post("/wechat", query_string=query, data=body)
            retry_ms.append((time.perf_counter() - start) * 1000)
            assert again.get_data() == resp.get_data(), "a retry must get the first answer"
        app.extensions["platform"].close()

    print(f"bot bench: {args.messages} signed text messages on the demo catalog "
          f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()})")
    for label, values in (("search alone", search_ms), ("message -> reply", message_ms), ("retry (same MsgId)", retry_ms)):
        print(f"  {label:<20} p50 {statistics.median(values):6.1f} ms   p95 {pct(values, 95):6.1f} ms   max {max(values):6.1f} ms")
    print(f"  message p50 / search p50 = {statistics.median(message_ms) / statistics.median(search_ms):.1f}x; target p95 <= 300 ms")


if __name__ == "__main__":
    main()
