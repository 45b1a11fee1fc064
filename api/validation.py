"""Request validation with pydantic, failing in the error shape of DESIGN.md."""
from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from core.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def _validate(model: type[M], data: Any, code: str, messages: dict[str, str] | None) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = {".".join(map(str, e["loc"])) or "body": e["msg"] for e in exc.errors()}
        name, problem = next(iter(fields.items()))
        message = (messages or {}).get(name, f"{name}: {problem}")
        raise InvalidInput(message, code=code, details={"fields": fields}) from None


def parse_query(model: type[M], args: Any, messages: dict[str, str] | None = None) -> M:
    repeated = [k for k in args if len(args.getlist(k)) > 1]
    if repeated:
        raise InvalidInput(f"Give each parameter once; repeated: {', '.join(repeated)}.", code="invalid_query")
    return _validate(model, args.to_dict(), "invalid_query", messages)


def parse_json_body(model: type[M], body: Any, messages: dict[str, str] | None = None) -> M:
    """A JSON object body; anything else (no body, a list, bad JSON) is an empty object."""
    return _validate(model, body if isinstance(body, dict) else {}, "invalid_body", messages)
