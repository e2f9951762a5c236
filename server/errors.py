"""REST errors: one exception type carrying status, stable code, message and details."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"success": False, "error": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


def bad_request(message: str, details: dict[str, Any] | None = None) -> ApiError:
    return ApiError(400, "bad_request", message, details)


def validation(details: dict[str, str]) -> ApiError:
    fields = ", ".join(sorted(details))
    return ApiError(422, "validation_error", f"invalid fields: {fields}", details)


def unauthorized(message: str = "missing or invalid bearer token", code: str = "unauthorized") -> ApiError:
    return ApiError(401, code, message, headers={"WWW-Authenticate": "Bearer"})


def forbidden(message: str = "not allowed") -> ApiError:
    return ApiError(403, "forbidden", message)


def not_found(message: str = "not found") -> ApiError:
    return ApiError(404, "not_found", message)


def conflict(message: str) -> ApiError:
    return ApiError(409, "conflict", message)


def too_many(message: str, retry_after: float) -> ApiError:
    return ApiError(429, "rate_limited", message, headers={"Retry-After": str(max(1, int(retry_after + 0.999)))})
