"""新购查重, the finding half: the instruments in the requester's region that could do what the requested
one would do, each with its use over the last 12 full months and its price list.

An instrument is similar when it is of the same classification 中类, or its name and technical text read
alike (see SIMILARITY_THRESHOLD), or it carries the same model. The region is the requester's province
(which contains its city); instruments that do not name their city or province take their institution's
city, and a city's province comes from PROVINCE_CITIES (the imported catalog names only cities)."""
from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, Sequence
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, contains_eager

from core.config import Settings
from core.models import Institution, Instrument, InstrumentMonth, Service
from core.services.catalog.classification import MAJOR, MIDDLE

# The score is the mean of two cosines: of the names alone and of name + specs + functions (the request's
# purpose stands for its functions). Measured with use-multilingual on data/demo_catalog.jsonl, every
# instrument against every other: at 0.75, 80 % of same-kind pairs (XRD/XRD, FE-SEM/cold FE-SEM, HPLC/UPLC)
# pass and under one other-kind instrument per request passes nationwide, and those are alternatives an
# expert would weigh anyway (ICP-MS/ICP-OES, GC/GC-MS). The full text alone separates badly (same-kind
# pairs from 0.44, unrelated ones up to 0.62: shared words like 分析、检测); names alone pass TEM for SEM.
# Same-中类 instruments need no score: the class already says they do the same work.
SIMILARITY_THRESHOLD = 0.75

# the imported catalog names cities, not provinces: the province of each city the platform serves
# (municipalities are their own province); a city not listed is a region of its own
PROVINCE_CITIES: dict[str, tuple[str, ...]] = {
    "北京": ("北京",), "上海": ("上海",), "天津": ("天津",), "重庆": ("重庆",),
    "浙江": ("杭州", "宁波", "温州", "绍兴", "嘉兴", "湖州", "金华", "台州", "丽水", "衢州", "舟山"),
    "江苏": ("南京", "苏州", "无锡", "常州", "南通", "扬州", "镇江", "徐州"),
    "广东": ("广州", "深圳", "珠海", "佛山", "东莞"), "四川": ("成都", "绵阳", "德阳"), "湖北": ("武汉", "宜昌", "襄阳"),
    "陕西": ("西安",), "河北": ("石家庄",), "山西": ("太原",), "辽宁": ("沈阳", "大连"), "吉林": ("长春",),
    "黑龙江": ("哈尔滨",), "安徽": ("合肥",), "福建": ("福州", "厦门"), "江西": ("南昌",), "山东": ("济南", "青岛"),
    "河南": ("郑州",), "湖南": ("长沙",), "广西": ("南宁",), "海南": ("海口",), "贵州": ("贵阳",), "云南": ("昆明",),
    "甘肃": ("兰州",), "青海": ("西宁",), "宁夏": ("银川",), "新疆": ("乌鲁木齐",), "内蒙古": ("呼和浩特",), "西藏": ("拉萨",),
}
_PROVINCE_OF = {city: province for province, cities in PROVINCE_CITIES.items() for city in cities}
_SUFFIX = re.compile(r"(省|市|壮族自治区|回族自治区|维吾尔自治区|自治区)$")


class TextEncoder(Protocol):
    """What the search index's sentence encoder offers (search_index/encoders.py)."""

    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class PurchaseFields:
    """What an institution asks to buy; money in fen."""

    name: str
    classification: str
    price_fen: int
    city: str
    model: str | None = None
    specs: str | None = None
    purpose: str | None = None
    expected_hours: float | None = None  # a year
    province: str | None = None
    institution_id: int | None = None  # the requester (its own instruments count, and first)


@dataclass
class SimilarInstrument:
    code: str
    name: str
    model: str | None
    city: str | None
    province: str | None
    institution: dict[str, Any]
    own_institution: bool
    same_city: bool
    similarity: float
    matched_by: list[str]  # class | text | model
    open_for_sharing: bool
    effective_hours_12m: float | None
    quota_hours_12m: float | None
    utilisation_12m: float | None
    months_with_data: int
    saturated: bool | None  # None: no machine-hours to judge by
    services: list[dict[str, Any]] = field(default_factory=list)

    def evidence(self) -> dict[str, Any]:
        """As kept with the request and sent by the API."""
        return {"instrument": {"code": self.code, "name": self.name, "model": self.model, "city": self.city,
                               "province": self.province, "institution": self.institution},
                "similarity": self.similarity, "matched_by": self.matched_by, "same_city": self.same_city,
                "own_institution": self.own_institution, "open_for_sharing": self.open_for_sharing,
                "effective_hours_12m": self.effective_hours_12m, "quota_hours_12m": self.quota_hours_12m,
                "utilisation_12m": self.utilisation_12m, "months_with_data": self.months_with_data,
                "saturated": self.saturated, "services": self.services}


