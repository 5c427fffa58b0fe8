"""Refusals appended without waiting: committed with the next batch, bounded while the
writer is held up, and every one accounted for, queued or tallied, on both backends."""

from __future__ import annotations

import threading

import pytest

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
