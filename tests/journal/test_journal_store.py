"""The journal's storage contract, on SQLite and PostgreSQL: durable appends with group
commit, proofs from stored nodes, checkpoints by count and by time, reopen."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from strongroom.clock import FakeClock
from strongroom.errors import BadRequest, Conflict, Unavailable
from strongroom.journal import (
    Journal,
    NoteSigner,
    driver_sql,
    engines,
    log,
    open_note,
    parse_checkpoint,
    rfc6962,
    store,
    tables,
)
from strongroom.journal.entry import index_rows
from strongroom.journal.investigate import Investigator

from .helpers import completes, event


@pytest.fixture
def signer() -> NoteSigner:
    return NoteSigner.generate("test.local/journal")


def test_append_prove_and_reopen(db_url: str, signer: NoteSigner) -> None:
    clock = FakeClock()
    j = Journal.open(db_url, signer=signer, clock=clock, checkpoint_every=10)
    assert j.size() == 0 and j.latest_checkpoint() is None
    idx = [j.append(event(i)) for i in range(25)]
    assert idx == list(range(25)) and j.size() == 25
    cps = j.checkpoints()
    assert [size for _, size, _ in cps] == [10, 20]
    cp = parse_checkpoint(open_note(cps[-1][2], [signer.verifier()]))
    assert cp.root == j.root(20) and cp.seq == 1
    for size in (1, 7, 20, 25):
        root = j.root(size)
        for i in range(size):
            rfc6962.verify_inclusion(i, size, j.leaf_hash(i), j.inclusion_proof(i, size), root)
    for a in range(1, 25):
        rfc6962.verify_consistency(a, 25, j.consistency_proof(a, 25), j.root(a), j.root(25))
    with pytest.raises(BadRequest):
        j.inclusion_proof(3, 26)
    j.close()
    with pytest.raises(Unavailable):
        j.append(event(99))
    j2 = Journal.open(db_url, signer=signer, clock=clock, checkpoint_every=10)
    assert j2.append(event(25)) == 25
    assert j2.entry(25)["principal"] == event(25)["principal"]
    note = j2.make_checkpoint()
    assert parse_checkpoint(open_note(note, [signer.verifier()])).size == 26
    assert j2.make_checkpoint() == note  # nothing new: the same checkpoint
    assert j2.verify().ok
    j2.close()


def _count_commits(j: Journal) -> list[int]:
    """A counter of the transactions the journal's engine commits from now on."""
    seen = [0]

    def commit(_conn: sa.Connection) -> None:
        seen[0] += 1

    sa.event.listen(j.engine, "commit", commit)
    return seen


def _in_threads(fn: Callable[[int], Any], args: Sequence[int]) -> list[Any]:
    """fn(a) for each of `args`, each on a thread of its own, all at once: the results, or
    the exceptions raised, in the order of `args`."""
    out: list[Any] = [None] * len(args)

    def run(k: int) -> None:
        try:
            out[k] = fn(args[k])
        except Exception as exc:  # noqa: BLE001 - returned for the test to check
            out[k] = exc

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(args))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_concurrent_appends_share_commits(db_url: str, signer: NoteSigner) -> None:
    j = Journal.open(
        db_url, signer=signer, clock=FakeClock(), checkpoint_every=1000, index_lag=None
    )  # no indexing transactions: commits are batches
    commits = _count_commits(j)
    got = _in_threads(lambda k: [j.append(event(k * 100 + i)) for i in range(40)], range(6))
    assert sorted(n for ns in got for n in ns) == list(range(240))
    assert j.size() == 240
    # six callers at a time share commits (about 80 of them here); one each would be 240
    assert 0 < commits[0] <= 160
    report = j.verify()
    assert report.ok, report.to_dict()
    j.close()


