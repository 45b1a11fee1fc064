"""Domain errors carrying the JSON error shape of DESIGN.md."""
from __future__ import annotations

from typing import Any


class AppError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidInput(AppError):
    status = 400
    code = "invalid_input"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"


class BusinessRuleViolation(AppError):
    status = 422
    code = "business_rule"


class RateLimited(AppError):
    status = 429
    code = "rate_limited"


class DependencyUnavailable(AppError):
    status = 503
    code = "unavailable"


class DatabaseBusy(DependencyUnavailable):
    """SQLite's write lock stayed taken through every retry: a long import or a stuck writer."""
    code = "database_busy"
