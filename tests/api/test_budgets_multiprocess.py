"""Budgets across real server processes: two uvicorn workers sharing one Redis enforce one
budget between them (a principal's, and the door's per-prefix budget, reserved on the event
loop), and a worker whose Redis is gone fails closed (503 problem+json), then serves again
when Redis is back."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from strongroom.cli.seeding import seed_home
from strongroom.compose import compose
from strongroom.config import Home
from strongroom.initialize import initialize
from tests.budgets.test_budgets_redis_outage import PrivateRedis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`strongroom serve` in a subprocess on a free loopback port."""

    def __init__(self, home: Path) -> None:
        self.port = free_port()
        env = {**os.environ, "STRONGROOM_HOME": str(home)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "strongroom.cli.main", "serve", "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        for _ in range(300):  # readiness poll, not a timing assertion
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def make_home(path: Path, redis_url: str, prefix: str) -> tuple[Home, str, str]:
    home = Home(path)
    initialize(home, redis_url=redis_url)
    home.update_config(redis_prefix=prefix)
    report = seed_home(home, persons=150, seed=11)
    svc = compose(home)
    try:
        officer = svc.admin.add_principal(role="police", label="shared budget test")
        token = svc.token_issuer.issue(role="police", subject=officer, lifetime=3600)
    finally:
        svc.close()
    return home, token, report.fixtures["weapon_serial"]


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    value = f"srtest:{uuid.uuid4().hex[:10]}:"
    yield value
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=value + "*"):
        client.delete(key)
    client.close()


def test_two_workers_share_one_budget(tmp_path: Path, redis_url: str, prefix: str) -> None:
    home, token, serial = make_home(tmp_path / "home", redis_url, prefix)
    servers = [Server(home.path), Server(home.path)]
    try:
        headers = {"Authorization": f"Bearer {token}"}
        statuses: list[int] = []
        for i in range(130):
            server = servers[i % 2]
            r = httpx.post(
                f"{server.url}/v1/weapons/lookup",
                json={"serial": serial},
                headers=headers,
                timeout=10,
            )
            statuses.append(r.status_code)
            if r.status_code != 200:
                break
    finally:
        for s in servers:
            s.stop()
    # 60 requests a minute per principal: one budget between both workers stops the pull
    # near 60 requests; two separate budgets would have let about 120 through.
    assert statuses[-1] in (429, 403), statuses
    assert statuses.count(200) <= 60
    assert r.headers["content-type"].startswith("application/problem+json")


def test_two_workers_share_the_doors_prefix_budget(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    home, _, _ = make_home(tmp_path / "home", redis_url, prefix)
    home.update_config(trusted_proxies=["127.0.0.1"])
    limit = 300  # the default policy's ip_prefix_requests_minute
    servers = [Server(home.path), Server(home.path)]
    try:
        statuses: list[int] = []
        with httpx.Client(timeout=10) as client:
            for i in range(limit + 20):
                r = client.get(
                    f"{servers[i % 2].url}/v1/me",
                    headers={"X-Forwarded-For": f"203.0.113.{i % 200 + 1}"},  # one /24
                )
                statuses.append(r.status_code)
    finally:
        for s in servers:
            s.stop()
    # No token: 401 at the door while the prefix has requests left, then 429 from both
    # workers. Two separate budgets would have answered 320 times 401.
    assert statuses[:limit] == [401] * limit, sorted(set(statuses[:limit]))
    assert statuses[limit:] == [429] * 20
    assert r.headers["content-type"].startswith("application/problem+json")


def test_worker_fails_closed_without_redis_and_recovers(tmp_path: Path) -> None:
    private = PrivateRedis()
    private.start()
    try:
        home, token, serial = make_home(tmp_path / "home", private.url, "sr:")
        server = Server(home.path)
        try:
            headers = {"Authorization": f"Bearer {token}"}
            url = f"{server.url}/v1/weapons/lookup"
            body = {"serial": serial}
            assert httpx.post(url, json=body, headers=headers, timeout=10).status_code == 200
            private.stop()
            down = httpx.post(url, json=body, headers=headers, timeout=10)
            assert down.status_code == 503, down.text
            assert down.headers["content-type"].startswith("application/problem+json")
            assert "Traceback" not in down.text
            private.start()
            back = httpx.post(url, json=body, headers=headers, timeout=10)
            assert back.status_code == 200, back.text
        finally:
            server.stop()
    finally:
        private.stop()
