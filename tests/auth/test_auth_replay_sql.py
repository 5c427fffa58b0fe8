"""The SQL DPoP replay cache (auth/replay_sql.py) on SQLite and PostgreSQL: workers racing
on one proof let exactly one through, a key is refused until its window has passed, the
sweep removes only what expired, and a database that cannot answer fails closed."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from strongroom.auth.replay_sql import SqlReplayCache
from strongroom.auth.store import metadata, seen_proofs
from strongroom.clock import FakeClock
from strongroom.errors import Unavailable
from strongroom.registry.db import make_engine


@pytest.fixture
def engine(db_url: str) -> sa.Engine:
    e = make_engine(db_url)
    metadata.create_all(e)
    yield e
    e.dispose()


def test_workers_racing_on_one_proof_let_exactly_one_through(
    db_url: str, engine: sa.Engine
) -> None:
    # Each "worker" has an engine (a pool of connections) of its own, as processes do.
    workers = [make_engine(db_url) for _ in range(4)]
    caches = [SqlReplayCache(w, FakeClock()) for w in workers]
    try:
        for round_ in range(10):
            key = f"{round_:064x}"
            barrier = threading.Barrier(8)

            def add(i: int, key: str = key, barrier: threading.Barrier = barrier) -> bool:
                barrier.wait()
                return caches[i % len(caches)].add(key, 70)

            with ThreadPoolExecutor(8) as pool:
                results = list(pool.map(add, range(8)))
            assert results.count(True) == 1, (round_, results)
    finally:
        for w in workers:
            w.dispose()


def test_a_key_is_refused_until_its_window_has_passed(engine: sa.Engine) -> None:
    clock = FakeClock()
    cache = SqlReplayCache(engine, clock)
    assert cache.add("k" * 64, 70) is True
    assert cache.add("k" * 64, 70) is False
    assert SqlReplayCache(engine, clock).add("k" * 64, 70) is False  # another process, or a restart
    clock.advance(69)
    assert cache.add("k" * 64, 70) is False
    clock.advance(2)
    assert cache.add("k" * 64, 70) is True  # taken again, for a new window
    assert cache.add("k" * 64, 70) is False


def test_the_sweep_removes_only_expired_keys(engine: sa.Engine) -> None:
    clock = FakeClock()
    cache = SqlReplayCache(engine, clock, sweep_seconds=60)
    for i in range(50):
        assert cache.add(f"old{i}", 10)
    clock.advance(30)
    assert cache.add("young", 70)
    clock.advance(31)  # a minute since the first add's sweep: this add sweeps
    assert cache.add("newest", 70)
    with engine.connect() as conn:
        keys = set(conn.execute(sa.select(seen_proofs.c.key)).scalars())
    assert keys == {"young", "newest"}
    assert cache.add("young", 70) is False  # what stays still counts


def test_a_database_that_cannot_answer_fails_closed(tmp_path) -> None:  # noqa: ANN001
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no table: every add fails
    try:
        with pytest.raises(Unavailable):
            SqlReplayCache(engine, FakeClock()).add("k" * 64, 70)
    finally:
        engine.dispose()
