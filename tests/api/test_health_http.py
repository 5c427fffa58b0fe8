"""Liveness and readiness over HTTP: /readyz names a failing dependency and nothing more."""

from __future__ import annotations

from pathlib import Path

from tests.deployment import build_deployment
from tests.served import free_port


def test_ready_when_everything_answers_and_not_when_redis_does_not(tmp_path: Path) -> None:
    dep = build_deployment(tmp_path / "home", persons=40)
    try:
        assert dep.client.get("/healthz").json() == {"status": "ok"}
        ready = dep.client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"registry": "ok", "journal": "ok", "keys": "ok"}
    finally:
        dep.client.close()
        dep.service.close()
    # The same home, now told to share state in a Redis that is not there.
    dead = f"redis://127.0.0.1:{free_port()}/0"
    dep.home.update_config(redis_url=dead)
    from fastapi.testclient import TestClient

    from strongroom.api.app import create_app
    from strongroom.compose import compose

    svc = compose(dep.home, clock=dep.clock)
    try:
        client = TestClient(create_app(svc))
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"]["redis"] == "failing"
        assert r.json()["checks"]["registry"] == "ok"
        assert dead not in r.text and "Connection" not in r.text
        assert client.get("/healthz").status_code == 200  # alive, not ready
    finally:
        svc.close()