def place(name: str | None) -> str:
    """A city or province as the map spells it: 重庆市 → 重庆, 浙江省 → 浙江."""
    return _SUFFIX.sub("", (name or "").strip())


def province_of(city: str | None, province: str | None = None) -> str | None:
    """The stated province, else the city's, else the city itself (a region of its own)."""
    if province and place(province):
        return place(province)
    city = place(city)
    return _PROVINCE_OF.get(city, city) or None


def middle_class(code: str | None, category: str | None = None) -> str | None:
    """The 中类 (4 digits) from the classification code, or else from the imported category path
    ("分析仪器/X射线仪器" → 0103), which is all the demo catalog carries."""
    if code and len(code) >= 4 and code[:4].isdigit():
        return code[:4]
    parts = [p.strip() for p in (category or "").split("/")]
    major = next((k for k, v in MAJOR.items() if v == parts[0]), None) if parts[0] else None
    if major is None:
        return None
    if len(parts) > 1:
        middle = next((k for k, v in MIDDLE.items() if k.startswith(major) and v == parts[1]), None)
        if middle:
            return middle
    return f"{major}00"


def last_full_months(now: datetime, timezone: str, count: int = 12) -> list[str]:
    """The `count` whole months before this one, oldest first, as the platform's people count months."""
    local = now.astimezone(ZoneInfo(timezone))
    index = local.year * 12 + local.month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - count, index)]


# --- vectors -----------------------------------------------------------------------------------
# a text's vector depends on the text and the model only, so it is kept by both: an edited instrument
# is simply a new text. 4,096 vectors of 512 floats are 8 MB; a province's catalog fits.
_VECTORS: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_VECTORS_MAX = 4096
_LOCK = threading.Lock()


def _vectors(encoder: TextEncoder, texts: list[str]) -> np.ndarray:
    model = getattr(encoder, "name", type(encoder).__name__)
    keys = [(model, hashlib.sha1(t.encode("utf-8")).hexdigest()) for t in texts]
    with _LOCK:
        found = {k: _VECTORS[k] for k in keys if k in _VECTORS}
    missing = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in found))
    if missing:
        fresh = encoder.encode(missing)
        with _LOCK:
            for text, vector in zip(missing, fresh):
                key = (model, hashlib.sha1(text.encode("utf-8")).hexdigest())
                _VECTORS[key] = found[key] = vector
                _VECTORS.move_to_end(key)
            while len(_VECTORS) > _VECTORS_MAX:
                _VECTORS.popitem(last=False)
    return np.stack([found[k] for k in keys]) if keys else np.zeros((0, 1), dtype=np.float32)


def _full_text(name: str, *parts: str | None) -> str:
    return "；".join(p.strip() for p in (name, *parts) if p and p.strip())


def text_similarity(encoder: TextEncoder, fields: PurchaseFields, instruments: list[Instrument]) -> list[float]:
    """The score of each instrument against the request (see SIMILARITY_THRESHOLD)."""
    if not instruments:
        return []
    names = _vectors(encoder, [fields.name] + [i.name for i in instruments])
    fulls = _vectors(encoder, [_full_text(fields.name, fields.specs, fields.purpose)]
                     + [_full_text(i.name, i.specs, i.functions) for i in instruments])
    scores = 0.5 * (names[1:] @ names[0]) + 0.5 * (fulls[1:] @ fulls[0])
    return [round(float(s), 3) for s in scores]


def _same_model(a: str | None, b: str | None) -> bool:
    """One model number, however spaced or cased; "D8 Advance" is also the model of a "D8 Advance A25"."""
    x, y = (re.sub(r"[\s\-_]+", "", (v or "")).lower() for v in (a, b))
    if len(x) < 3 or len(y) < 3:
        return False
    return x == y or (min(len(x), len(y)) >= 4 and (y.startswith(x) or x.startswith(y)))


# --- the region and the figures ----------------------------------------------------------------

