"""Fail closed: with its Redis down, a budget refuses (503), never waves requests through;
`strict_local` instead applies a per-process share of each limit. A private redis-server is
started, stopped and restarted on the same port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from strongroom.budgets import BudgetKeys, Budgets, BudgetSpec, RedisBackend
from strongroom.clock import FakeClock
from strongroom.errors import TooManyRequests, Unavailable

KEYS = BudgetKeys(principal="p1", role="police", ip="198.51.100.7")


class PrivateRedis:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            if os.environ.get("CI"):
                pytest.fail("redis-server is required for the outage test under CI")
            pytest.skip("redis-server not installed")
        self.binary = binary
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        for _ in range(200):  # readiness, not a timing assertion
            try:
                client.ping()
                client.close()
                return
            except redis.ConnectionError:
                time.sleep(0.025)
        pytest.fail("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def specs() -> list[BudgetSpec]:
    return [
        BudgetSpec("req_min", "principal", "requests", 10, 60),
        BudgetSpec("subj_day", "principal", "subjects", 100, 86_400),
    ]


def test_redis_down_refuses_with_503_and_service_resumes(private_redis: PrivateRedis) -> None:
    clock = FakeClock()
    backend = RedisBackend(private_redis.url, prefix="sr:t:")
    b = Budgets(specs(), backend, clock)
    b.settle(b.reserve(KEYS), 0, ["s1"])
    private_redis.stop()
    for _ in range(3):
        with pytest.raises(Unavailable) as info:
            b.reserve(KEYS)
        assert info.value.status == 503
        assert not isinstance(info.value.__cause__, Unavailable)  # translated from redis
    private_redis.start()  # same port, empty: nothing saved
    r = b.reserve(KEYS)
    b.settle(r, 0, ["s2"])
    assert {row["budget"]: row["used"] for row in b.state("p1")["budgets"]} == {
        "req_min": 1,
        "subj_day": 1,
    }
    backend.close()


def test_settle_during_an_outage_is_unavailable_too(private_redis: PrivateRedis) -> None:
    b = Budgets(specs(), RedisBackend(private_redis.url, prefix="sr:t:"), FakeClock())
    r = b.reserve(KEYS)
    private_redis.stop()
    with pytest.raises(Unavailable):
        b.settle(r, 0, ["s1"])


def test_strict_local_fallback_applies_a_per_worker_share(private_redis: PrivateRedis) -> None:
    clock = FakeClock()
    b = Budgets(
        specs(),
        RedisBackend(private_redis.url, prefix="sr:t:"),
        clock,
        fallback="strict_local",
        workers=4,
    )
    private_redis.stop()
    served = 0
    for _ in range(10):
        try:
            b.settle(b.reserve(KEYS), 0, [f"s{served}"])
            served += 1
        except TooManyRequests as exc:
            assert exc.extra["budget"] == "req_min"
    assert served == 10 // 4  # never the full shared limit, never unlimited
    state = b.state("p1")
    assert state["degraded"] is True
    assert {row["budget"]: (row["used"], row["limit"]) for row in state["budgets"]} == {
        "req_min": (2, 2),
        "subj_day": (2, 25),
    }
    private_redis.start()
    for _ in range(10):  # shared budgets again, with the full limit
        b.reserve(KEYS)
    assert b.degraded is False
    assert b.state("p1")["budgets"][0]["used"] == 10
