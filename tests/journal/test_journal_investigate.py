"""Investigations: principal, subject and breach reports from the side indexes."""

from __future__ import annotations

import pytest

from strongroom.clock import FakeClock
from strongroom.journal import Journal, tables
from strongroom.journal.investigate import Investigator, breach_markdown

from .helpers import T0, event


@pytest.fixture(params=["indexed", "log_tail"])
def inv(db_url: str, request: pytest.FixtureRequest):
    """Every report must come out the same from the indexes and from entries the indexes
    do not cover yet (read directly from the log)."""
    j = Journal.open(db_url, signer=None, clock=FakeClock(), index_lag=None)
    # mallory sweeps five owners' identity and address; bob reads one weapon record.
    for i in range(5):
        j.append(event(i, principal="mallory", subjects=(f"s-{i}",), records=1))
    j.append(event(5, principal="mallory", subjects=("s-9",), outcome="refused", fields=()))
    j.append(
        event(
            6,
            principal="bob",
            subjects=("s-1",),
            fields=("weapon.serial",),
            purpose="transfer",
            ts=T0 + 7200,
        )
    )
    j.append(
        event(
            7,
            principal="admin-1",
            kind="security",
            outcome="contained",
            subjects=(),
            fields=(),
            reason="contained_by_detector",
            detail={"target": "mallory"},
            ts=T0 + 600,
        )
    )
    j.append(event(8, principal="mallory", subjects=("s-8",), ts=T0 + 10 * 86400))
    if request.param == "indexed":
        j.catch_up_index()
    assert j.indexed_size() == (9 if request.param == "indexed" else 0)
    yield Investigator(j)
    j.close()


def test_principal_report(inv: Investigator) -> None:
    rep = inv.principal_report("mallory", T0, T0 + 86400)
    assert rep["subjects"] == [f"s-{i}" for i in range(5)]  # refused s-9 revealed nothing
    assert rep["fields"] == ["address.city", "identity.family_name"]
    assert rep["categories"]["identity"] == {"entries": 5, "records": 5, "subjects": 5}
    assert rep["outcomes"] == {"allowed": 5, "refused": 1}
    assert rep["timeline"][0]["entries"] == 6
    assert inv.principal_report("nobody")["entries"] == 0


def test_subject_report(inv: Investigator) -> None:
    rep = inv.subject_report("s-1")
    assert sorted(rep["principals"]) == ["bob", "mallory"]
    assert rep["principals"]["bob"]["fields"] == ["weapon.serial"]
    assert rep["principals"]["bob"]["purposes"] == ["transfer"]
    assert [a["index"] for a in rep["accesses"]] == [1, 6]
    assert inv.subject_report("s-unknown")["accesses"] == []


def test_breach_report(inv: Investigator) -> None:
    rep = inv.breach_report(["mallory", "bob"], T0, T0 + 86400)
    assert rep["data_subjects"] == 5  # s-0..s-4, bob's s-1 is among them
    assert rep["records"] == 6
    assert rep["categories_of_data"] == ["address", "identity", "weapon"]
    assert rep["subjects_by_category"] == {"address": 5, "identity": 5, "weapon": 1}
    assert "registered owners" in rep["categories_of_data_subjects"]
    assert rep["principals"]["mallory"]["contained_at"] is not None
    assert rep["principals"]["bob"]["contained_at"] is None
    assert rep["contained"] is False
    only = inv.breach_report(["mallory"], T0, T0 + 86400)
    assert only["contained"] is True and only["contained_at"].startswith("2026-01-01T00:10")
    md = breach_markdown(only)
    assert md.startswith("# Personal data breach")
    assert "Data subjects concerned: 5" in md and "| mallory | 6 | 5 | 5 |" in md


def test_subject_lookup_crosses_buckets_and_survives_key_collisions(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tables, "BUCKET_SHIFT", 2)  # buckets of 4 entries
    j = Journal.open(db_url, signer=None, clock=FakeClock(), index_lag=None)
    for i in range(30):
        j.append(event(i, principal=f"p-{i}", subjects=("s-x",) if i % 7 == 0 else ("s-y",)))
    j.catch_up_index()
    inv = Investigator(j)
    assert [a["index"] for a in inv.subject_report("s-x")["accesses"]] == [0, 7, 14, 21, 28]
    monkeypatch.setattr(tables, "subject_key", lambda _subject: 42)  # every key collides
    for i in range(30, 34):
        j.append(event(i, principal="q", subjects=("s-z",)))
    j.catch_up_index()
    assert j.indexed_size() == 34
    assert [a["index"] for a in inv.subject_report("s-z")["accesses"]] == [30, 31, 32, 33]
    assert inv.subject_report("s-w")["accesses"] == []  # collides with s-z, is not s-z
    j.close()


