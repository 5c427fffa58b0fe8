"""Request-scoped dependencies: the composed service, the authenticated caller, and the
endpoint a request was routed to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request

from strongroom.budgets import client_ip
from strongroom.compose import Service
from strongroom.context import Caller
from strongroom.endpoints import BY_ROUTE, Endpoint, name_of
from strongroom.errors import BadRequest, StrongroomError, Unauthorized

ANY_ADDRESS = "0.0.0.0"  # noqa: S104 - a peer the server cannot name, never a bind address


# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in the
# thread pool, a hop per dependency per request.
async def service(request: Request) -> Service:
    return _service(request)


def _service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


def caller(request: Request) -> Caller:
    """Authenticate the request (token, DPoP proof, revocation, idle timeout) and bind it
    to its principal, or raise Unauthorized (a 401 problem with WWW-Authenticate). A failed
    authentication is journaled as a security event."""
    svc = _service(request)
    peer = request.client.host if request.client else None
    ip = client_ip(
        peer or ANY_ADDRESS,
        request.headers.get("x-forwarded-for"),
        svc.settings.trusted_proxies,
    )
    try:
        who = svc.resource_server.authenticate(
            authorization=request.headers.get("authorization"),
            dpop=request.headers.get("dpop"),
            method=request.method,
            url=str(request.url),
            ip=ip,
            user_agent=request.headers.get("user-agent"),
        )
    except Unauthorized as exc:
        svc.pipeline.record_security(
            None,
            name_of(request.method, request.url.path),
            reason=exc.reason or "unauthorized",
            ip=ip,
        )
        raise
    return svc.pipeline.bind_principal(who)


def endpoint_of(request: Request) -> str:
    """The policy's name of the route a request reached (the journal's `endpoint`), or the
    raw method and path for a request that reached none."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    found = BY_ROUTE.get((request.method, path)) if path else None
    return found.id if found else name_of(request.method, request.url.path)


def journal_rejected(request: Request, err: StrongroomError) -> None:
    """Journal a request refused before it reached the gate (malformed input)."""
    try:
        who = caller(request)
    except StrongroomError:
        return  # already journaled as a security event
    _service(request).pipeline.record_refusal(who, endpoint_of(request), err)


def route(router: APIRouter, endpoint: Endpoint, **options: Any) -> Callable[..., Any]:
    """Mount a handler at the endpoint's method and path."""
    return router.api_route(endpoint.path, methods=[endpoint.method], **options)


async def strict_query(request: Request) -> None:
    """Refuse query parameters a route does not declare: no filter, sort or wildcard can be
    smuggled in beside the ones the policy allows."""
    route_ = request.scope.get("route")
    dependant = getattr(route_, "dependant", None)
    if dependant is None:
        return
    declared = {p.alias for p in _all_query_params(dependant)}
    unknown = sorted(set(request.query_params) - declared)
    if unknown:
        err = BadRequest(
            f"unknown query parameter(s): {', '.join(unknown)}", reason="unknown_parameter"
        )
        await anyio.to_thread.run_sync(journal_rejected, request, err)
        raise err


def _all_query_params(dependant: Any) -> list[Any]:
    found = list(dependant.query_params)
    for sub in dependant.dependencies:
        found.extend(_all_query_params(sub))
    return found
