"""Request limits and response headers for every endpoint: sizes checked before a body is read,
JSON nesting bounded before it is parsed, and the browser told to sniff, frame and refer nothing."""
from __future__ import annotations

from flask import Flask, Response, current_app, request

from core.errors import InvalidInput, PayloadTooLarge

JSON_MAX_BYTES = 1024 * 1024  # the largest JSON body any endpoint needs is a few kB
JSON_MAX_DEPTH = 32
_OPEN, _CLOSE = frozenset(b"[{"), frozenset(b"]}")


def _upload_limit() -> int:
    # a multipart form carries one or two files and a few fields
    return int(current_app.config["MAX_CONTENT_LENGTH"])


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects, outside strings; stops counting past the limit."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > JSON_MAX_DEPTH:
                    return deepest
        elif byte in _CLOSE:
            depth -= 1
    return deepest


def _check_request() -> None:
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    multipart = request.mimetype == "multipart/form-data"
    limit = _upload_limit() if multipart else JSON_MAX_BYTES
    if (request.content_length or 0) > limit:
        raise PayloadTooLarge(f"请求体超过 {limit // 1024} KB，未读取。", code="payload_too_large",
                              details={"max_bytes": limit})
    if request.is_json:
        body = request.get_data(cache=True)
        # Python's parser recurses per level: a 5,000-deep body would end in RecursionError
        if (body.count(b"[") + body.count(b"{")) > JSON_MAX_DEPTH and json_depth(body) > JSON_MAX_DEPTH:
            raise InvalidInput(f"JSON 嵌套超过 {JSON_MAX_DEPTH} 层。", code="invalid_body")


def _headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "application/json":
        response.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
    else:
        # the demo chat page is server-rendered with its own inline script and style
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                                    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
    return response


def register_limits(app: Flask) -> None:
    settings = app.extensions["platform"].settings
    # the server stops reading a streamed (chunked) body past this even when no length was announced
    app.config["MAX_CONTENT_LENGTH"] = 2 * max(settings.orders.report_max_bytes,
                                               settings.company_document_max_bytes) + 64 * 1024
    app.before_request(_check_request)
    app.after_request(_headers)