def test_entries_read_in_parallel_chunks_keep_their_order(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reports over more entries than a chunk read them through the reader threads, and
    come out as they do in one chunk: the principal's timeline in time order (entries
    appended out of time order), a subject's accesses in journal order."""
    from strongroom.journal import investigate

    j = Journal.open(db_url, signer=None, clock=FakeClock(), index_lag=None)
    times = [T0 + (i * 7919) % 101 * 60 for i in range(101)]  # a permutation of minutes
    for i, ts in enumerate(times):
        j.append(event(i, principal="mallory", subjects=(f"s-{i}", "s-all"), ts=ts))
    j.catch_up_index()
    inv = Investigator(j)
    whole = inv.principal_report("mallory", bucket=60)
    seen = [a["index"] for a in inv.subject_report("s-all")["accesses"]]
    monkeypatch.setattr(investigate, "CHUNK", 7)
    monkeypatch.setattr(investigate, "READERS", 3)
    assert inv.principal_report("mallory", bucket=60) == whole
    assert [a["index"] for a in inv.subject_report("s-all")["accesses"]] == seen
    assert seen == list(range(101))
    assert [s["start"] for s in whole["timeline"]] == sorted(s["start"] for s in whole["timeline"])
    assert len(whole["timeline"]) == 101 and whole["entries"] == 101
    order = [idx for idx, _ in inv._principal_entries("mallory", None, None)]
    assert order == sorted(range(101), key=lambda i: times[i])
    j.close()


def test_principal_page(inv: Investigator) -> None:
    """An incident's timeline: newest first, a page at a time, the window's count, what
    each entry touched (IDs and categories), from the indexes or the log's tail alike."""
    first = inv.principal_page("mallory", T0, limit=4)
    assert [e["index"] for e in first["items"]] == [8, 5, 4, 3]
    assert first["entries"] == 7 and first["before"] == 3
    assert first["items"][0]["subjects"] == ["s-8"]
    assert first["items"][0]["categories"] == ["address", "identity"]
    assert first["items"][1]["outcome"] == "refused" and first["items"][1]["categories"] == []
    rest = inv.principal_page("mallory", T0, before=3, limit=4)
    assert [e["index"] for e in rest["items"]] == [2, 1, 0] and rest["before"] is None
    assert inv.principal_page("mallory", T0 + 86400)["entries"] == 1
    assert inv.principal_page("nobody", T0)["items"] == []


@pytest.mark.parametrize(
    "since, until",
    [(None, None), (T0, T0 + 86400), (T0 + 3, None), (None, T0 + 3), (T0 + 86400, None)],
)
def test_principal_page_equals_a_full_scan_of_the_log(
    inv: Investigator, since: float | None, until: float | None
) -> None:
    """The investigation page's figures (the window's count, every entry paged through,
    what each touched) are those of a scan of every entry of the log, and its count the
    full report's, on a window open at either end or both."""
    j = inv.journal
    scan = [
        (i, e)
        for i in reversed(range(j.size()))
        if (e := j.entry(i))["principal"] == "mallory"
        and (since is None or e["ts"] >= since)
        and (until is None or e["ts"] < until)
    ]
    assert scan  # every window holds some of mallory's entries
    seen: list[dict[str, object]] = []
    before = None
    while True:
        page = inv.principal_page("mallory", since, before, limit=2, until=until)
        assert (
            page["entries"] == len(scan) == inv.principal_report("mallory", since, until)["entries"]
        )
        seen += page["items"]
        before = page["before"]
        if before is None:
            break
    assert [e["index"] for e in seen] == [i for i, _ in scan]
    assert [e["subjects"] for e in seen] == [e["subjects"] for _, e in scan]
    assert [e["records"] for e in seen] == [e["records"] for _, e in scan]
    assert [set(e["categories"]) for e in seen] == [
        {f.split(".")[0] for f in e["fields"]} for _, e in scan
    ]


def test_principal_pages_cross_buckets_and_the_index_edge(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paged through, a timeline holds each of the principal's entries once, newest first,
    whether its entries are indexed (several buckets) or above the index."""
    monkeypatch.setattr(tables, "BUCKET_SHIFT", 2)  # buckets of 4 entries
    j = Journal.open(db_url, signer=None, clock=FakeClock(), index_lag=None)
    for i in range(20):
        j.append(event(i, principal="mallory" if i % 3 else "bob"))
    j.catch_up_index()
    for i in range(20, 30):
        j.append(event(i, principal="mallory" if i % 3 else "bob"))
    assert j.indexed_size() == 20
    inv = Investigator(j)
    seen: list[int] = []
    before = None
    while True:
        page = inv.principal_page("mallory", T0, before=before, limit=3)
        assert page["entries"] == 20
        seen += [e["index"] for e in page["items"]]
        before = page["before"]
        if before is None:
            break
    assert seen == [i for i in reversed(range(30)) if i % 3]
    j.close()