def test_thread_appends_that_wait_too_long_fail_and_the_rest_go_on(
    db_url: str, signer: NoteSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another writer holds the journal's writer lock, thread appenders give up after
    APPEND_TIMEOUT with 503; their entries, already queued, are committed once the lock is
    free, and the appends after them are answered as usual."""
    j = Journal.open(
        db_url, signer=signer, clock=FakeClock(), checkpoint_every=1000, index_lag=None
    )
    j.append(event(0))
    monkeypatch.setattr(log, "APPEND_TIMEOUT", 0.5)
    with engines.writing(j.engine):  # another writer, holding the lock for a while
        outcomes = _in_threads(lambda k: j.append(event(k)), range(1, 21))
    assert all(isinstance(o, Unavailable) and "in time" in str(o) for o in outcomes)
    monkeypatch.setattr(log, "APPEND_TIMEOUT", 30.0)
    got = _in_threads(lambda k: j.append(event(100 + k)), range(30))
    assert sorted(got) == list(range(21, 51))  # after the 21 entries committed before them
    assert j.size() == 51
    report = j.verify()
    assert report.ok, report.to_dict()
    j.close()


def test_async_appends_share_commits_and_outlive_a_cancelled_caller(
    db_url: str, signer: NoteSigner
) -> None:
    j = Journal.open(
        db_url, signer=signer, clock=FakeClock(), checkpoint_every=1000, index_lag=None
    )
    commits = _count_commits(j)

    async def main() -> list[object]:
        tasks = [asyncio.create_task(j.append_async(event(i))) for i in range(300)]
        await asyncio.sleep(0)  # every task has queued its entry and waits on its batch
        tasks[5].cancel()  # its caller goes away; the batch it shares must not
        return await asyncio.gather(*tasks, return_exceptions=True)

    got = asyncio.run(main())
    assert isinstance(got[5], asyncio.CancelledError)
    indexes = [n for n in got if isinstance(n, int)]
    assert len(indexes) == 299 and len(set(indexes)) == 299
    assert set(indexes) <= set(range(300))
    assert j.size() == 300  # the cancelled caller's entry was still committed
    assert 0 < commits[0] <= 30  # 300 callers queued at once share a few commits
    assert j.verify().ok
    j.close()


def test_checkpoint_by_time_on_injected_clock(db_url: str, signer: NoteSigner) -> None:
    clock = FakeClock()
    j = Journal.open(
        db_url, signer=signer, clock=clock, checkpoint_every=1000, checkpoint_interval=60
    )
    j.append(event(0))
    j.append(event(1))
    assert j.checkpoints() == []
    clock.advance(61)
    j.append(event(2))
    assert [s for _, s, _ in j.checkpoints()] == [3]
    clock.advance(61)
    j.append(event(3))
    assert [s for _, s, _ in j.checkpoints()] == [3, 4]
    j.close()


def test_entries_are_canonical_and_checked(db_url: str) -> None:
    j = Journal.open(db_url, signer=None, clock=FakeClock())
    e = event(0)
    j.append(dict(reversed(list(e.items()))))
    j.append(e)
    assert j.leaf_hash(0) == j.leaf_hash(1)  # RFC 8785: key order does not matter
    with pytest.raises(BadRequest):
        j.append({**e, "family_name": "Dupont"})  # not an entry key: would leak PII
    with pytest.raises(BadRequest):
        j.append({k: v for k, v in e.items() if k != "principal"})
    with pytest.raises(Conflict):
        j.make_checkpoint()
    assert j.size() == 2
    j.close()


def test_unwritable_journal_raises_unavailable(tmp_path, signer: NoteSigner) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    j = Journal.open(url, signer=signer, clock=FakeClock())
    j.append(event(0))
    eng = sa.create_engine(url)
    with eng.begin() as conn:  # a broken journal: its leaf table is gone
        conn.execute(sa.text("DROP TABLE journal_leaves"))
    eng.dispose()
    with pytest.raises(Unavailable):
        j.append(event(1))
    j.close()


def _index_count(j: Journal, table: str) -> int:
    """Rows of an index table, wherever make_engines put the journal's indexes."""
    with j.index_engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar())  # noqa: S608


def _node_count(db_url: str) -> int:
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        count = int(conn.execute(sa.text("SELECT count(*) FROM journal_nodes")).scalar())
    engine.dispose()
    return count


def _ups(db_url: str) -> list[bytes]:
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT up FROM journal_leaves ORDER BY idx")).scalars()
        out = [bytes(up) for up in rows]
    engine.dispose()
    return out


