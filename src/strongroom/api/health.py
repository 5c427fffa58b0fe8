"""Liveness and readiness for load balancers and orchestrators.

`GET /healthz`: the process answers. `GET /readyz`: this worker can serve: the registry and
the journal answer, Redis answers when the deployment shares state there, and the key files
are readable. A failing check names itself, never its error (no connection strings, no
paths); the logs have the type.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from strongroom.compose import Service

log = logging.getLogger("strongroom.api.health")

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    svc: Service = request.app.state.service
    checks = readiness(svc)
    ready = all(checks.values())
    body = {
        "status": "ready" if ready else "not ready",
        "checks": {k: "ok" if v else "failing" for k, v in checks.items()},
    }
    return JSONResponse(
        body, status_code=200 if ready else 503, headers={"Cache-Control": "no-store"}
    )


def readiness(svc: Service) -> dict[str, bool]:
    probes: dict[str, Callable[[], Any]] = {
        "registry": lambda: _select_one(svc.engine),
        "journal": svc.journal.size,
        "keys": lambda: _readable(svc.home.keys_dir),
    }
    if svc.settings.redis_url:
        import redis

        def ping() -> Any:
            client = redis.Redis.from_url(
                svc.settings.redis_url or "", socket_timeout=1, socket_connect_timeout=1
            )
            try:
                return client.ping()
            finally:
                client.close()

        probes["redis"] = ping
    out = {}
    for name, probe in probes.items():
        try:
            probe()
            out[name] = True
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            log.warning("readiness check %s failing: %s", name, type(exc).__name__)
            out[name] = False
    return out


def _select_one(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))


def _readable(keys_dir: Any) -> None:
    for name in os.listdir(keys_dir):
        with open(os.path.join(keys_dir, name), "rb") as f:
            f.read(1)
