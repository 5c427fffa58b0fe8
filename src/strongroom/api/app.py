"""The HTTP adapter. Routes parse and call the gate; nothing here touches storage.

`create_app(service)` builds the FastAPI application around a composed `Service`
(`strongroom.compose`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount, Route

from strongroom import __version__
from strongroom.api.admission import Admission, Door
from strongroom.api.deps import RefusedCredentials, endpoint_of, journal_rejected
from strongroom.api.observe import Observe
from strongroom.api.openapi_docs import declare_security, serve_docs
from strongroom.api.problems import problem_response
from strongroom.auth.issuers import TrustedIssuers
from strongroom.auth.oidc_external import ExternalIssuer
from strongroom.compose import Service
from strongroom.context import REQUEST_ID
from strongroom.errors import (
    BadRequest,
    InternalError,
    MethodNotAllowed,
    NotFound,
    StrongroomError,
    Unauthorized,
)
from strongroom.registry.errors import StorageUnavailable

log = logging.getLogger("strongroom.api")

WITNESS_TIMEOUT = 10.0  # seconds a witness has to answer a round's submission
FINAL_ROUND_SECONDS = 5.0  # at most, for the checkpoint signed at a stop


def create_app(service: Service, *, close_on_shutdown: bool = False) -> FastAPI:
    """The application over `service`. A served process passes `close_on_shutdown`, so the
    journal's tail is committed and signed when the server stops."""
    settings = service.settings

    @contextlib.asynccontextmanager
    async def lifespan(served_app: FastAPI) -> AsyncIterator[None]:
        # Sync routes and dependencies run in this pool: as many threads as requests
        # admitted at once, so none waits for a thread while holding a place.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.max_inflight
        verifier = service.resource_server.tokens
        trusted = verifier.verifiers.values() if isinstance(verifier, TrustedIssuers) else ()
        externals = [v for v in trusted if isinstance(v, ExternalIssuer)]
        for external in externals if close_on_shutdown else []:
            # A discovery naming another issuer stops the server here, not at each request.
            try:
                await anyio.to_thread.run_sync(external.check_at_start)
            except Exception:
                service.close()
                raise
        every = service.policy.policy.analytics.refresh_seconds
        scheduler = None
        if close_on_shutdown and every:
            # A served process refreshes the analytics release on the policy's schedule;
            # an app built for tests or tools never does behind their back.
            from strongroom.analytics.schedule import AnalyticsScheduler

            scheduler = AnalyticsScheduler(service.analytics, every, service.clock)
            scheduler.start()
        pusher = None
        if close_on_shutdown and settings.witnesses:
            # Each new checkpoint goes to the witnesses from a thread of its own: a slow or
            # absent witness never holds a request.
            # Several workers or nodes on one registry: the one holding the lease sends.
            from strongroom.journal.lease import Lease
            from strongroom.journal.witness import WitnessPusher, witness_specs

            every = settings.witness_interval_seconds
            pusher = WitnessPusher(
                service.journal,
                witness_specs(settings.witnesses),
                every,
                timeout=WITNESS_TIMEOUT,
                lease=Lease(service.engine, "witness-push", ttl=3 * every + WITNESS_TIMEOUT),
            )
            pusher.start()
        served_app.state.witness_pusher = pusher
        yield
        if pusher is not None:
            pusher.stop()
        if scheduler is not None:
            scheduler.stop()
        if close_on_shutdown:
            final = None
            if pusher is not None:
                # The checkpoint signed at the stop goes out now, not at the next start;
                # briefly: an orchestrator's SIGKILL follows the grace.
                within = min(FINAL_ROUND_SECONDS, settings.shutdown_grace_seconds)
                final = functools.partial(pusher.final_round, max(1.0, within))
            service.close(tail_signed=final)

    app = FastAPI(
        lifespan=lifespan,
        docs_url=None,  # served by serve_docs, from local assets
        redoc_url=None,
        title="Strongroom registry API",
        version=__version__,
        description=(
            "A registry API built so that bulk extraction is hard while it happens and "
            "useless after. Every route goes through the gate: purpose, budgets, masking, "
            "journal, detection. Errors are RFC 9457 problem+json."
        ),
    )
    app.state.service = service
    app.state.refused_credentials = RefusedCredentials()

    @app.exception_handler(StrongroomError)
    async def strongroom_error(request: Request, exc: StrongroomError) -> JSONResponse:
        return problem_response(exc, instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def invalid_input(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        err = BadRequest(
            "the request is not valid: "
            + "; ".join(f"{'.'.join(p['loc'])}: {p['msg']}" for p in problems),
            reason="invalid_input",
            extra={"errors": problems},
        )
        answer = await anyio.to_thread.run_sync(journal_rejected, request, err)
        return problem_response(answer, instance=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        err: StrongroomError
        if exc.status_code == 404:
            err = NotFound("no such resource")
        elif exc.status_code == 405:
            allow = allowed_methods(request) or [
                m.strip() for m in (exc.headers or {}).get("Allow", "").split(",") if m.strip()
            ]
            err = MethodNotAllowed(
                f"{request.method} is not allowed here; this path accepts {', '.join(allow)}",
                headers={"Allow": ", ".join(allow)},
            )
        elif exc.status_code == 401:
            err = Unauthorized(str(exc.detail))
        else:
            err = BadRequest(str(exc.detail))
        return problem_response(err, instance=request.url.path)

    @app.exception_handler(SQLAlchemyError)
    async def storage_error(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        # Storage outside the registry's own boundary (sessions, OAuth tables): the same
        # 503 as the registry's, with the type logged and no driver message sent.
        log.error("storage error %s on %s", type(exc).__name__, endpoint_of(request))
        err = StorageUnavailable(
            "the service's storage is unavailable; try again shortly",
            reason="storage_unavailable",
            headers={"Retry-After": "1"},
        )
        return problem_response(err, instance=request.url.path)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A safety net: log the type, never the value (it may hold PII), and never a trace
        # to the client. Answered outside Observe, which cannot add the request's ID.
        log.error("unhandled %s on %s", type(exc).__name__, endpoint_of(request))
        request_id = REQUEST_ID.get()
        return problem_response(
            InternalError("the request could not be completed"),
            instance=request.url.path,
            headers={"X-Request-ID": request_id} if request_id else None,
        )

    from strongroom.api import (
        health,
        observe,
        routes_admin,
        routes_cases,
        routes_exports,
        routes_registry,
    )
    from strongroom.api.oauth_routes import make_oauth_router
    from strongroom.console.pages import make_console_router

    routers = [
        routes_registry.router,
        routes_cases.router,
        routes_admin.router,
        routes_exports.router,
        make_oauth_router(service.authorization_server, trusted_proxies=settings.trusted_proxies),
        make_console_router(service),
        health.router,
        observe.router,
    ]
    for router in routers:
        app.include_router(router)
    declare_security(app, service.policy.policy)
    serve_docs(app)
    # Every route as declared, for naming a request the door or admission refused before
    # it was routed (FastAPI's own table nests included routers in objects of its own).
    declared = [route for router in routers for route in router.routes]
    declared += [route for route in app.router.routes if isinstance(route, Route | Mount)]

    # Added last, runs first: the door refuses before admission queues.
    app.add_middleware(
        Admission,
        limit=settings.max_inflight,
        queue=settings.max_queued,
        max_wait=settings.queue_wait_seconds,
        pipeline=service.pipeline,
        trusted_proxies=settings.trusted_proxies,
    )
    app.add_middleware(
        Door,
        budgets=service.door,
        pipeline=service.pipeline,
        trusted_proxies=settings.trusted_proxies,
        refused=app.state.refused_credentials,
    )
    # Outermost: the door's and admission's refusals get an ID and are counted too.
    app.add_middleware(
        Observe,
        routes=declared,
        trusted_proxies=settings.trusted_proxies,
        access_log=settings.access_log,
        pipeline=service.pipeline,
    )
    return app


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at the request's path, for a 405's `Allow` header
    (RFC 9110 section 15.5.6). Starlette's own header names only the first route that
    matched the path, and a path such as /v1/cases is served by one route per method; so
    each method is tried against the router (FastAPI's GET routes do not answer HEAD)."""
    routes = request.app.router.routes
    allowed = []
    for method in _METHODS:
        scope = {
            "type": "http",
            "path": request.scope["path"],
            "root_path": request.scope.get("root_path", ""),
            "method": method,
        }
        if any(route.matches(dict(scope))[0] == Match.FULL for route in routes):
            allowed.append(method)
    return allowed


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
