"""Request-scoped dependencies: the service and the authenticated caller."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from strongroom.context import Caller


def service(request: Request) -> Any:
    return request.app.state.service


def caller(request: Request) -> Caller:
    """Authenticate the request (token, DPoP proof, revocation, idle timeout) or raise
    Unauthorized, which becomes a 401 problem with WWW-Authenticate."""
    return request.app.state.service.authenticate(request)
