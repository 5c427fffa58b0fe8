"""Leases in the registry database (journal/lease.py) on SQLite and PostgreSQL: of workers
racing for a lease exactly one holds it; the holder renews it; another takes it once it
has run out or been let go; the holder's state is read by all."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from strongroom.clock import FakeClock
from strongroom.journal.lease import Lease, metadata
from strongroom.registry.db import make_engine


@pytest.fixture
def engine(db_url: str) -> sa.Engine:
    e = make_engine(db_url)
    metadata.create_all(e)
    yield e
    e.dispose()


def test_one_of_the_racing_workers_holds_the_lease(db_url: str, engine: sa.Engine) -> None:
    workers = [make_engine(db_url) for _ in range(4)]
    try:
        for round_ in range(5):
            clock = FakeClock()
            leases = [Lease(w, f"job-{round_}", ttl=30, clock=clock) for w in workers]
            barrier = threading.Barrier(len(leases))

            def take(lease: Lease, barrier: threading.Barrier = barrier) -> bool:
                barrier.wait()
                return lease.hold()

            with ThreadPoolExecutor(len(leases)) as pool:
                held = list(pool.map(take, leases))
            assert held.count(True) == 1, held
    finally:
        for w in workers:
            w.dispose()


def test_renewed_by_its_holder_taken_over_when_it_runs_out(engine: sa.Engine) -> None:
    clock = FakeClock()
    a = Lease(engine, "witness-push", ttl=30, clock=clock)
    b = Lease(engine, "witness-push", ttl=30, clock=clock)
    assert a.hold() and not b.hold()
    a.record({"acked": {"https://w.example": 12}})
    b.record({"acked": {"https://w.example": 0}})  # not the holder: ignored
    assert b.state() == {"acked": {"https://w.example": 12}}
    clock.advance(25)
    assert a.hold()  # renewed: 30 s from now
    clock.advance(25)
    assert not b.hold()
    clock.advance(6)  # a stopped renewing (it died): b takes over
    assert b.hold() and not a.hold()
    b.release()  # b stops: a takes it at once
    assert a.hold()
    assert a.state() == {"acked": {"https://w.example": 12}}