def _region_instruments(session: Session, province: str, city: str) -> list[Instrument]:
    names = {province, city, *PROVINCE_CITIES.get(province, ())}
    spelled = names | {n + "市" for n in names} | {n + "省" for n in names}
    rows = session.scalars(
        select(Instrument).join(Instrument.institution).options(contains_eager(Instrument.institution))
        .where(or_(Instrument.province.in_(spelled), func.coalesce(Instrument.city, Institution.city).in_(spelled)))
        .order_by(Instrument.id)
    ).unique().all()
    # one awaiting scrapping (待报废) will not take anyone's work: it is no alternative to a purchase
    return [i for i in rows if province_of(i.city or i.institution.city, i.province) == province
            and i.run_status != "awaiting_scrap"]


def _usage(session: Session, ids: list[int], months: list[str]) -> dict[int, tuple[float, float, int]]:
    """instrument id → (effective hours, quota hours, months with a row) over the months."""
    rows = session.execute(
        select(InstrumentMonth.instrument_id, func.sum(InstrumentMonth.effective_hours),
               func.sum(InstrumentMonth.quota_hours), func.count())
        .where(InstrumentMonth.instrument_id.in_(ids), InstrumentMonth.month >= months[0],
               InstrumentMonth.month <= months[-1])
        .group_by(InstrumentMonth.instrument_id)
    ).all() if ids else []
    return {i: (float(e or 0), float(q or 0), int(n)) for i, e, q, n in rows}


def _price_lists(session: Session, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    if not ids:
        return found
    for s in session.scalars(select(Service).where(Service.instrument_id.in_(ids), Service.active.is_(True))
                             .order_by(Service.price_cny, Service.id)):
        price = Decimal(s.price_cny).quantize(Decimal("0.01"))
        found.setdefault(s.instrument_id, []).append({"name": s.name, "price_cny": float(price),
                                                      "price_unit": s.price_unit})
    return found


def is_open_for_sharing(instrument: Instrument) -> bool:
    """Open to other institutions: listed as open and not shared inside its own institution only."""
    return bool(instrument.open_for_sharing) and (instrument.share_mode or "external") not in ("internal", "none")


def find_similar(session: Session, encoder: TextEncoder, request_fields: PurchaseFields, settings: Settings,
                 now: datetime) -> list[SimilarInstrument]:
    """The similar instruments of the region: the requester's own first, then its city's, then by score."""
    fields, rules = request_fields, settings.data
    province = province_of(fields.city, fields.province)
    if not province:
        return []
    wanted = middle_class(fields.classification)
    candidates = _region_instruments(session, province, place(fields.city) or province)
    scores = text_similarity(encoder, fields, candidates)
    chosen: list[tuple[Instrument, float, list[str]]] = []
    for instrument, score in zip(candidates, scores):
        theirs = middle_class(instrument.classification_code, instrument.category)
        # a 中类 "未细分" (xx00) lumps together unlike instruments: there only the text or the model counts
        matched = (["class"] if wanted and theirs == wanted and not wanted.endswith("00") else []) \
            + (["text"] if score >= SIMILARITY_THRESHOLD else []) \
            + (["model"] if _same_model(fields.model, instrument.model) else [])
        if matched:
            chosen.append((instrument, score, matched))
    ids = [i.id for i, _, _ in chosen]
    months = last_full_months(now, settings.orders.timezone)
    usage, prices = _usage(session, ids, months), _price_lists(session, ids)
    city = place(fields.city)
    found = []
    for instrument, score, matched in chosen:
        effective, quota, n = usage.get(instrument.id, (0.0, 0.0, 0))
        utilisation = round(effective / quota, 4) if n and quota > 0 else None
        # fewer than 12 months of figures (a new sensor): the hours are judged at their yearly pace
        yearly = effective * 12 / n if n else None
        saturated = None if not n else bool((yearly or 0) >= rules.saturated_hours_year
                                            or (utilisation or 0) >= rules.saturated_utilisation)
        inst_city = instrument.city or instrument.institution.city
        found.append(SimilarInstrument(
            code=instrument.code, name=instrument.name, model=instrument.model, city=inst_city,
            province=province_of(inst_city, instrument.province),
            institution={"code": instrument.institution.code, "name": instrument.institution.name,
                         "city": instrument.institution.city},
            own_institution=fields.institution_id is not None and instrument.institution_id == fields.institution_id,
            same_city=bool(city) and place(inst_city) == city, similarity=score, matched_by=matched,
            open_for_sharing=is_open_for_sharing(instrument),
            effective_hours_12m=round(effective, 1) if n else None, quota_hours_12m=round(quota, 1) if n else None,
            utilisation_12m=utilisation, months_with_data=n, saturated=saturated,
            services=prices.get(instrument.id, [])))
    found.sort(key=lambda s: (not s.own_institution, not s.same_city, -s.similarity, s.code))
    return found
