"""Request IDs through the app: every answer names its request in X-Request-ID, the journal
entry of that request carries the same ID, and so does every log line written while it is
served, in the event loop or in the worker thread that ran its task. An inbound ID is kept
only from a trusted proxy, and only when it looks like a generated one."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from strongroom.api.app import create_app
from strongroom.cli.seeding import seed_home
from strongroom.compose import Service, compose
from strongroom.config import Home
from strongroom.initialize import initialize
from strongroom.logs import JsonFormatter

PROXY = "10.0.0.5"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, str]]:
    home = Home(tmp_path_factory.mktemp("ids") / "home")
    initialize(home)
    owner = seed_home(home, persons=40, seed=6).fixtures["owner_id"]
    svc = compose(home)
    svc.settings = replace(svc.settings, trusted_proxies=(PROXY + "/32",))
    try:
        yield svc, svc.token_issuer.issue(role="owner", subject=owner, lifetime=3600)
    finally:
        svc.close()


def client(svc: Service, peer: str = "127.0.0.1", **kw: Any) -> TestClient:
    return TestClient(create_app(svc), client=(peer, 40000), **kw)


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def lines() -> Iterator[list[str]]:
    handler = Lines()
    root = logging.getLogger("strongroom")
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_the_journal_entry_of_a_request_carries_its_id(stack: tuple[Service, str]) -> None:
    svc, token = stack
    c = client(svc)
    ok = c.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    refused = c.get("/v1/me")  # the door's 401, journaled without waiting
    assert (ok.status_code, refused.status_code) == (200, 401)
    assert ok.headers["x-request-id"] != refused.headers["x-request-id"]
    svc.journal.flush()
    size = svc.journal.size()
    by_id = {
        e["detail"].get("request_id"): e
        for e in (svc.journal.entry(i) for i in range(max(0, size - 10), size))
    }
    allowed = by_id[ok.headers["x-request-id"]]
    assert allowed["endpoint"] == "GET /v1/me" and allowed["outcome"] == "allowed"
    security = by_id[refused.headers["x-request-id"]]
    assert security["reason"] == "missing_token" and security["kind"] == "security"


def test_an_inbound_id_is_kept_only_from_a_trusted_proxy(stack: tuple[Service, str]) -> None:
    svc, _ = stack
    sane = "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"

    def answered(peer: str, value: str) -> str:
        r = client(svc, peer).get("/healthz", headers={"X-Request-ID": value})
        return r.headers["x-request-id"]

    assert answered(PROXY, sane) == sane
    assert answered(PROXY, "a" * 32) == "a" * 32  # nginx's $request_id
    assert answered("203.0.113.9", sane) != sane  # anyone else's is replaced
    for insane in ("Dupont Jean 1975-04-21", "SN-48213-X", "0" * 65, "abc", "0f8e\r\nx"):
        kept = answered(PROXY, insane)
        assert kept != insane and len(kept) == 32 and int(kept, 16) >= 0


def test_lines_logged_while_a_request_is_served_carry_its_id(
    stack: tuple[Service, str], lines: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    svc, token = stack
    gate_log = logging.getLogger("strongroom.gate")
    observe = svc.pipeline.observe

    def observed(event: Any) -> None:
        gate_log.info("observed in the task's thread")
        observe(event)

    monkeypatch.setattr(svc.pipeline, "observe", observed)
    r = client(svc).get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    request_id = r.headers["x-request-id"]
    parsed = [json.loads(line) for line in lines]
    thread_line = next(p for p in parsed if p["msg"] == "observed in the task's thread")
    assert thread_line["request_id"] == request_id
    access = next(p for p in parsed if p["logger"] == "strongroom.access")
    assert access["request_id"] == request_id
    assert (access["route"], access["status"]) == ("/v1/me", 200)


def test_an_unexpected_error_is_a_500_naming_its_request_never_the_value(
    stack: tuple[Service, str], lines: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    svc, token = stack

    def broken(who: Any) -> Any:
        raise KeyError("SN-48213-X")

    monkeypatch.setattr(svc.registry_tasks, "me", broken)
    r = client(svc, raise_server_exceptions=False).get(
        "/v1/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/problem+json")
    request_id = r.headers["x-request-id"]
    parsed = [json.loads(line) for line in lines]
    mine = [p for p in parsed if p.get("request_id") == request_id]
    assert any(p["logger"] == "strongroom.access" and p["status"] == 500 for p in mine)
    assert any(p["msg"] == "unhandled KeyError on GET /v1/me" for p in mine)
    assert all("SN-48213-X" not in line for line in lines)
