"""The error tree. Every refusal the service can give is one of these, and each maps to
exactly one RFC 9457 problem `type` at the API boundary (api/problems.py).

    StrongroomError
    ├── BadRequest            400  malformed or unacceptable input
    │   └── InsufficientSpecificity  400 (reason insufficient_specificity)
    ├── Unauthorized          401  no valid credentials (token, DPoP proof, step-up)
    ├── Forbidden             403  authenticated, but not for this (reason code says why)
    ├── NotFound              404  no such resource, or one the caller may not know of
    ├── MethodNotAllowed      405  a route exists, not with this method
    ├── Conflict              409  state does not allow it (already approved, ...)
    ├── TooManyRequests       429  a budget ran out (names the budget, Retry-After)
    ├── Unavailable           503  a dependency is down; we fail closed (journal, Redis)
    └── InternalError         500  the API's last safety net; never carries a trace

Foreign exceptions (SQLAlchemy, redis, joserfc) are translated once, at the layer that
calls the library, with `raise ... from exc`.
"""

from __future__ import annotations

from typing import Any


class StrongroomError(Exception):
    status: int = 500
    slug: str = "internal"
    title: str = "Internal error"

    def __init__(
        self,
        detail: str,
        *,
        reason: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.reason = reason
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


class BadRequest(StrongroomError):
    status = 400
    slug = "bad-request"
    title = "Bad request"


class InsufficientSpecificity(BadRequest):
    slug = "insufficient-specificity"
    title = "Search is not specific enough"

    def __init__(self, detail: str, **kw: Any) -> None:
        kw.setdefault("reason", "insufficient_specificity")
        super().__init__(detail, **kw)


class Unauthorized(StrongroomError):
    status = 401
    slug = "unauthorized"
    title = "Authentication required"


class Forbidden(StrongroomError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class NotFound(StrongroomError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Gone(StrongroomError):
    status = 410
    slug = "gone"
    title = "Gone"


class MethodNotAllowed(StrongroomError):
    status = 405
    slug = "method-not-allowed"
    title = "Method not allowed"


class Conflict(StrongroomError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class TooManyRequests(StrongroomError):
    status = 429
    slug = "budget-exhausted"
    title = "Budget exhausted"


class Unavailable(StrongroomError):
    status = 503
    slug = "unavailable"
    title = "Service unavailable"


class InternalError(StrongroomError):
    status = 500
    slug = "internal"
    title = "Internal error"
