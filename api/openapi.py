"""The OpenAPI 3 document, generated from the pydantic models each route declares."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from flask import Blueprint, jsonify
from pydantic import BaseModel

from api.openapi_examples import error_codes, error_example, success_example
from api.schemas import ErrorBody
from core.models._types import MAX_ROW_ID

openapi_bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

_STATUS_TEXT = {400: "Invalid input", 401: "Not signed in", 403: "Forbidden", 404: "Not found",
                409: "Conflict", 422: "Business rule", 429: "Rate limited", 503: "Dependency unavailable"}


@dataclass(frozen=True)
class Operation:
    path: str  # OpenAPI style: /services/{code}
    method: str
    summary: str
    response: type[BaseModel]
    query: type[BaseModel] | None
    errors: tuple[int, ...]
    body: type[BaseModel] | None = None
    signed_in: bool = False
    # a binary answer (a PDF, a CSV) instead of the JSON response model
    media_type: str | None = None
    # "multipart/form-data" for file uploads
    body_media_type: str = "application/json"
    # 201 for an operation that creates a resource
    status: int = 200
    # other answers the same operation can give (the statement as text/csv)
    alt_media_types: tuple[str, ...] = ()


OPERATIONS: list[Operation] = []


def documented(
    path: str, method: str, summary: str, response: type[BaseModel],
    query: type[BaseModel] | None = None, errors: tuple[int, ...] = (400,),
    body: type[BaseModel] | None = None, signed_in: bool = False, media_type: str | None = None,
    body_media_type: str = "application/json", status: int = 200, alt_media_types: tuple[str, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Record a route in the OpenAPI document; the handler itself is unchanged."""
    OPERATIONS.append(Operation(path, method.lower(), summary, response, query, errors, body, signed_in, media_type,
                                body_media_type, status, alt_media_types))
    return lambda handler: handler


def _parameters(op: Operation, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": _path_schema(name)}
        for name in (part[1:-1] for part in op.path.split("/") if part.startswith("{"))
    ]
    if op.query is not None:
        schema = op.query.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, prop in schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in schema.get("required", []), "schema": prop})
    return params


def _path_schema(name: str) -> dict[str, Any]:
    # `<int:..._id>` routes take an id in the id columns' range (see RecordIdConverter); codes are text
    if name.endswith("_id"):
        return {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}
    return {"type": "string", "minLength": 1}


def _schema_ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def openapi_document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    error_ref = _schema_ref(ErrorBody, schemas)
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        content = ({op.media_type: {"schema": {"type": "string", "format": "binary"}}} if op.media_type
                   else {"application/json": {"schema": _schema_ref(op.response, schemas)}})
        if not op.media_type:
            content["application/json"]["example"] = success_example(
                op.method, op.path, content["application/json"]["schema"], schemas)
        content.update({alt: {"schema": {"type": "string"}} for alt in op.alt_media_types})
        responses: dict[str, Any] = {str(op.status): {"description": "Created" if op.status == 201 else "OK",
                                                      "content": content}}
        codes = error_codes(op.method, op.path, op.errors, op.query is not None, op.body is not None)
        for status in op.errors:
            responses[str(status)] = {
                "description": _STATUS_TEXT.get(status, "Error") + "".join(f"; error.code: {', '.join(codes[str(status)])}"
                                                                           for _ in codes[str(status)][:1]),
                "content": {"application/json": {"schema": error_ref, "examples": {
                    code: {"value": error_example(status, code)} for code in codes[str(status)]}}},
            }
        operation: dict[str, Any] = {
            "summary": op.summary,
            "operationId": f"{op.method}_{op.path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}",
            "parameters": _parameters(op, schemas),
            "responses": responses,
            "x-error-codes": codes,  # status -> the `error.code` values this operation can answer with
        }
        if op.body is not None:
            operation["requestBody"] = {
                "required": True, "content": {op.body_media_type: {"schema": _schema_ref(op.body, schemas)}},
            }
        if op.signed_in:
            operation["security"] = [{"bearerToken": []}]
        paths.setdefault("/api/v1" + op.path, {})[op.method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Instrument-sharing platform API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerToken": {"type": "http", "scheme": "bearer", "description": "from /auth/login"}},
        },
    }


@openapi_bp.get("/openapi.json")
def openapi_json():  # type: ignore[no-untyped-def]
    return jsonify(openapi_document())
