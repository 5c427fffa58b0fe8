"""Request-scoped dependencies: the composed service, the authenticated caller, and the
endpoint a request was routed to."""

from __future__ import annotations

import hashlib
import inspect
import time
from collections.abc import Callable, MutableMapping, Sequence
from typing import Annotated, Any, get_type_hints

import anyio.to_thread
import orjson
from fastapi import APIRouter, Depends, Path, Request, Response

from strongroom.auth.revocation_snapshot import REVOCATION_BOUND_SECONDS
from strongroom.budgets import client_ip
from strongroom.compose import Service
from strongroom.context import Caller
from strongroom.endpoints import BY_ROUTE, Endpoint, name_of
from strongroom.errors import BadRequest, StrongroomError, Unauthorized
from strongroom.gate import Answer
from strongroom.held import Held

ANY_ADDRESS = "0.0.0.0"  # noqa: S104 - a peer the server cannot name, never a bind address


# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in the
# thread pool, a hop per dependency per request.
async def service(request: Request) -> Service:
    return _service(request)


def _service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


class RefusedCredentials:
    """Authentications the resource server refused, by what it read of the request (its
    Authorization and DPoP headers, method and URL), each held for REVOCATION_BOUND_SECONDS
    so the door refuses the same request again without a thread or a token check (a flood
    of one stolen, revoked or expired token). The refusal depends on nothing else but the
    revocations and sessions, which the resource server itself reads up to that long
    late: a holding refusal may outlast a reinstatement by as much, never grant anything.
    Keys are digests: no token is kept."""

    MAX = 10_000

    def __init__(self, limit: int = MAX) -> None:
        self._held: Held[bytes, StrongroomError] = Held(limit)

    @staticmethod
    def key(scope: MutableMapping[str, Any]) -> bytes:
        digest = hashlib.blake2b(digest_size=16)
        for part in (scope.get("scheme", ""), scope.get("method", ""), scope.get("root_path", "")):
            digest.update(str(part).encode() + b"\0")
        digest.update(str(scope.get("path", "")).encode() + b"\0")
        digest.update(bytes(scope.get("query_string", b"")) + b"\0")
        for name, value in scope.get("headers", ()):
            if name in _READ_BY_AUTHENTICATION:
                digest.update(name + b"\0" + value + b"\0")
        return digest.digest()

    def hold(self, key: bytes, refusal: StrongroomError) -> None:
        now = time.monotonic()
        self._held.hold(key, now + REVOCATION_BOUND_SECONDS, refusal, now)

    def refusal(self, key: bytes) -> StrongroomError | None:
        held = self._held.get(key, time.monotonic())
        return None if held is None else held[1]

    def __len__(self) -> int:
        return len(self._held)


# What `str(request.url)` and the resource server read of a request's headers.
_READ_BY_AUTHENTICATION = frozenset({b"authorization", b"dpop", b"host"})


def caller(request: Request) -> Caller:
    """Authenticate the request (token, DPoP proof, revocation, idle timeout) and bind it
    to its principal, or raise Unauthorized (a 401 problem with WWW-Authenticate). A failed
    authentication is journaled as a security event, and held for the door
    (`RefusedCredentials`)."""
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
        refused: RefusedCredentials = request.app.state.refused_credentials
        refused.hold(RefusedCredentials.key(request.scope), exc)
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


def journal_rejected(request: Request, err: StrongroomError) -> StrongroomError:
    """Journal a request refused before it reached the gate (malformed input), and return
    the answer it gets: `err`, or the authentication's refusal when its caller cannot be
    authenticated (journaled as a security event), so an unauthenticated client learns
    nothing about what a route would accept."""
    try:
        who = caller(request)
    except StrongroomError as refused:
        return refused
    _service(request).pipeline.record_refusal(who, endpoint_of(request), err)
    return err


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
    """Mount a handler at the endpoint's method and path, as one trip to the thread pool
    (`one_trip`). The handler itself is returned unchanged."""

    def mount(handler: Callable[..., Any]) -> Callable[..., Any]:
        router.add_api_route(
            endpoint.path,
            one_trip(handler, options.get("status_code", 200)),
            methods=[endpoint.method],
            response_model=None,
            **options,
        )
        return handler

    return mount


