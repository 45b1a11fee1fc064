"""The evaluation's input checks: numbers, money, dates and texts as a form or a JSON body sends them.
A boolean is not a number (Python would take True for 1), NaN and infinity are not figures, and every
refusal says in Chinese which field is wrong."""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from core.errors import InvalidInput

MAX_FIGURE = Decimal("1e12")  # far above any real figure; keeps BigInteger and Float honest


def _refuse(label: str, why: str, code: str = "invalid_number") -> InvalidInput:
    return InvalidInput(f"{label}{why}", code=code, details={"field": label})


def decimal(raw: Any, label: str, *, minimum: Decimal = Decimal(0), maximum: Decimal | None = None,
            places: int = 2) -> Decimal:
    """A finite number from minimum to maximum with at most `places` decimals."""
    if isinstance(raw, bool) or raw is None:
        raise _refuse(label, "须为数字。" if raw is not None else "不能为空。")
    if isinstance(raw, str):
        text = raw.strip().replace(",", "")
        if not text:
            raise _refuse(label, "不能为空。", "required")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise _refuse(label, f"须为数字，“{raw[:20]}”不是数字。") from None
    elif isinstance(raw, (int, float, Decimal)):
        value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
    else:
        raise _refuse(label, "须为数字。")
    if not value.is_finite():
        raise _refuse(label, "须为有限的数字（不能是 NaN 或无穷大）。")
    if value < minimum:
        raise _refuse(label, f"不能小于 {float(minimum):g}。", "out_of_range")
    top = MAX_FIGURE if maximum is None else maximum
    if value > top:
        raise _refuse(label, f"不能大于 {top:g}。" if maximum is None else f"不能超过 {float(maximum):g}。", "out_of_range")
    if value != value.quantize(Decimal(1).scaleb(-places)):
        raise _refuse(label, f"最多保留 {places} 位小数。" if places else "须为整数。")
    return value


def number(raw: Any, label: str, *, maximum: float | None = None, places: int = 2) -> float:
    top = None if maximum is None else Decimal(repr(maximum))
    return float(decimal(raw, label, maximum=top, places=places))


def whole(raw: Any, label: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    return int(decimal(raw, label, minimum=Decimal(minimum), maximum=None if maximum is None else Decimal(maximum),
                       places=0))


def money_fen(raw: Any, label: str) -> int:
    """CNY with at most two decimals, as whole fen."""
    return int(decimal(raw, label) * 100)


def day(raw: Any, label: str) -> date:
    if isinstance(raw, date):
        return raw
    if not isinstance(raw, str) or not raw.strip():
        raise _refuse(label, "不能为空，请选择日期。", "required")
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise _refuse(label, "的格式应为 年-月-日，如 2026-03-31。", "invalid_date") from None


def text(raw: Any, label: str, *, limit: int, required: bool = True, minimum: int = 1) -> str:
    if raw is not None and not isinstance(raw, str):
        raise _refuse(label, "须为文字。", "invalid_text")
    value = (raw or "").strip()
    if required and len(value) < minimum:
        raise _refuse(label, "不能为空。" if minimum <= 1 else f"至少 {minimum} 个字。", "required")
    if len(value) > limit:
        raise _refuse(label, f"不能超过 {limit} 个字。", "too_long")
    return value


def ids(raw: Any, label: str) -> list[int]:
    """A list of row ids (form values or JSON numbers), without repeats."""
    if not isinstance(raw, (list, tuple)):
        raise _refuse(label, "须为列表。", "invalid_ids")
    found: list[int] = []
    for item in raw:
        value = whole(item, label, minimum=1, maximum=2**31 - 1)
        if value not in found:
            found.append(value)
    return found
