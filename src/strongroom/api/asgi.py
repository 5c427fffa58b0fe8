"""ASGI entry point for uvicorn (`strongroom serve`): builds the service from
STRONGROOM_HOME in each worker process."""

from __future__ import annotations

from fastapi import FastAPI

from strongroom.api.app import create_app
from strongroom.config import Home


def create() -> FastAPI:
    from strongroom.compose import compose

    service = compose(Home.from_env())
    app = create_app(service)

    @app.on_event("shutdown")
    def _close() -> None:  # pragma: no cover - exercised by process shutdown
        service.close()

    return app
