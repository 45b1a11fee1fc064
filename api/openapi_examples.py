"""What the OpenAPI document shows beside the schemas: per operation the error `code`s it can answer
with (`x-error-codes`, by status) and an example of each answer.

Every status's common codes come from the API's own guards (validation, sign-in, limits); the main
operations add the codes their services raise. Success examples are hand-written for the main
operations and otherwise built from the response model's JSON schema, so every operation has one."""
from __future__ import annotations

from typing import Any

# what any operation answering this status may say (api/validation.py, api/auth.py, api/limits.py, core.db)
COMMON_CODES: dict[int, tuple[str, ...]] = {
    400: ("invalid_input",), 401: ("unauthorized", "invalid_token", "token_expired", "token_revoked"),
    403: ("forbidden",), 404: ("not_found",), 409: ("conflict",), 413: ("payload_too_large",),
    422: ("business_rule",), 429: ("rate_limited",), 503: ("unavailable", "database_busy"),
}

_SLOT = ("slot_required", "delivery_date_required", "slot_in_past", "slot_not_aligned", "slot_outside_opening_hours",
         "slot_blackout")
# codes the main operations' services raise, by (method, path) and status
OPERATION_CODES: dict[tuple[str, str], dict[int, tuple[str, ...]]] = {
    ("get", "/search"): {400: ("unknown_filter_value",), 503: ("search_index_missing", "search_index_corrupt",
                                                              "search_model_unavailable")},
    ("get", "/services/{code}"): {404: ("service_not_found",)},
    ("get", "/instruments/{code}"): {404: ("instrument_not_found",)},
    ("get", "/institutions/{code}"): {404: ("institution_not_found",)},
    ("post", "/auth/password-login"): {401: ("bad_credentials",), 429: ("too_many_failures",)},
    ("post", "/auth/demo-login"): {404: ("demo_login_off",), 400: ("institution_not_found",)},
    ("post", "/orders"): {400: ("invalid_samples", "sample_description_required", "invalid_voucher_amount", *_SLOT),
                          404: ("service_not_found", "campaign_not_found"),
                          409: ("slot_taken", "price_mismatch", "campaign_full"),
                          422: ("institution_not_approved", "campaign_closed", "company_required")},
    ("get", "/orders/{number}"): {404: ("order_not_found",)},
    ("post", "/orders/{number}/payment"): {404: ("order_not_found",), 409: ("order_expired", "wrong_state")},
    ("post", "/orders/{number}/cancel"): {400: ("reason_required",), 404: ("order_not_found",), 409: ("wrong_state",)},
    ("post", "/vouchers"): {400: ("invalid_amount", "purpose_required"),
                            422: ("company_required", "voucher_application_limit")},
}

# hand-written answers of the main operations (the rest are built from their schemas)
SUCCESS_EXAMPLES: dict[tuple[str, str], Any] = {
    ("get", "/search"): {
        "query": "辣椒粉里有没有苏丹红",
        "items": [{
            "service": {"code": "CQ-S-0001", "name": "食品中苏丹红I-IV号的测定", "price_cny": 300.0, "price_unit": "样",
                        "turnaround_days": 5, "accreditations": ["CMA", "CNAS"]},
            "instrument": {"code": "CQ-ATC-0312", "name": "高效液相色谱仪", "status": "idle"},
            "institution": {"code": "CQ-ATC", "name": "重庆某大学分析测试中心", "city": "重庆"},
            "score": 0.87, "why": ["苏丹红", "辣椒粉"]}],
    },
    ("get", "/search/hot"): {"items": [{"query": "辣椒粉 苏丹红", "count": 42}]},
}

_MESSAGES = {400: "请求内容有误（见 details.fields）。", 401: "请先登录。", 403: "没有权限访问。", 404: "要找的内容不存在。",
             409: "与当前状态冲突。", 413: "上传的内容太大。", 422: "不符合业务规则。", 429: "请求过于频繁，请稍后再试。",
             503: "服务暂时不可用，请稍后再试。"}


def error_codes(method: str, path: str, statuses: tuple[int, ...], query: bool, body: bool) -> dict[str, list[str]]:
    """Status -> the error codes an operation can answer with."""
    own = OPERATION_CODES.get((method, path), {})
    out: dict[str, list[str]] = {}
    for status in statuses:
        codes = list(COMMON_CODES.get(status, ()))
        if status == 400:
            codes += (["invalid_query"] if query else []) + (["invalid_body"] if body else [])
        codes += [c for c in own.get(status, ()) if c not in codes]
        out[str(status)] = codes
    return out


def error_example(status: int, code: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": _MESSAGES.get(status, "请求未能处理。"), "details": {}}}


def success_example(method: str, path: str, schema: dict[str, Any], components: dict[str, Any]) -> Any:
    if (method, path) in SUCCESS_EXAMPLES:
        return SUCCESS_EXAMPLES[(method, path)]
    return example_of(schema, components)


def example_of(schema: dict[str, Any], components: dict[str, Any], depth: int = 0, name: str = "") -> Any:
    """A value that satisfies a (pydantic-made) JSON schema: defaults and examples first, else a plain value."""
    if depth > 8:
        return None
    if "$ref" in schema:
        return example_of(components.get(schema["$ref"].rsplit("/", 1)[-1], {}), components, depth + 1)
    for key in ("examples", "example"):
        if key in schema:
            value = schema[key]
            return value[0] if key == "examples" and isinstance(value, list) and value else value
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example_of(options[0], components, depth + 1, name)
    if "allOf" in schema:
        return example_of(schema["allOf"][0], components, depth + 1, name)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {key: example_of(prop, components, depth + 1, key) for key, prop in schema.get("properties", {}).items()}
    if kind == "array":
        return [example_of(schema.get("items", {}), components, depth + 1, name)] if schema.get("minItems", 1) else []
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return True
    if kind == "string":
        return _string(schema, name)
    return None


# plain strings by what their field is called (the last matching ending wins)
_BY_NAME = (("name", "示例名称"), ("code", "CQ-S-0001"), ("number", "P20260302-0001"), ("phone", "023-68800000"),
            ("city", "重庆"), ("status", "paid"), ("url", "https://example.com/"), ("token", "eyJ1aWQiOjF9.abc"),
            ("message", "示例说明"), ("reason", "示例原因"), ("query", "辣椒粉 苏丹红"))


def _string(schema: dict[str, Any], name: str = "") -> str:
    fmt = schema.get("format")
    plain = next((v for end, v in reversed(_BY_NAME) if name.endswith(end)), "示例")
    value = {"date-time": "2026-03-02T09:30:00+08:00", "date": "2026-03-02", "time": "09:30:00",
             "email": "lab@example.com", "uri": "https://example.com/", "binary": ""}.get(fmt or "", plain)
    if len(value) < schema.get("minLength", 0):
        value = value * schema["minLength"]
    if "maxLength" in schema:
        value = value[: schema["maxLength"]]
    return value
