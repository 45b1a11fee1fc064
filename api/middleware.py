"""WSGI middleware for the JSON APIs."""
from __future__ import annotations

from typing import Any, Callable, Iterable
from urllib.parse import quote

from werkzeug.routing import IntegerConverter, Map

from core.models._types import MAX_ROW_ID

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Utf8QueryString:
    """Accept raw UTF-8 in the query string (curl '...?q=辣椒粉' sends it unencoded).

    WSGI hands the query string over as latin-1; re-quoting the underlying bytes
    lets the framework decode them as the UTF-8 they are instead of as mojibake.
    """

    def __init__(self, app: WSGIApp):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        qs = environ.get("QUERY_STRING", "")
        if qs and not qs.isascii():
            environ["QUERY_STRING"] = quote(_raw_bytes(qs), safe="=&+%/;:,?@!$'()*~")
        return self.app(environ, start_response)


def _raw_bytes(qs: str) -> bytes:
    raw = qs.encode("latin-1", errors="replace")
    # Werkzeug's own server encodes its latin-1 view of the bytes as UTF-8 once
    # more; undo that when the result is valid UTF-8 underneath.
    try:
        inner = raw.decode("utf-8").encode("latin-1")
        inner.decode("utf-8")
    except UnicodeError:
        return raw
    return inner




class RecordIdConverter(IntegerConverter):
    """`<int:...>` in every route: an id past the id columns' range, or 0, matches no route and is the same
    404 as a missing record, instead of overflowing the database driver (a 500)."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = 1, max: int | None = MAX_ROW_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, max, signed)
