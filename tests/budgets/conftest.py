"""One contract, every backend: `backend` is a MemoryBackend or a RedisBackend on the real
Redis under a unique prefix (its keys are deleted afterwards)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from strongroom.budgets import Backend, MemoryBackend, RedisBackend


def _redis_backend(request: pytest.FixtureRequest, **kw: object) -> Iterator[RedisBackend]:
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    backend = RedisBackend(url, prefix=prefix, **kw)  # type: ignore[arg-type]
    try:
        yield backend
    finally:
        keys = list(backend.client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            backend.client.delete(*keys)
        backend.close()


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "memory":
        yield MemoryBackend()
    else:
        yield from _redis_backend(request)


@pytest.fixture
def redis_backend(request: pytest.FixtureRequest) -> Iterator[RedisBackend]:
    yield from _redis_backend(request)


@pytest.fixture
def hll_backend(request: pytest.FixtureRequest) -> Iterator[RedisBackend]:
    """Redis counting subjects with HyperLogLogs above a limit of 50."""
    yield from _redis_backend(request, exact_subjects_max=50)
