"""Request-scoped dependencies: the composed service, the authenticated caller, and the
endpoint a request was routed to."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Path, Request, Response

from strongroom.budgets import client_ip
from strongroom.compose import Service
from strongroom.context import Caller
from strongroom.endpoints import BY_ROUTE, Endpoint, name_of
from strongroom.errors import BadRequest, StrongroomError, Unauthorized
from strongroom.gate import Answer

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
    ip = peer_ip(request.scope, svc.settings.trusted_proxies)
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


def peer_ip(scope: MutableMapping[str, Any], trusted_proxies: Sequence[str]) -> str:
    """The client's address: the peer's, or the X-Forwarded-For one a trusted proxy
    passed on (`budgets.client_ip`)."""
    client = scope.get("client")
    peer = client[0] if client else ANY_ADDRESS
    forwarded = None
    for key, value in scope.get("headers", ()):
        if key == b"x-forwarded-for":
            forwarded = value.decode("latin-1")
            break
    return client_ip(peer, forwarded, trusted_proxies)


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


CallerDep = Annotated[Caller, Depends(caller)]
ServiceDep = Annotated[Service, Depends(service)]
IdPath = Annotated[str, Path(alias="id")]


def send(answer: Answer, response: Response) -> dict[str, Any]:
    """An answer's body, its rate-limit headers on the response, never cached."""
    for key, value in answer.headers.items():
        response.headers[key] = value
    response.headers["Cache-Control"] = "no-store"
    return answer.body


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
