"""RFC 9457 problem details: the only shape an error leaves the API in.

Each `StrongroomError` subclass maps to exactly one problem `type` (its slug under
`/problems/`); the `reason` member says which refusal it was (`purpose_missing`,
`out_of_scope`, `insufficient_specificity`, ...). No stack trace, ever.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

from strongroom.errors import StrongroomError

MEDIA_TYPE = "application/problem+json"


def problem_body(exc: StrongroomError, instance: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"/problems/{exc.slug}",
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
    }
    if instance:
        body["instance"] = instance
    if exc.reason:
        body["reason"] = exc.reason
    for key, value in exc.extra.items():
        body.setdefault(key, value)
    return body


def problem_bytes(exc: StrongroomError, instance: str | None = None) -> bytes:
    return orjson.dumps(problem_body(exc, instance))


def problem_response(
    exc: StrongroomError, instance: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    merged = {**(headers or {}), **exc.headers}
    return JSONResponse(
        problem_body(exc, instance), status_code=exc.status, media_type=MEDIA_TYPE, headers=merged
    )
