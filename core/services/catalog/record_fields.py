"""The national instrument record's fields (国家大型科研仪器 record): their enumerations as slug ↔
Chinese label, their limits, and the parsing the import uses.

Stored values are the English slugs; people read the Chinese labels. Every parser accepts either the
slug or the label, treats None and "" as "not given", and raises ValueError with a Chinese sentence
(the import puts the line number and the field in front of it).
"""
from __future__ import annotations

import math
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from core.services.catalog import classification

ACQUISITION: dict[str, str] = {"purchase": "购置", "built": "研制", "donated": "赠送", "other": "其他"}
RUN_STATUS: dict[str, str] = {
    "normal": "正常", "standby": "待机", "remote": "远程服务中", "occasional_fault": "偶有故障",
    "frequent_fault": "故障频繁", "awaiting_repair": "待修", "awaiting_scrap": "待报废",
}
SHARE_MODE: dict[str, str] = {"internal": "内部共享", "external": "外部共享", "none": "不共享"}
ENUMERATIONS: dict[str, dict[str, str]] = {"acquisition": ACQUISITION, "run_status": RUN_STATUS,
                                           "share_mode": SHARE_MODE}

# what the record's fields are called in Chinese (the workbench page, the national export, error messages)
FIELD_LABELS: dict[str, str] = {
    "classification_code": "仪器分类编码", "platform_code": "平台编号", "acquisition": "仪器来源",
    "country": "产地国别", "value_cny": "原值", "value_wan": "原值（万元）", "in_service_date": "启用日期",
    "disciplines": "主要学科领域", "run_status": "运行状态", "share_mode": "共享模式",
    "fee_standard": "参考收费标准", "customs_supervised": "海关监管", "province": "所在省份", "city": "所在城市",
    "county": "所在区县", "contact_name": "联系人", "contact_phone": "联系电话", "specs": "主要技术指标",
    "functions": "主要功能", "open_for_sharing": "对外开放共享",
}

# limits of the national record; the text lengths the columns do not already bound
SPECS_MAX, FUNCTIONS_MAX, FEE_STANDARD_MAX = 500, 300, 500
DISCIPLINES_MAX_ITEMS, DISCIPLINE_MAX_CHARS = 4, 50
TEXT_MAX: dict[str, int] = {"country": 64, "province": 32, "city": 64, "county": 64, "contact_name": 100,
                            "contact_phone": 64, "fee_standard": FEE_STANDARD_MAX, "specs": SPECS_MAX,
                            "functions": FUNCTIONS_MAX}
WAN = Decimal(10000)  # 1 万元 in yuan
VALUE_WAN_MAX = Decimal("99999999.99")  # ×10000 still fits value_cny's 14 digits with 2 decimals
YEARS = (1950, 2100)  # an in-service date outside these is a typo
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# digits with the separators people write in a phone number: "023-6510 2837", "+86 138…", "…转 801"
_PHONE = re.compile(r"^[0-9+\-()（） /,，;；转#extEXT.]*[0-9][0-9+\-()（） /,，;；转#extEXT.]*$")


def _label(field: str) -> str:
    return FIELD_LABELS.get(field, field)


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_choice(field: str, value: Any) -> str | None:
    """The slug of an enumeration field, from its slug or its Chinese label."""
    if _absent(value):
        return None
    choices = ENUMERATIONS[field]
    if isinstance(value, str):
        text = value.strip()
        if text in choices:
            return text
        for slug, label in choices.items():
            if text == label:
                return slug
    allowed = "、".join(f"{label}（{slug}）" for slug, label in choices.items())
    raise ValueError(f"{_label(field)}须为以下之一：{allowed}")


def label_of(field: str, slug: str | None) -> str:
    """The Chinese label of a stored slug; "" for none, the slug itself if unknown."""
    if not slug:
        return ""
    return ENUMERATIONS[field].get(slug, slug)


def parse_text(field: str, value: Any) -> str | None:
    """Text within the field's length (TEXT_MAX); surrounding blanks dropped, empty is none."""
    if _absent(value):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{_label(field)}须为文字")
    text = value.strip()
    limit = TEXT_MAX[field]
    if len(text) > limit:
        raise ValueError(f"{_label(field)}最多 {limit} 个字（现有 {len(text)} 个）")
    if field == "contact_phone" and not _PHONE.match(text):
        raise ValueError("联系电话只能由数字和 + - ( ) 空格 转 等分隔符组成，如 023-65102837")
    return text


def parse_classification(value: Any) -> str | None:
    """A code of the classification tree (4 digits, or 6 with the 小类), written as text."""
    if _absent(value):
        return None
    if not isinstance(value, str):
        # 0105 written as a number would lose its leading zero
        raise ValueError("仪器分类编码须写成文字（加引号），如 \"0105\"")
    code = value.strip()
    if not classification.is_valid(code):
        raise ValueError(f"仪器分类编码 {code!r} 不在分类表中（4 位大类+中类，可再加 2 位小类，如 0105 或 010501；"
                         "见 docs/import-format.md）")
    return code


