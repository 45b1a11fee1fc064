"""Query-string validation with pydantic, failing in the error shape of DESIGN.md."""
from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from core.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def parse_query(model: type[M], args: Any, messages: dict[str, str] | None = None) -> M:
    repeated = [k for k in args if len(args.getlist(k)) > 1]
    if repeated:
        raise InvalidInput(f"Give each parameter once; repeated: {', '.join(repeated)}.", code="invalid_query")
    try:
        return model.model_validate(args.to_dict())
    except ValidationError as exc:
        fields = {".".join(map(str, e["loc"])) or "query": e["msg"] for e in exc.errors()}
        name, problem = next(iter(fields.items()))
        message = (messages or {}).get(name, f"{name}: {problem}")
        raise InvalidInput(message, code="invalid_query", details={"fields": fields}) from None
