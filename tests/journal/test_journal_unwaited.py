"""Refusals appended without waiting: committed with the next batch, bounded while the
writer is held up, and every one accounted for, queued or tallied, on both backends."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy
from sqlalchemy import Connection

from strongroom.clock import FakeClock
from strongroom.errors import Unavailable
from strongroom.journal import Journal, NoteSigner, engines
from strongroom.journal.investigate import Investigator

from .helpers import event


@pytest.fixture
def journal(db_url: str):
    j = Journal.open(
        db_url,
        signer=NoteSigner.generate("test.local/journal"),
        clock=FakeClock(),
        checkpoint_every=100_000,
        index_lag=None,
    )
    yield j
    j.close()


def refusal(i: int, principal: str = "p-flood") -> dict:
    return event(
        i,
        principal=principal,
        outcome="refused",
        subjects=(),
        records=0,
        reason="budget_exhausted",
        ip="203.0.113.7",
    )


def test_unwaited_entries_are_committed_in_order_and_verify(journal: Journal) -> None:
    journal.append(event(0))
    for i in range(1, 50):
        journal.append_unwaited(refusal(i))
    journal.flush()
    assert journal.size() == 50
    assert [journal.entry(i)["ts"] for i in range(50)] == [event(i)["ts"] for i in range(50)]
    report = journal.verify()
    assert report.ok, report.to_dict()


def test_a_flood_past_the_limit_is_tallied_exactly(journal: Journal) -> None:
    """The writer is held up by another writer's lock while 2,000 refusals arrive: 100 are
    queued, the other 1,900 are counted; once the lock is free, the journal holds the 100
    entries and tallies that add up to 1,900, per principal, endpoint, reason and IP."""
    journal.unwaited_limit = 100
    journal.append(event(0))
    with engines.writing(journal.engine):  # another writer holds the lock
        # Nobody waits for a commit: had any caller waited, this loop would never end
        # while the lock is held.
        for i in range(2000):
            journal.append_unwaited(refusal(i, principal=f"p-{i % 2}"))
    journal.flush()
    entries = [journal.entry(i) for i in range(journal.size())]
    single = [e for e in entries if e.get("reason") == "budget_exhausted"]
    tallies = [e for e in entries if e.get("reason") == "refusals_tallied"]
    assert len(single) == 100
    assert {t["principal"] for t in tallies} == {"p-0", "p-1"}
    counted = sum(c["count"] for t in tallies for c in t["detail"]["counts"])
    assert counted == 1900
    assert all(t["records"] == 0 and t["subjects"] == [] for t in tallies)
    assert sum(t["detail"]["refusals"] for t in tallies) == 1900
    # the queue drained, so refusals are queued one by one again
    before = journal.size()
    journal.append_unwaited(refusal(5000))
    journal.flush()
    assert journal.size() == before + 1
    report = journal.verify()
    assert report.ok, report.to_dict()


def test_an_investigation_counts_refusals_appended_just_before_it(journal: Journal) -> None:
    for i in range(30):
        journal.append_unwaited(refusal(i, principal="p-x"))
    journal.flush()
    report = Investigator(journal).principal_report("p-x", None, None)
    assert report["outcomes"] == {"refused": 30} and report["records"] == 0


def test_flush_gives_up_when_the_writer_cannot_commit(journal: Journal) -> None:
    with engines.writing(journal.engine):  # another writer holds the lock
        journal.append_unwaited(refusal(0))
        with pytest.raises(Unavailable):
            journal.flush(timeout=0.3)
    journal.flush()
    assert journal.size() == 1


def test_unwaited_appends_from_many_threads_all_land(journal: Journal) -> None:
    journal.unwaited_limit = 50
    threads = [
        threading.Thread(
            target=lambda k=k: [journal.append_unwaited(refusal(k * 1000 + i)) for i in range(200)]
        )
        for k in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    journal.flush()
    entries = [journal.entry(i) for i in range(journal.size())]
    single = sum(1 for e in entries if e["reason"] == "budget_exhausted")
    tallied = sum(
        c["count"]
        for e in entries
        if e["reason"] == "refusals_tallied"
        for c in e["detail"]["counts"]
    )
    assert single + tallied == 1600


@contextmanager
def commits_of(journal: Journal) -> Iterator[list[int]]:
    """Counts the writer's commits to the log (readers only roll back)."""
    seen = [0]

    def on_commit(conn: Connection) -> None:
        if conn.get_execution_options().get("journal_writer"):
            seen[0] += 1

    sqlalchemy.event.listen(journal.engine, "commit", on_commit)
    try:
        yield seen
    finally:
        sqlalchemy.event.remove(journal.engine, "commit", on_commit)


def test_a_trickle_of_refusals_shares_commits(journal: Journal) -> None:
    """Refusals a millisecond apart, each enough for a commit of its own: the writer holds
    the batch open for more, so 300 of them take a few commits, not hundreds."""
    journal.append(event(0))
    with commits_of(journal) as commits:
        for i in range(1, 301):
            journal.append_unwaited(refusal(i))
            time.sleep(0.001)
        journal.flush()
    assert journal.size() == 301
    assert commits[0] <= 30, commits[0]


def test_a_waited_append_commits_a_lingering_batch_at_once(journal: Journal) -> None:
    """With a linger far beyond the test's patience, a waited append still returns: it
    takes the refusal queued before it into its own commit (one commit, not two)."""
    journal.linger_seconds = 600.0
    journal.append(event(0))
    with commits_of(journal) as commits:
        journal.append_unwaited(refusal(1))
        time.sleep(0.2)  # the writer is lingering on the refusal's batch by now
        assert journal.size() == 1 and commits[0] == 0
        done: list[int] = []
        waiter = threading.Thread(target=lambda: done.append(journal.append(event(2))))
        waiter.start()
        waiter.join(timeout=20)
        assert done == [2]
    assert commits[0] == 1
    assert journal.size() == 3


def test_an_async_append_and_flush_commit_a_lingering_batch_at_once(journal: Journal) -> None:
    journal.linger_seconds = 600.0
    journal.append(event(0))
    with commits_of(journal) as commits:
        journal.append_unwaited(refusal(1))
        time.sleep(0.2)

        async def waited() -> int:
            return await asyncio.wait_for(journal.append_async(event(2)), timeout=20)

        assert asyncio.run(waited()) == 2
        journal.append_unwaited(refusal(3))
        time.sleep(0.2)
        assert journal.size() == 3
        journal.flush(timeout=20)
    assert commits[0] == 2
    assert journal.size() == 4


def test_a_full_lingering_batch_is_committed_without_waiting_out_the_linger(
    journal: Journal,
) -> None:
    journal.linger_seconds = 600.0
    journal.linger_entries = 20
    journal.append(event(0))
    with commits_of(journal) as commits:
        for i in range(1, 21):
            journal.append_unwaited(refusal(i))
        deadline = time.monotonic() + 20
        while journal.size() < 21 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert journal.size() == 21
    assert commits[0] == 1


def test_close_commits_a_lingering_batch(db_url: str) -> None:
    j = Journal.open(db_url, signer=None, clock=FakeClock(), index_lag=None)
    j.linger_seconds = 600.0
    j.append_unwaited(refusal(0))
    time.sleep(0.2)
    closer = threading.Thread(target=j.close)
    closer.start()
    closer.join(timeout=20)
    assert not closer.is_alive()
    with Journal.open(db_url, signer=None, clock=FakeClock(), index_lag=None) as again:
        assert again.size() == 1
