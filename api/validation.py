"""Request validation with pydantic, failing in the error shape of DESIGN.md."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, Field, ValidationError

from core.errors import InvalidInput
from core.models._types import MAX_ROW_ID

M = TypeVar("M", bound=BaseModel)


# people read the error message: pydantic's English, said in Chinese by error type
_PROBLEMS = {
    "missing": "必填", "extra_forbidden": "不是可用的字段", "int_type": "须为整数", "int_parsing": "须为整数",
    "float_type": "须为数字", "float_parsing": "须为数字", "finite_number": "须为有限的数字",
    "bool_type": "须为 true 或 false", "bool_parsing": "须为 true 或 false", "string_type": "须为文字",
    "greater_than_equal": "不得小于 {ge}", "greater_than": "须大于 {gt}", "less_than_equal": "不得大于 {le}",
    "less_than": "须小于 {lt}", "string_too_long": "最多 {max_length} 个字符", "string_too_short": "至少 {min_length} 个字符",
    "literal_error": "须为 {expected} 之一", "date_parsing": "须为日期，如 2026-12-03",
    "date_from_datetime_parsing": "须为日期，如 2026-12-03", "datetime_parsing": "须为 ISO 8601 时间，如 2026-12-03T10:00:00+08:00",
    "datetime_from_date_parsing": "须为 ISO 8601 时间，如 2026-12-03T10:00:00+08:00", "model_type": "须为 JSON 对象",
    "list_type": "须为列表", "dict_type": "须为对象",
    "date_type": "须为日期，如 2026-12-03", "date_from_datetime_inexact": "须为日期（不带时刻），如 2026-12-03",
    "datetime_type": "须为 ISO 8601 时间，如 2026-12-03T10:00:00+08:00",
    "datetime_object_invalid": "须为 ISO 8601 时间，如 2026-12-03T10:00:00+08:00",
    "time_type": "须为时刻，如 08:30", "time_parsing": "须为时刻，如 08:30",
    "timezone_naive": "须带时区，如 +08:00", "timezone_aware": "不应带时区",
    "int_from_float": "须为整数", "string_pattern_mismatch": "格式不对", "enum": "须为 {expected} 之一",
    "too_long": "最多 {max_length} 项", "too_short": "至少 {min_length} 项", "multiple_of": "须为 {multiple_of} 的倍数",
    "decimal_type": "须为数字", "decimal_parsing": "须为数字", "decimal_max_places": "最多 {decimal_places} 位小数",
    "decimal_max_digits": "最多 {max_digits} 位数字", "json_invalid": "须为合法的 JSON", "bytes_type": "须为文字",
    "string_unicode": "须为 UTF-8 文字", "union_tag_invalid": "类型不对", "is_instance_of": "类型不对",
}
# a pydantic error type not named above still answers in Chinese (the English stays out of people's sight)
_FALLBACK = "取值无效"


def _problem(error: Any) -> str:
    if error["type"] == "value_error":
        return str(error["ctx"]["error"]) if "ctx" in error else error["msg"]
    template = _PROBLEMS.get(error["type"], _FALLBACK)
    ctx = dict(error.get("ctx", {}))
    if "expected" in ctx:  # pydantic lists choices as "'a', 'b' or 'c'"
        ctx["expected"] = str(ctx["expected"]).replace(" or ", "、").replace(", ", "、")
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return template


def _validate(model: type[M], data: Any, code: str, messages: dict[str, str] | None) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = {".".join(map(str, e["loc"])) or "body": _problem(e) for e in exc.errors()}
        name, problem = next(iter(fields.items()))
        message = (messages or {}).get(name, f"{name}：{problem}")
        raise InvalidInput(message, code=code, details={"fields": fields}) from None


def parse_query(model: type[M], args: Any, messages: dict[str, str] | None = None) -> M:
    repeated = [k for k in args if len(args.getlist(k)) > 1]
    if repeated:
        raise InvalidInput(f"每个参数只能给一次，重复的：{', '.join(repeated)}。", code="invalid_query")
    return _validate(model, args.to_dict(), "invalid_query", messages)


def parse_json_body(model: type[M], body: Any, messages: dict[str, str] | None = None) -> M:
    """A JSON object body; anything else (no body, a list, bad JSON) is an empty object."""
    return _validate(model, body if isinstance(body, dict) else {}, "invalid_body", messages)


# --- value types of request bodies -------------------------------------------------------------
# JSON's loose numbers are bad input for money and counts: a boolean, a string, NaN, Infinity,
# a 30-digit integer or a fraction of a fen is refused with 400 instead of being coerced.

def _whole_fen(value: float) -> float:
    if abs(value * 100 - round(value * 100)) > 1e-6:
        raise ValueError("金额最多保留两位小数（分）")
    return value


def _with_offset(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("时间须带时区，如 2026-12-03T10:00:00+08:00（ISO 8601）")
    return value


# far past or future dates are typos or probes: refused before they reach date arithmetic or the database
YEARS = (2000, 2100)


def _sane_year(value: date) -> date:
    if not YEARS[0] <= value.year <= YEARS[1]:
        raise ValueError(f"日期须在 {YEARS[0]} 年到 {YEARS[1]} 年之间")
    return value


MoneyCNY = Annotated[float, Field(strict=True, ge=0, le=100_000_000, allow_inf_nan=False), AfterValidator(_whole_fen)]
Count = Annotated[int, Field(strict=True, ge=1, le=100_000)]
RecordId = Annotated[int, Field(strict=True, ge=1, le=MAX_ROW_ID)]
Stars = Annotated[int, Field(strict=True, ge=1, le=5)]
Moment = Annotated[datetime, AfterValidator(_with_offset), AfterValidator(_sane_year)]
Day = Annotated[date, AfterValidator(_sane_year)]
