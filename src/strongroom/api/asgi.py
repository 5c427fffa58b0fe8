"""ASGI entry point for uvicorn (`strongroom serve`): builds the service from
STRONGROOM_HOME in each worker process, reached at STRONGROOM_PUBLIC_URL (set by `serve`
to the address it listens on)."""

from __future__ import annotations

import os

from fastapi import FastAPI

from strongroom.api.app import create_app
from strongroom.config import Home


def create() -> FastAPI:
    from strongroom.compose import compose

    public_url = os.environ.get("STRONGROOM_PUBLIC_URL") or None
    return create_app(
        compose(Home.from_env(), public_url=public_url, remember=True), close_on_shutdown=True
    )