def one_trip(handler: Callable[..., Any], status: int) -> Callable[..., Any]:
    """An async endpoint that runs a sync handler (and its caller's authentication) in one
    thread-pool call. FastAPI would take three trips for a sync handler with a sync
    dependency and a return type: the dependency, the handler, then the validation of its
    answer; each is a hand-over to a worker thread and back to the event loop. The composed
    service and the strict query check are filled in here too, not as FastAPI dependencies:
    solving a dependency costs FastAPI more per request than the work it does. The answer
    is rendered with orjson as is (a task's body is already plain JSON data)."""
    hints = get_type_hints(handler, include_extras=True)
    signature = inspect.signature(handler)
    callers = [name for name in signature.parameters if hints.get(name) is CallerDep]
    services = [name for name in signature.parameters if hints.get(name) is ServiceDep]
    params = [
        p.replace(annotation=hints.get(p.name, p.annotation))
        for p in signature.parameters.values()
        if p.name not in callers and p.name not in services
    ]
    # FastAPI fills one Response parameter per endpoint: the handler's own when it has one.
    response_name = next((p.name for p in params if p.annotation is Response), _RESPONSE)
    if response_name == _RESPONSE:
        params.append(_param(_RESPONSE, Response))
    params.append(_param(_REQUEST, Request))
    declared: set[str] | None = None  # the route's query parameters, read on first use

    async def endpoint(**kwargs: Any) -> Response:
        nonlocal declared
        request: Request = kwargs.pop(_REQUEST)
        response: Response = (
            kwargs.pop(_RESPONSE) if response_name == _RESPONSE else kwargs[response_name]
        )
        if declared is None:
            declared = declared_query(request)
        unknown = sorted(set(request.query_params) - declared) if request.query_params else []
        if services:
            kwargs.update(dict.fromkeys(services, _service(request)))

        def call() -> Any:
            if unknown:
                # No filter, sort or wildcard can be smuggled in beside the ones the
                # policy allows.
                raise journal_rejected(
                    request,
                    BadRequest(
                        f"unknown query parameter(s): {', '.join(unknown)}",
                        reason="unknown_parameter",
                    ),
                )
            if callers:
                who = caller(request)
                kwargs.update(dict.fromkeys(callers, who))
            return handler(**kwargs)

        result = await anyio.to_thread.run_sync(call)
        if isinstance(result, Response):
            return result
        return Response(
            orjson.dumps(result, default=_plain),
            status_code=response.status_code or status,
            headers=dict(response.headers),
            media_type="application/json",
        )

    endpoint.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=_ordered(params), return_annotation=Response
    )
    endpoint.__name__ = handler.__name__
    endpoint.__qualname__ = handler.__qualname__
    endpoint.__doc__ = handler.__doc__
    return endpoint


_REQUEST = "_strongroom_request"
_RESPONSE = "_strongroom_response"


def _param(name: str, annotation: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)


def _ordered(params: list[inspect.Parameter]) -> list[inspect.Parameter]:
    """Keyword-only parameters last (a signature refuses them before positional ones)."""
    kinds = inspect.Parameter.KEYWORD_ONLY
    return [p for p in params if p.kind != kinds] + [p for p in params if p.kind == kinds]


def _plain(value: Any) -> Any:
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON data")


def declared_query(request: Request) -> set[str]:
    """The query parameters the route a request reached declares (their aliases)."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    return set() if dependant is None else {p.alias for p in _all_query_params(dependant)}


def _all_query_params(dependant: Any) -> list[Any]:
    found = list(dependant.query_params)
    for sub in dependant.dependencies:
        found.extend(_all_query_params(sub))
    return found
