"""What happens to a request before anyone looks at its token: the door and admission.

Both are ASGI middleware running on the event loop, so a refusal costs neither a thread nor
a database connection:

- `Door`: the policy's IP-address and IP-prefix request budgets (those that apply to every
  role and endpoint) are counted here, before token validation: an unauthenticated flood
  is refused at the price of a budget lookup, 429 with the budget's name. The shared
  store's round trip is awaited (`Budgets.reserve_requests`), so the loop is not held. An
  API request without an Authorization header is refused here too (401, the resource
  server's answer), and so is one whose credentials the resource server has just refused
  (`RefusedCredentials`).
- `Admission`: at most `limit` requests are served at once (the worker's thread pool and
  its registry connections are sized to match); up to `queue` more wait at most
  `max_wait` seconds for a place; any other gets 503 with `Retry-After` at once. A burst
  beyond what the worker can hold is answered, never left to time out on a pool.

Each refusal is journaled as a security event without waiting for its commit (a flood of
them is tallied by the journal, exactly).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from strongroom.api.deps import RefusedCredentials, peer_ip
from strongroom.api.problems import problem_bytes
from strongroom.auth.resource_server import no_credentials
from strongroom.budgets import BudgetKeys, Budgets
from strongroom.endpoints import name_of
from strongroom.errors import StrongroomError, TooManyRequests, Unavailable
from strongroom.gate import Pipeline

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

API_PREFIX = "/v1/"
# Process liveness, readiness and the metrics scrape are never queued or budgeted: they
# matter most when the service is overloaded.
EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})


async def send_problem(send: Send, err: StrongroomError, path: str) -> None:
    body = problem_bytes(err, instance=path)
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    headers += [(k.lower().encode(), str(v).encode()) for k, v in err.headers.items()]
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Door:
    def __init__(
        self,
        app: ASGIApp,
        *,
        budgets: Budgets,
        pipeline: Pipeline,
        trusted_proxies: tuple[str, ...] | list[str],
        refused: RefusedCredentials,
    ) -> None:
        self.app = app
        self.budgets = budgets
        self.pipeline = pipeline
        self.trusted_proxies = trusted_proxies
        self.refused = refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT or not self.budgets.specs:
            await self.app(scope, receive, send)
            return
        ip = peer_ip(scope, self.trusted_proxies)
        try:
            await self.budgets.reserve_requests(BudgetKeys(principal="anonymous", ip=ip))
        except (TooManyRequests, Unavailable) as exc:
            self.pipeline.record_security(
                None,
                name_of(scope["method"], scope["path"]),
                reason=exc.reason or exc.slug,
                ip=ip,
                detail={"budget": exc.extra.get("budget")} if exc.extra.get("budget") else None,
            )
            await send_problem(send, exc, scope["path"])
            return
        if scope["path"].startswith(API_PREFIX):
            if not _has_authorization(scope):
                # Every API route needs a token: refused here, without a thread or a lookup.
                err = no_credentials()
                self.pipeline.record_security(
                    None, name_of(scope["method"], scope["path"]), reason="missing_token", ip=ip
                )
                await send_problem(send, err, scope["path"])
                return
            # (no digest of the headers while nothing is held: the allowed requests' case)
            held = self.refused.refusal(RefusedCredentials.key(scope)) if self.refused else None
            if held is not None:
                # journaled as deps.caller journals the refusal it repeats
                self.pipeline.record_security(
                    None,
                    name_of(scope["method"], scope["path"]),
                    reason=held.reason or "unauthorized",
                    ip=ip,
                )
                await send_problem(send, held, scope["path"])
                return
        await self.app(scope, receive, send)


def _has_authorization(scope: Scope) -> bool:
    return any(key == b"authorization" for key, _ in scope.get("headers", ()))


class Admission:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        queue: int,
        max_wait: float,
        pipeline: Pipeline,
        trusted_proxies: tuple[str, ...] | list[str],
    ) -> None:
        if limit < 1 or queue < 0 or max_wait < 0:
            raise ValueError("admission needs limit >= 1, queue >= 0, max_wait >= 0")
        self.app = app
        self.limit = limit
        self.queue = queue
        self.max_wait = max_wait
        self.pipeline = pipeline
        self.trusted_proxies = trusted_proxies
        self.active = 0
        self.waiting = 0
        self._places: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        if self._places is None:  # made on the server's own event loop
            self._places = asyncio.Semaphore(self.limit)
        places = self._places
        if places.locked():
            if self.waiting >= self.queue or not await self._wait(places):
                await self._busy(scope, send)
                return
        else:
            await places.acquire()
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1
            places.release()

    async def _wait(self, places: asyncio.Semaphore) -> bool:
        self.waiting += 1
        try:
            await asyncio.wait_for(places.acquire(), self.max_wait)
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1
        return True

    async def _busy(self, scope: Scope, send: Send) -> None:
        err = Unavailable(
            "the service is at capacity; retry shortly",
            reason="overloaded",
            headers={"Retry-After": "1"},
        )
        self.pipeline.record_security(
            None,
            name_of(scope["method"], scope["path"]),
            reason="overloaded",
            ip=peer_ip(scope, self.trusted_proxies),
        )
        await send_problem(send, err, scope["path"])