@pytest.mark.parametrize("leaf_levels", [tables.LEAF_LEVELS, 2])
def test_leaf_rows_carry_the_lower_nodes_and_journal_nodes_the_upper(
    db_url: str, signer: NoteSigner, leaf_levels: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each leaf row keeps the nodes of levels 1 to LEAF_LEVELS it completes, journal_nodes
    only those above (levels above 2 in the second run, so that 45 entries reach them);
    proofs read both, and a forged upper node is caught."""
    monkeypatch.setattr(tables, "LEAF_LEVELS", leaf_levels)
    j = Journal.open(db_url, signer=signer, clock=FakeClock(), checkpoint_every=10)
    for i in range(45):
        j.append(event(i))
    assert _node_count(db_url) == sum(max(0, completes(i) - leaf_levels) for i in range(45))
    assert [len(up) // 32 for up in _ups(db_url)] == [
        min(completes(i), leaf_levels) for i in range(45)
    ]
    for size in (1, 16, 21, 22, 32, 45):
        root = j.root(size)
        for i in range(size):
            rfc6962.verify_inclusion(i, size, j.leaf_hash(i), j.inclusion_proof(i, size), root)
    for a in range(1, 45):
        rfc6962.verify_consistency(a, 45, j.consistency_proof(a, 45), j.root(a), j.root(45))
    report = j.verify()
    assert report.ok and report.checkpoints == 4
    with j.engine.connect() as conn:  # on SQLite, no index tables in the log's file
        tables_found = set(sa.inspect(conn).get_table_names())
    index_tables = {t.name for t in tables.index_metadata.sorted_tables}
    assert {t.name for t in tables.metadata.sorted_tables} <= tables_found
    assert tables_found & index_tables == (index_tables if j.index_engine is j.engine else set())
    j.close()
    if leaf_levels == tables.LEAF_LEVELS:
        return  # 45 entries reach no node above level 7
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:  # forge the upper node over leaves [8, 16)
        conn.execute(
            sa.text("UPDATE journal_nodes SET hash = :h WHERE nid = :n"),
            {"h": bytes(32), "n": tables.nid(3, 1)},
        )
    engine.dispose()
    j = Journal.open(db_url, signer=signer, clock=FakeClock())
    report = j.verify()
    j.close()
    assert not report.ok and report.first_bad_index == 8
    assert {p.kind for p in report.problems} == {"node"}


def _contents(db_url: str) -> dict[str, list[str]]:
    """Every table of the journal's databases (on SQLite, the log's and the index file's),
    its rows in a comparable form."""
    out: dict[str, list[str]] = {}
    log_engine, index_engine = engines.make_engines(db_url)
    for engine in {log_engine, index_engine}:
        with engine.connect() as conn:
            for name in sa.inspect(conn).get_table_names():
                rows = conn.execute(sa.text(f"SELECT * FROM {name}")).all()  # noqa: S608
                out[f"{engine.url.database}:{name}"] = sorted(repr(tuple(r)) for r in rows)
        engine.dispose()
    return out


@pytest.mark.parametrize(
    ("recorded", "says"),
    [
        ("0", "is not this software's"),
        (str(tables.SCHEMA_VERSION + 1), "is newer than this software's"),
        ("six", "is not this software's"),
    ],
)
def test_a_database_of_another_schema_version_is_refused_untouched(
    db_url: str, signer: NoteSigner, recorded: str, says: str
) -> None:
    """There is no upgrade: opening a journal whose recorded layout is not this software's
    fails with both versions named, and writes nothing (not even the table it lacks)."""
    j = Journal.open(db_url, signer=signer, clock=FakeClock(), checkpoint_every=2, index_lag=None)
    for i in range(5):
        j.append(event(i))
    j.catch_up_index()
    j.close()
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE journal_meta SET value = :v WHERE key = 'schema_version'"),
            {"v": recorded},
        )
        conn.execute(sa.text("DROP TABLE journal_checkpoints"))
    engine.dispose()
    before = _contents(db_url)
    with pytest.raises(BadRequest) as refused:
        Journal.open(db_url, signer=signer, clock=FakeClock())
    message = str(refused.value)
    assert f"journal schema version {recorded} {says} ({tables.SCHEMA_VERSION})" in message
    assert _contents(db_url) == before
    assert not any(name.endswith(":journal_checkpoints") for name in before)


def test_a_new_journal_records_its_schema_version(db_url: str) -> None:
    Journal.open(db_url, signer=None, clock=FakeClock()).close()
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT key, value FROM journal_meta")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("schema_version", str(tables.SCHEMA_VERSION))]
    Journal.open(db_url, signer=None, clock=FakeClock()).close()  # and opens it again


def test_writer_indexes_behind_the_log(db_url: str) -> None:
    j = Journal.open(db_url, signer=None, clock=FakeClock(), index_lag=5)
    for i in range(12):
        j.append(event(i))
    deadline = time.monotonic() + 10
    while j.indexed_size() < 12 and time.monotonic() < deadline:
        time.sleep(0.05)  # the writer catches up when idle
    assert j.indexed_size() == 12
    assert _index_count(j, "journal_principals") == 12
    j.close()


def _ranges(j: Journal) -> list[tuple[int, int]]:
    with j.index_engine.connect() as conn:
        return [
            (int(a), int(b))
            for a, b in conn.execute(sa.text("SELECT lo, hi FROM journal_index_ranges ORDER BY lo"))
        ]


def test_each_writer_indexes_its_own_entries_and_gaps_are_read_back(db_url: str) -> None:
    """Two writers' entries interleave: each indexes what it wrote, out of order, and
    indexed_size moves only over a gapless prefix; investigations stay exact throughout."""
    j = Journal.open(db_url, signer=None, clock=FakeClock(), index_lag=None)
    inv = Investigator(j)
    entries = [event(i, principal=f"p-{i // 3 % 2}", subjects=(f"s-{i % 4}",)) for i in range(18)]
    for e in entries[:12]:
        j.append(e)
    rows = [(i, index_rows(e)) for i, e in enumerate(entries)]
    s0 = [0, 4, 8]

    def check(indexed: int, ranges: list[tuple[int, int]]) -> None:
        assert j.indexed_size() == indexed and _ranges(j) == ranges
        assert [a["index"] for a in inv.subject_report("s-0")["accesses"]] == s0
        assert inv.principal_report("p-1")["entries"] == len(
            [i for i in range(j.size()) if i // 3 % 2 == 1]
        )

    with engines.writing(j.index_engine, index=True) as conn:  # writer B: entries 3-5 and 9-11
        assert store.index_known(conn, rows[3:6] + rows[9:12]) == (6, 0)
    check(0, [(3, 6), (9, 12)])
    with engines.writing(j.index_engine, index=True) as conn:  # writer A: 0-2 joins 3-5
        assert store.index_known(conn, rows[0:3]) == (3, 6)
    check(6, [(9, 12)])
    # A again, knowing more than it needs to
    with engines.writing(j.index_engine, index=True) as conn:
        assert store.index_known(conn, rows[0:12]) == (3, 12)  # only 6-8 were new
    check(12, [])

    for e in entries[12:]:
        j.append(e)
    s0.append(12), s0.append(16)
    # 15-17 indexed; the writer of 12-14 stopped
    with engines.writing(j.index_engine, index=True) as conn:
        assert store.index_known(conn, rows[15:18]) == (3, 12)
    check(12, [(15, 18)])
    with engines.writing(j.index_engine, index=True) as conn:
        with j.engine.connect() as log:
            assert store.index_gap(conn, log, 100) == (3, 18)  # read back up to a range
            assert store.index_gap(conn, log, 100) == (0, 18)
    check(18, [])
    assert _index_count(j, "journal_principals") == 18
    assert j.verify().ok
    j.close()


def test_two_writers_on_one_journal_index_everything_once(db_url: str) -> None:
    """Two journals on one database (as two server processes), appending in turn: their
    writers index their own entries when idle, and between them every entry once."""
    a = Journal.open(db_url, signer=None, clock=FakeClock(), index_lag=1000)
    b = Journal.open(db_url, signer=None, clock=FakeClock(), index_lag=1000)
    for k in range(8):
        for i in range(5):
            (a if k % 2 == 0 else b).append(event(k * 5 + i, subjects=(f"s-{k}",)))
    deadline = time.monotonic() + 10
    while a.indexed_size() < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert a.indexed_size() == 40 and _ranges(a) == []
    assert _index_count(a, "journal_principals") == 40
    assert _index_count(a, "journal_subjects") == 40
    inv = Investigator(a)
    assert [x["index"] for x in inv.subject_report("s-3")["accesses"]] == list(range(15, 20))
    a.close()
    b.close()


def test_index_rows_lead_with_their_bucket(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Index rows are keyed by bucket = leaf >> BUCKET_SHIFT first; lookups visit every
    bucket below indexed_size."""
    monkeypatch.setattr(tables, "BUCKET_SHIFT", 3)  # buckets of 8 entries
    j = Journal.open(db_url, signer=None, clock=FakeClock(), index_lag=None)
    for i in range(40):
        j.append(event(i, principal=f"p-{i % 2}", subjects=(f"s-{i % 4}",)))
    assert j.catch_up_index() == 40
    with j.index_engine.connect() as conn:
        for table in ("journal_principals", "journal_subjects"):
            rows = conn.execute(sa.text(f"SELECT bucket, leaf FROM {table}")).all()  # noqa: S608
            assert sorted(int(leaf) for _, leaf in rows) == list(range(40))
            assert all(int(b) == int(leaf) >> 3 for b, leaf in rows)
    inv = Investigator(j)
    assert [a["index"] for a in inv.subject_report("s-1")["accesses"]] == list(range(1, 40, 4))
    assert inv.principal_report("p-1")["entries"] == 20
    j.append(event(40, principal="p-1", subjects=("s-1",)))
    assert j.catch_up_index() == 1
    assert inv.principal_report("p-1")["entries"] == 21
    j.close()


def test_sqlite_writer_lock_file_is_owner_only(tmp_path) -> None:
    j = Journal.open(f"sqlite:///{tmp_path / 'j.db'}", signer=None, clock=FakeClock())
    j.append(event(0))
    j.close()
    assert (tmp_path / "j.db-writer.lock").stat().st_mode & 0o777 == 0o600


def _fill(j: Journal, n: int) -> None:
    for i in range(n):
        j.append(event(i, principal=f"p-{i % 2}", subjects=(f"s-{i % 4}",)))


def _answers(j: Journal) -> tuple[list[int], int]:
    inv = Investigator(j)
    return (
        [a["index"] for a in inv.subject_report("s-1")["accesses"]],
        inv.principal_report("p-1")["entries"],
    )


def test_sqlite_index_file_is_derived_and_rebuilt_when_lost(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    j = Journal.open(url, signer=None, clock=FakeClock(), index_lag=None)
    _fill(j, 20)
    j.catch_up_index()
    want = _answers(j)
    j.close()
    assert (tmp_path / "j.db-index").is_file()
    for f in tmp_path.glob("j.db-index*"):
        f.unlink()
    j = Journal.open(url, signer=None, clock=FakeClock(), index_lag=None)
    assert j.indexed_size() == 0
    assert _answers(j) == want  # read from the log meanwhile
    assert j.catch_up_index() == 20 and j.indexed_size() == 20
    assert _answers(j) == want and j.verify().ok
    j.close()


def test_sqlite_index_beyond_a_restored_log_is_emptied(tmp_path: Path) -> None:
    """A log restored from a backup older than its index: the index names entries the log
    no longer holds, and entries appended next would take their places; it is emptied and
    rebuilt, so answers stay exact."""
    url = f"sqlite:///{tmp_path / 'j.db'}"
    j = Journal.open(url, signer=None, clock=FakeClock(), index_lag=None)
    _fill(j, 8)
    j.close()
    backup = (tmp_path / "j.db").read_bytes()  # closed: the WAL is checkpointed into it
    j = Journal.open(url, signer=None, clock=FakeClock(), index_lag=None)
    for i in range(8, 20):
        j.append(event(i, principal="p-1", subjects=("s-1",)))
    j.catch_up_index()
    j.close()
    (tmp_path / "j.db").write_bytes(backup)
    j = Journal.open(url, signer=None, clock=FakeClock(), index_lag=None)
    assert j.size() == 8 and j.indexed_size() == 0
    assert _answers(j) == ([1, 5], 4)
    j.append(event(8, principal="p-0", subjects=("s-0",)))
    assert j.catch_up_index() == 9
    assert _answers(j) == ([1, 5], 4)
    j.close()


def test_sqlite_log_is_synced_in_full_and_its_index_file_normally(tmp_path: Path) -> None:
    """The log's commits reach the disk before an answer (FULL); the index file, derived
    and rebuilt from the log, may lose its last transactions to a power cut (NORMAL)."""
    j = Journal.open(f"sqlite:///{tmp_path / 'j.db'}", signer=None, clock=FakeClock())
    for engine, want in ((j.engine, 2), (j.index_engine, 1)):  # FULL = 2, NORMAL = 1
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == want
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert j.index_engine.url.database == f"{tmp_path / 'j.db'}-index"
    j.close()


@pytest.mark.parametrize("n", [0, 1, 255, 256, 257, 1000])
def test_insert_rows_writes_every_row_in_chunks(db_url: str, n: int) -> None:
    engine = engines.make_engine(db_url)
    scratch = sa.Table(
        "scratch_rows",
        sa.MetaData(),
        sa.Column("a", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("b", sa.LargeBinary, nullable=False),
    )
    rows = [(i, bytes([i % 256]) * (i % 7 + 1)) for i in range(n)]
    with engine.begin() as conn:
        scratch.drop(conn, checkfirst=True)
        scratch.create(conn)
        driver_sql.insert_rows(conn, "scratch_rows", "a, b", rows)
    with engine.begin() as conn:
        got = [(int(a), bytes(b)) for a, b in conn.execute(sa.select(scratch).order_by("a"))]
        scratch.drop(conn)
    engine.dispose()
    assert got == rows


def test_driver_level_sql_raises_sqlalchemy_errors(db_url: str) -> None:
    """Errors on the driver's own cursor come out as SQLAlchemy's, which the journal turns
    into 503 (Unavailable) like any other storage error."""
    j = Journal.open(db_url, signer=None, clock=FakeClock(), index_lag=None)
    with j.engine.connect() as conn:
        with pytest.raises(sa.exc.DBAPIError, match="nope"):
            driver_sql.fetch(conn, "SELECT nope FROM journal_leaves")
    with j.engine.connect() as conn:
        with pytest.raises(sa.exc.IntegrityError):
            driver_sql.insert_rows(conn, "journal_nodes", "nid, hash", [(1, None)])
    j.close()


def test_sqlite_index_range_beyond_a_restored_log_is_emptied(tmp_path: Path) -> None:
    """indexed_size may sit within the restored log while a recorded range lies beyond
    it: the entries appended there next would be taken as indexed, so it is emptied too."""
    url = f"sqlite:///{tmp_path / 'j.db'}"
    j = Journal.open(url, signer=None, clock=FakeClock(), index_lag=None)
    _fill(j, 8)
    assert j.catch_up_index() == 8
    j.close()
    backup = (tmp_path / "j.db").read_bytes()
    j = Journal.open(url, signer=None, clock=FakeClock(), index_lag=None)
    old = [event(i, principal="p-9", subjects=("s-9",)) for i in range(8, 16)]
    for e in old:
        j.append(e)
    with engines.writing(j.index_engine, index=True) as conn:  # a writer of 12-15 only
        store.index_known(conn, [(i, index_rows(e)) for i, e in enumerate(old, 8)][4:])
    assert j.indexed_size() == 8 and _ranges(j) == [(12, 16)]
    j.close()
    (tmp_path / "j.db").write_bytes(backup)
    j = Journal.open(url, signer=None, clock=FakeClock(), index_lag=None)
    assert j.size() == 8 and j.indexed_size() == 0 and _ranges(j) == []
    _fill(j, 16)  # entries 8-15 anew (and 0-7 again at 16-23)
    assert j.catch_up_index() == 24
    inv = Investigator(j)
    assert inv.principal_report("p-9")["entries"] == 0
    assert [a["index"] for a in inv.subject_report("s-1")["accesses"]] == [1, 5, 9, 13, 17, 21]
    j.close()
