"""Reading what a chat message asks for: a new need, or a turn on the last one."""
from __future__ import annotations

import re
from dataclasses import dataclass

_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}

RESTART = ("重新开始", "重来", "从头开始", "清空", "restart")
NEXT_PAGE = ("换一批", "下一页", "再来几个", "还有别的", "更多", "换一些")
CHEAPER = ("便宜", "实惠", "价格低", "低一点", "划算")
HELP = ("帮助", "help", "怎么用", "你能做什么", "能干什么", "功能")
GREETING = ("你好", "您好", "hello", "hi", "在吗", "嗨")

# words that alone say nothing about the sample or what to find out
VAGUE_WORDS = frozenset(
    """检测 检验 测试 测定 化验 分析 测 测下 测一下 做 做个 做下 想 我 我们 想要 要 一下 个 东西 样品 产品 东西 项目 成分 质量
    报告 出报告 服务 实验 实验室 需要 请问 可以 吗 呢 的 了 有 没有 什么 怎么 哪里 一个 公司 帮 帮忙 看看 看 查 查一下""".split()
)


@dataclass(frozen=True)
class Turn:
    kind: str  # restart, next_page, pick, refine, help, greeting, need
    number: int | None = None  # pick: 1-based position
    city: str | None = None
    max_price: float | None = None
    cheaper: bool = False
    max_days: int | None = None


def chinese_number(text: str) -> int | None:
    """'2', '二', '十二', '两' -> int."""
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if "十" in text:
        tens, _, ones = text.partition("十")
        return _DIGITS.get(tens, 1) * 10 + _DIGITS.get(ones, 0) if ones or tens else 10
    return _DIGITS.get(text) if len(text) == 1 else None


_PICK_RE = re.compile(r"^\s*(?:第\s*)?([0-9]{1,2}|[一二两三四五六七八九十]{1,3})\s*(?:个|条|家|项)?\s*$")
_PRICE_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(?:元|块|rmb|¥)?\s*(?:以内|以下|之内|内|左右)")
_DAYS_RE = re.compile(r"([0-9]{1,2}|[一二两三四五六七八九十]{1,3})\s*(?:个)?\s*(?:工作日|天|日)\s*(?:以内|之内|内)")


def read_turn(text: str, cities: frozenset[str], has_context: bool) -> Turn:
    t = text.strip().lower()
    if any(w in t for w in RESTART):
        return Turn("restart")
    if t in HELP or any(t.startswith(w) for w in HELP):
        return Turn("help")
    if t in GREETING:
        return Turn("greeting")
    if has_context:
        if any(w in t for w in NEXT_PAGE):
            return Turn("next_page")
        pick = _PICK_RE.match(t)
        if pick and (n := chinese_number(pick.group(1))):
            return Turn("pick", number=n)
        refine = _refinement(t, cities)
        if refine:
            return refine
    return Turn("need")


def _refinement(t: str, cities: frozenset[str]) -> Turn | None:
    """A short follow-up that narrows the last need: 重庆的, 便宜一点的, 三天内出报告的, 500元以内."""
    if len(t) > 14:
        return None
    city = next((c for c in cities if c in t), None)
    price = _PRICE_RE.search(t)
    days = _DAYS_RE.search(t)
    cheaper = any(w in t for w in CHEAPER)
    rest = t
    for part in filter(None, [city, price and price.group(0), days and days.group(0)]):
        rest = rest.replace(part, "")
    rest = re.sub(r"(的|吧|呢|啊|有吗|有没有|出报告|报告|出结果|能做|可以|做|一点|一些|再|更|只要|要|在|去|找|市|那边|这边)", "", rest)
    rest = "".join(ch for ch in rest if not any(w in ch for w in "，。,.!！?？ "))
    if not (city or price or days or cheaper):
        return None
    if cheaper:
        rest = "".join(ch for ch in rest if ch not in "".join(CHEAPER))
    if rest:  # more than a refinement: a new need that happens to name a city or price
        return None
    return Turn(
        "refine",
        city=city,
        max_price=float(price.group(1)) if price else None,
        cheaper=cheaper,
        max_days=chinese_number(days.group(1)) if days else None,
    )


def constraints(text: str, cities: frozenset[str]) -> tuple[str | None, float | None, int | None]:
    """City, price ceiling and days named inside a need (重庆哪里能测甲醛, 300块以内测农残)."""
    t = text.lower()
    city = next((c for c in sorted(cities, key=len, reverse=True) if c in t), None)
    price = _PRICE_RE.search(t)
    days = _DAYS_RE.search(t)
    return city, float(price.group(1)) if price else None, chinese_number(days.group(1)) if days else None


def is_vague(words: list[str]) -> bool:
    """True when the message names neither a sample nor what to find out."""
    return all(w in VAGUE_WORDS for w in words)
