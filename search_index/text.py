"""Text normalisation and tokenisation for the lexical index.

A document or query becomes weighted terms of three kinds: `w:` jieba words
(and standard numbers kept whole), `b:` Chinese character bigrams (robust to
typos and words jieba does not know) and `u:` single characters (so a
one-character query such as 铅 still matches 铅镉含量).
"""
from __future__ import annotations

import logging
import re
import threading
import unicodedata
from typing import Iterable

_jieba_lock = threading.Lock()
MAX_RUN_CHARS = 200
_jieba = None

# GB/T 19681-2005, GB 5009.12-2017, HJ 1043-2019, ISO 10993-5, ASTM E8/E8M, UN38.3 …
STANDARD_RE = re.compile(
    r"(?<![a-z0-9])((?:gb/?[tz]?|gbz|hj|jy/t|sn/t|ny/t|yy/?t?|qb/t|jjg|jgj|jg|gb/t|db\d*/?t?|t/[a-z]+|iso|iec|astm|en|ul|jis|din|bs|ieee|usp|ep|aatcc|cispr|un)"
    r"\s*[a-z]?\s*\d+(?:[.\-/]\d+)*(?:[a-z]?/[a-z0-9]+)?)",
    re.IGNORECASE,
)
_YEAR_SUFFIX_RE = re.compile(r"-(?:19|20)\d\d$")
_CJK_RUN_RE = re.compile(r"[\u3400-\u9fff]+")
_CJK_SPLIT_RE = re.compile(r"([\u3400-\u9fff]+)")
_WORD_RE = re.compile(r"[a-z][a-z0-9\-\+\.]*[a-z0-9+]|[a-z]|\d+(?:\.\d+)?")

# Words that say nothing about which test is wanted; everything else is left to IDF.
STOPWORDS = frozenset(
    """的 了 吗 呢 吧 啊 呀 么 嘛 里 里面 有 有没有 没有 是 是不是 会 会不会 能 能不能 可以 可不可以 想 想要 要 我 我们 你 你们
    他 她 它 这 那 这个 那个 这些 一下 一些 一个 些 个 下 请问 请 帮 帮忙 帮我 给 哪 哪里 哪儿 哪家 哪个 什么 怎么 怎样 如何 多少
    多少钱 钱 做 做个 做下 搞 弄 看 看看 看一下 知道 想知道 需要 能否 是否 以及 和 与 或 及 在 对 把 被 就 都 也 还 又 很 太 不 没
    测 测下 测一下 测测 检测 检验 测试 测定 分析 化验 鉴定 查 查一下 服务 实验室 机构 地方 哪些 一般 时候 还是 然后 因为 所以 如果
    a an the of for and or to in on at is are be can i we you my our do does how what which where test testing analysis service lab""".split()
)


def normalise(text: str) -> str:
    """NFKC (full-width to half-width), lower case, unified dashes."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return text.replace("—", "-").replace("–", "-").replace("－", "-")


def _cut(text: str) -> list[str]:
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    # jieba's HMM costs more than linear time in a run's length: cut long runs in pieces so
    # no text (a 100,000-character message, an odd listing) can hold a CPU for seconds
    return [t for start in range(0, len(text), MAX_RUN_CHARS)
            for t in _jieba.cut_for_search(text[start:start + MAX_RUN_CHARS])]


def standard_numbers(text: str) -> list[str]:
    """Standard numbers in a normalised text, each also without its year."""
    found: list[str] = []
    for match in STANDARD_RE.finditer(text):
        code = re.sub(r"\s+", " ", match.group(1)).strip()
        code = re.sub(r"^([a-z/]+)\s*(\d)", r"\1 \2", code)  # "gb/t19681" == "gb/t 19681"
        found.append(code)
        bare = _YEAR_SUFFIX_RE.sub("", code)
        if bare != code:
            found.append(bare)
    return found


def words(text: str) -> list[str]:
    """Meaningful words of a normalised text: standard numbers whole, jieba words
    for Chinese runs, and Latin words (ICP-MS also as ICP and MS)."""
    out = standard_numbers(text)
    for chunk in _CJK_SPLIT_RE.split(STANDARD_RE.sub(" ", text)):
        if not chunk:
            continue
        if _CJK_RUN_RE.fullmatch(chunk):
            out.extend(t for t in _cut(chunk) if t not in STOPWORDS)
            continue
        for word in _WORD_RE.findall(chunk):
            if word in STOPWORDS:
                continue
            out.append(word)
            if "-" in word:
                out.extend(p for p in word.split("-") if p and p not in STOPWORDS)
    return out


def char_grams(text: str) -> tuple[list[str], list[str]]:
    """(bigrams, unigrams) of the Chinese runs, stop characters left out of unigrams."""
    bigrams: list[str] = []
    unigrams: list[str] = []
    for run in _CJK_RUN_RE.findall(text):
        unigrams.extend(ch for ch in run if ch not in STOPWORDS)
        bigrams.extend(run[i : i + 2] for i in range(len(run) - 1))
    return bigrams, unigrams


def terms(text: str) -> list[str]:
    """All kinds of terms of a raw text, prefixed by kind, with repeats (for term frequency)."""
    norm = normalise(text)
    bigrams, unigrams = char_grams(norm)
    return [f"w:{w}" for w in words(norm)] + [f"b:{b}" for b in bigrams] + [f"u:{u}" for u in unigrams]


def weighted_terms(fields: Iterable[tuple[str, int]]) -> list[str]:
    """Terms of several fields, each field's terms repeated by its weight."""
    out: list[str] = []
    for text, weight in fields:
        if text:
            out.extend(terms(text) * weight)
    return out
