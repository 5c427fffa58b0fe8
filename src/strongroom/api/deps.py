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


def strict_query(request: Request) -> None:
    """Refuse query parameters a route does not declare: no filter, sort or wildcard can be
    smuggled in beside the ones the policy allows."""
    from strongroom.errors import BadRequest

    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    declared = {p.alias for p in _all_query_params(dependant)}
    unknown = sorted(set(request.query_params) - declared)
    if unknown:
        raise BadRequest(
            f"unknown query parameter(s): {', '.join(unknown)}", reason="unknown_parameter"
        )


def _all_query_params(dependant: Any) -> list[Any]:
    found = list(dependant.query_params)
    for sub in dependant.dependencies:
        found.extend(_all_query_params(sub))
    return found
