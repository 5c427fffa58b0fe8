"""What the operator sees of the traffic: request IDs, request metrics, the access log, and
the scrape endpoint (`GET /metrics`).

`Observe` is the outermost middleware (before the door and admission, so their refusals
are counted and carry an ID too). Each request gets an ID: the `X-Request-ID` a trusted
proxy sent, if it looks like one (hex and hyphens: nginx's `$request_id`, a UUID), or a
new one. It is returned in `X-Request-ID`, held in `context.REQUEST_ID` while the request
is served (log lines and journal entries carry it), and names the request's access-log
line. The line and the metrics name the route template (`/v1/persons/{id}`), never the
path: a path can hold an ID. A request still running when a stopping server's grace runs
out (`shutdown_grace_seconds`) is cut off; uvicorn answers it 500 and it is journaled as
such, so every answer the server gave has its journal entry.

`/metrics` is for the operator's scraper, not behind the API's OAuth: it is answered only
to a peer in `metrics_allow` (loopback by default). A request relayed by a proxy is judged
by the client address a trusted proxy passes on, and refused when the proxy is not
trusted: a reverse proxy on loopback would otherwise open the metrics to whomever it
serves.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute, Match

from strongroom import metrics
from strongroom.api.admission import ASGIApp, Message, Receive, Scope, Send
from strongroom.api.deps import peer_ip
from strongroom.compose import Service
from strongroom.config import Settings
from strongroom.context import REQUEST_ID
from strongroom.endpoints import name_of
from strongroom.errors import Forbidden, StrongroomError
from strongroom.gate import Pipeline
from strongroom.netaddr import in_networks

access_log = logging.getLogger("strongroom.access")
log = logging.getLogger("strongroom.api")

HEADER = b"x-request-id"
# What a proxy's generated ID looks like. Anything else could be text a client asked a
# careless proxy to pass on, and it would land in every log line of the request.
SANE_ID = re.compile(rb"[0-9A-Fa-f][0-9A-Fa-f-]{15,63}")
UNROUTED = "(unrouted)"
UNROUTED_KEPT = 4096
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Observe:
    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[BaseRoute],
        trusted_proxies: tuple[str, ...],
        access_log: bool = True,
        pipeline: Pipeline | None = None,
    ) -> None:
        self.app = app
        self.pipeline = pipeline
        self.routes = routes
        self.trusted_proxies = trusted_proxies
        self.access_log = access_log
        # The route templates of requests refused before routing, by method and path (a
        # flood asks for a few paths again and again), and each series' metric children:
        # both lookups cost more than the rest of a refusal's bookkeeping.
        self._unrouted: dict[tuple[str, str], str] = {}
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = self.request_id(scope)
        header = (HEADER, request_id.encode("ascii"))
        token = REQUEST_ID.set(request_id)
        status = 500  # unless an answer starts: an exception reaches the server as a 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except asyncio.CancelledError:
            # Cut off: the server stopped waiting for it (shutdown_grace_seconds passed).
            # uvicorn answers 500 if nothing was sent; the journal says why.
            self.cut_off(scope)
            self.record(scope, status, started)
            raise
        except Exception:
            # The ID stays set: the server's error handler and its log line are this
            # request's too (each request is served in its own task and context).
            self.record(scope, status, started)
            raise
        self.record(scope, status, started)
        REQUEST_ID.reset(token)

    def cut_off(self, scope: Scope) -> None:
        if self.pipeline is None:
            return
        try:
            self.pipeline.record_security(
                None,
                name_of(scope["method"], scope["path"]),
                reason="cut_off_at_shutdown",
                ip=peer_ip(scope, self.trusted_proxies),
            )
        except StrongroomError:
            log.warning("a request cut off at shutdown could not be journaled")

    def request_id(self, scope: Scope) -> str:
        client = scope.get("client")
        if client and in_networks(client[0], self.trusted_proxies):
            for key, value in scope.get("headers", ()):
                if key == HEADER:
                    if SANE_ID.fullmatch(value):
                        return str(value.decode("ascii"))
                    break
        return secrets.token_hex(16)

    def record(self, scope: Scope, status: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        method = scope["method"] if scope["method"] in METHODS else "OTHER"
        route = self.route(scope)
        series = self._series.get((method, route, status))
        if series is None:  # a finite set: methods, route templates, statuses
            series = (
                metrics.HTTP_REQUESTS.labels(method=method, route=route, status=str(status)),
                metrics.HTTP_DURATION.labels(method=method, route=route),
            )
            self._series[(method, route, status)] = series
        series[0].inc()
        series[1].observe(elapsed)
        if self.access_log and access_log.isEnabledFor(logging.INFO):
            ms = round(elapsed * 1000, 1)
            access_log.info(
                "%s %s %d %.1f ms",
                method,
                route,
                status,
                ms,
                extra={"method": method, "route": route, "status": status, "duration_ms": ms},
            )

    def route(self, scope: Scope) -> str:
        path = getattr(scope.get("route"), "path", None)
        if isinstance(path, str):
            return path
        key = (str(scope["method"]), str(scope["path"]))
        found = self._unrouted.get(key)
        if found is None:
            found = route_of(scope, self.routes)
            if len(self._unrouted) >= UNROUTED_KEPT:  # paths can hold IDs: bounded
                self._unrouted.clear()
            self._unrouted[key] = found
        return found


def route_of(scope: Scope, routes: Sequence[BaseRoute]) -> str:
    """The template of the route a request reached, or would have (a request the door or
    admission refused was never routed), or "(unrouted)"."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return str(getattr(route, "path", UNROUTED))
        if match == Match.PARTIAL and partial is None:
            partial = str(getattr(route, "path", UNROUTED))
    return partial or UNROUTED


def may_scrape(scope: Scope, settings: Settings) -> bool:
    client = scope.get("client")
    peer = client[0] if client else None
    names = {key for key, _ in scope.get("headers", ())}
    forwarded_for = b"x-forwarded-for" in names
    if (forwarded_for or b"forwarded" in names) and not (
        forwarded_for and in_networks(peer, settings.trusted_proxies)
    ):
        return False
    return in_networks(peer_ip(scope, settings.trusted_proxies), settings.metrics_allow)


router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def scrape(request: Request) -> Response:
    svc: Service = request.app.state.service
    if not may_scrape(request.scope, svc.settings):
        svc.pipeline.record_security(
            None,
            "GET /metrics",
            reason="metrics_not_allowed",
            ip=peer_ip(request.scope, svc.settings.trusted_proxies),
        )
        raise Forbidden(
            "metrics are answered only to the networks in metrics_allow (config.toml)",
            reason="metrics_not_allowed",
        )
    collectors: list[Collector] = [metrics.JournalSize(svc.journal.size)]
    pusher = getattr(request.app.state, "witness_pusher", None)
    if pusher is not None:
        collectors.append(metrics.WitnessLag(pusher.lag))
    body = metrics.scrape(*collectors)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
