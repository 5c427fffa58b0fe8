"""ASGI entry point for uvicorn (`strongroom serve`): builds the service from
STRONGROOM_HOME in each worker process."""

from __future__ import annotations

from fastapi import FastAPI

from strongroom.api.app import create_app
from strongroom.config import Home


def create() -> FastAPI:
    from strongroom.compose import compose

    return create_app(compose(Home.from_env()), close_on_shutdown=True)
