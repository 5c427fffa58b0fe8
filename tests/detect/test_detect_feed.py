"""Two workers' detectors on one Redis feed (real Redis) and one SQL containment store: a
scraper whose requests a load balancer spreads over both is contained after as many
records as on one worker; without the feed, each worker sees half and lets more through."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from detect_testkit import config, engine, event
from sqlalchemy import create_engine

from strongroom.clock import FakeClock
from strongroom.detect import DetectionEngine, SqlContainmentStore
from strongroom.detect.feed import RedisEventFeed, decode, encode

CEILING = 400  # records the scraper asks for at most


def workers(
    clock: FakeClock, tmp_path: Path, n: int, feed_key: str | None, url: str
) -> list[DetectionEngine]:
    tmp_path.mkdir(exist_ok=True)
    store = SqlContainmentStore(create_engine(f"sqlite:///{tmp_path / 'containments.db'}"))
    out = []
    for i in range(n):
        feed = None
        if feed_key is not None:
            feed = RedisEventFeed(redis.Redis.from_url(url), feed_key, worker=f"w{i}")
            feed.mark_end()
        out.append(engine(clock, config(), store=store, feed=feed))
    return out


def served_before_containment(clock: FakeClock, engines: list[DetectionEngine]) -> int:
    """Records a scraper (two a second, each a new subject) gets, its requests taken in
    turn by each worker, before a worker's check finds it contained."""
    for n in range(CEILING):
        worker = engines[n % len(engines)]
        if worker.check("p-1", "s-1", "198.51.100.7") is not None:
            return n
        worker.observe(event(clock, subjects=(str(uuid.UUID(int=n + 1)),)))
        clock.advance(0.5)
    return CEILING


def test_a_scraper_spread_over_two_workers_is_contained_as_on_one(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    one = served_before_containment(
        FakeClock(), workers(FakeClock(), tmp_path / "one", 1, None, redis_url)
    )
    clock = FakeClock()
    shared = served_before_containment(
        clock, workers(clock, tmp_path / "shared", 2, redis_prefix + "events", redis_url)
    )
    clock = FakeClock()
    apart = served_before_containment(clock, workers(clock, tmp_path / "apart", 2, None, redis_url))
    assert one < CEILING, "the scraper was never contained on one worker"
    assert shared <= one + 1, (one, shared)
    assert apart > shared, (one, shared, apart)


def test_the_worker_that_crossed_the_threshold_contains_once(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    """One containment stored per rung, not one per worker: the other worker mirrors it
    in its own index (it bites there at once) without storing a second."""
    clock = FakeClock()
    a, b = workers(clock, tmp_path, 2, redis_prefix + "events", redis_url)
    served_before_containment(clock, [a, b])
    stored = a.store.list()
    assert stored, "nothing was contained"
    kinds = [(c.action, c.principal, c.session) for c in stored]
    assert len(kinds) == len(set(kinds)), kinds
    for worker in (a, b):
        worker.follow()
        assert worker.check("p-1", "s-1", "198.51.100.7") is not None


def test_an_idle_worker_keeps_up_by_following(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    clock = FakeClock()
    busy, idle = workers(clock, tmp_path, 2, redis_prefix + "events", redis_url)
    for _ in range(10):
        busy.observe(event(clock))
        clock.advance(30)
    assert idle.follow() == 10
    assert idle.states["p-1"].records_day == busy.states["p-1"].records_day == 10
    assert idle.follow() == 0


def test_redis_down_leaves_each_worker_judging_alone(tmp_path: Path) -> None:
    """No Redis: the request is still judged, on this worker's own view (the budgets in
    that Redis are what fail closed)."""
    clock = FakeClock()
    dead = RedisEventFeed(
        redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2),
        "sr:detect:events",
        worker="w0",
    )
    eng = engine(clock, config(), feed=dead)
    n = served_before_containment(clock, [eng])
    assert n < CEILING
    assert eng.follow() == 0


@pytest.mark.parametrize(
    "detail", [{}, {"matched": False, "departement": "75"}, {"sort_key": 0.25}]
)
def test_an_event_crosses_the_feed_unchanged(detail: dict[str, Any]) -> None:
    clock = FakeClock()
    ev = event(clock, **detail)
    assert decode(encode(ev)) == ev
