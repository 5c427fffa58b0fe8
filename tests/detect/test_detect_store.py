"""One containment contract on every backend: memory, SQLite, PostgreSQL; and two engines
(two workers) sharing one SQL store."""

import pytest
from detect_testkit import CANARY, engine, event, only
from sqlalchemy import create_engine

from strongroom.clock import FakeClock
from strongroom.detect import MemoryContainmentStore, SqlContainmentStore
from strongroom.detect.containment import LiftRequest, new_containment
from strongroom.errors import Conflict, NotFound


@pytest.fixture(params=["memory", "sql"])
def store(request: pytest.FixtureRequest, tmp_path):
    if request.param == "memory":
        return MemoryContainmentStore()
    return SqlContainmentStore(create_engine(f"sqlite:///{tmp_path / 'c.db'}"))


def _contract(store) -> None:
    t = 1_000.0
    a = new_containment("suspend_principal", "p-1", t, risk=93.5, families=("volume", "honey"))
    b = new_containment(
        "block_ip_prefix", "p-2", t + 1, ip_prefix="203.0.113.0/24", expires_at=t + 60
    )
    store.add(a)
    store.add(b)
    assert {c.id for c in store.active(t + 2)} == {a.id, b.id}
    assert {c.id for c in store.active(t + 61)} == {a.id}  # the block expired
    got = store.get(a.id)
    assert got == a and got.families == ("volume", "honey")
    lifted = store.lift(a.id, by="admin-1", why="false positive", now=t + 5)
    assert (lifted.lifted_at, lifted.lifted_by, lifted.lifted_why) == (
        t + 5,
        "admin-1",
        "false positive",
    )
    assert store.active(t + 6) == [b]
    with pytest.raises(Conflict):
        store.lift(a.id, by="admin-2", why="again", now=t + 7)
    with pytest.raises(NotFound):
        store.lift("00000000-0000-4000-8000-000000000000", by="x", why="y", now=t)
    assert [c.id for c in store.list()] == [b.id, a.id]
    assert [c.id for c in store.list(include_lifted=False)] == [b.id]
    # Four eyes: one pending request per containment, whoever asks second.
    assert a.four_eyes and not b.four_eyes
    asked = store.request_lift(LiftRequest(b.id, "admin-1", t + 8, "office cleared"))
    with pytest.raises(Conflict, match="admin-1"):
        store.request_lift(LiftRequest(b.id, "admin-2", t + 9, "me too"))
    assert store.lift_requests() == {b.id: asked}


def test_store_contract(store) -> None:
    _contract(store)


def test_sql_store_contract_on_every_database(db_url: str) -> None:
    _contract(SqlContainmentStore(create_engine(db_url)))


def test_two_workers_share_containments_and_lifts(db_url: str) -> None:
    db = create_engine(db_url)
    clock = FakeClock()
    w1 = engine(clock, only({"honey": {}}), store=SqlContainmentStore(db))
    w2 = engine(clock, only({"honey": {}}), store=SqlContainmentStore(db))
    w1.observe(event(clock, subjects=(CANARY,)))
    assert w1.check("p-1", "s-1", None) is not None  # at once on the deciding worker
    clock.advance(1.0)  # the other worker re-reads within sync_seconds
    c = w2.check("p-1", "s-9", None)
    assert c is not None and c.action == "suspend_principal"
    w1.lift(c.id, by="admin-1", why="reviewed")
    clock.advance(1.0)
    assert w2.check("p-1", "s-9", None) is None
    assert w2.check("p-1", "s-1", "198.51.100.7") is None


def test_a_lift_request_made_on_one_worker_is_seen_by_another(db_url: str) -> None:
    db = create_engine(db_url)
    clock = FakeClock()
    w1 = engine(clock, only({"honey": {}}), store=SqlContainmentStore(db))
    w2 = engine(clock, only({"honey": {}}), store=SqlContainmentStore(db))
    w1.observe(event(clock, subjects=(CANARY,)))
    c = w1.check("p-1", "s-1", None)
    assert c is not None and c.four_eyes
    w1.request_lift(c.id, by="admin-1", why="canary seeded on a real case file")
    assert w2.lift_requests()[c.id].requested_by == "admin-1"
    with pytest.raises(Conflict):
        w2.request_lift(c.id, by="admin-2", why="the same, from the other worker")


def test_the_lift_requests_table_migrates_whoever_creates_it_first(tmp_path) -> None:
    """Alembic 0008 on a home at 0007, after or without a server on the new version
    having created the table on first use (`strongroom init` upgrades either)."""
    import sqlalchemy as sa

    from strongroom.registry.db import upgrade

    for name, store_first in (("a.db", True), ("b.db", False)):
        url = f"sqlite:///{tmp_path / name}"
        upgrade(url, "0007")
        db = create_engine(url)
        assert not sa.inspect(db).has_table("detect_lift_requests")
        if store_first:
            SqlContainmentStore(db)
        upgrade(url)
        assert sa.inspect(create_engine(url)).has_table("detect_lift_requests")