def _finite_number(field: str, value: Any) -> Decimal:
    # JSON's true/false, "42万", NaN and Infinity are not amounts
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{_label(field)}须为数字")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{_label(field)}须为有限的数字")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{_label(field)}须为数字") from None


def parse_value_wan(value: Any) -> Decimal | None:
    """原值 in 万元: a number ≥ 0 with at most two decimals."""
    if value is None:
        return None
    amount = _finite_number("value_wan", value)
    if amount < 0:
        raise ValueError("原值（万元）不能为负数")
    if amount > VALUE_WAN_MAX:  # before quantize(): 1e300 has no two-decimal form
        raise ValueError(f"原值（万元）不能超过 {VALUE_WAN_MAX}")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("原值（万元）最多保留两位小数")
    return amount.quantize(Decimal("0.01"))


def wan_from_cny(value_cny: Decimal | None) -> Decimal | None:
    """value_cny in 万元, when it can be written with two decimals (a whole number of 百元); else None."""
    if value_cny is None:
        return None
    wan = Decimal(value_cny) / WAN
    return wan.quantize(Decimal("0.01")) if wan == wan.quantize(Decimal("0.01")) else None


def parse_date(field: str, value: Any) -> date | None:
    """A calendar date written YYYY-MM-DD."""
    if _absent(value):
        return None
    if not isinstance(value, str) or not _DATE.match(value.strip()):
        raise ValueError(f"{_label(field)}须为日期，写作 YYYY-MM-DD，如 2019-06-01")
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{_label(field)} {value.strip()} 不是存在的日期") from None
    if not YEARS[0] <= day.year <= YEARS[1]:
        raise ValueError(f"{_label(field)}须在 {YEARS[0]} 年到 {YEARS[1]} 年之间")
    return day


def parse_bool(field: str, value: Any) -> bool | None:
    """true or false only: 1, 0, "是" and "true" are refused rather than guessed."""
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ValueError(f"{_label(field)}须为 true 或 false")
    return value


def parse_disciplines(value: Any) -> list[str] | None:
    """Up to four subject areas: a list of texts (one text is a list of one); repeats are dropped."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError("主要学科领域须为文字列表，如 [\"化学\", \"材料科学\"]")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError("主要学科领域的每一项须为非空文字")
        text = item.strip()
        if len(text) > DISCIPLINE_MAX_CHARS:
            raise ValueError(f"主要学科领域每项最多 {DISCIPLINE_MAX_CHARS} 个字")
        if text not in out:
            out.append(text)
    if len(out) > DISCIPLINES_MAX_ITEMS:
        raise ValueError(f"主要学科领域最多 {DISCIPLINES_MAX_ITEMS} 项（现有 {len(out)} 项）")
    return out


def sharing_from_mode(share_mode: str | None) -> bool | None:
    """open_for_sharing as a share mode implies it: 不共享 closes the listings, a shared mode opens them."""
    if share_mode is None:
        return None
    return share_mode != "none"


def mode_after_opening(open_for_sharing: bool, stored_mode: str | None) -> str | None:
    """The share mode once only open_for_sharing changed: closing means 不共享; opening an instrument
    recorded as 不共享 means 外部共享 (the platform lists it for outside users); otherwise unchanged."""
    if not open_for_sharing:
        return "none"
    return "external" if stored_mode == "none" else stored_mode


def yes_no(value: bool | None) -> str:
    return "" if value is None else ("是" if value else "否")


def record_rows(instrument: Any) -> list[tuple[str, str]]:
    """The record as a person reads it: (Chinese field name, value in words), "" for what is not filled in."""
    value = "" if instrument.value_cny is None else (
        f"{Decimal(instrument.value_cny) / WAN:,.2f} 万元（{Decimal(instrument.value_cny):,.2f} 元）")
    code = instrument.classification_code
    return [
        ("平台编号", instrument.platform_code or ""),
        ("仪器分类", f"{code} {classification.label(code)}" if code else ""),
        ("仪器来源", label_of("acquisition", instrument.acquisition)),
        ("产地国别", instrument.country or ""),
        ("原值", value),
        ("启用日期", instrument.in_service_date.isoformat() if instrument.in_service_date else ""),
        ("主要学科领域", "；".join(instrument.disciplines or [])),
        ("运行状态", label_of("run_status", instrument.run_status)),
        ("共享模式", label_of("share_mode", instrument.share_mode)),
        ("参考收费标准", instrument.fee_standard or ""),
        ("海关监管", yes_no(instrument.customs_supervised)),
        ("所在地区", " ".join(p for p in (instrument.province, instrument.city, instrument.county) if p)),
        ("联系人", instrument.contact_name or ""),
        ("联系电话", instrument.contact_phone or ""),
        ("主要技术指标", instrument.specs or ""),
        ("主要功能", instrument.functions or ""),
    ]
