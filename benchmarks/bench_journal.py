"""Journal figures, measured in one run on SQLite (WAL, synchronous=FULL):

1. Durable append rate (each append returns once its entry is committed; group
   commit), with concurrent writers: 8 and 64 threads calling `append`, 1,000 asyncio tasks
   calling `append_async`, and two processes of 500 tasks each on one journal file (as two
   server workers). Against it, in the same run and database: plain un-hashed inserts of
   the same canonical entries (a) by 8 threads, each committed before it returns (the same
   durability promise per entry), (b) in large batched transactions (SQLite's insert
   ceiling from Python, no durability per entry) and (c) like for like: two processes of
   500 asyncio writers through the journal's own group commit (`PlainLog`: the same
   batching, writer lock and durable commit before each answer) storing only the bytes,
   made beforehand. Ratios to all three are reported; the two-process modes, which swing
   most from run to run, report the median of three runs. The processes are the deployment
   that uses both cores (`strongroom serve --workers 2`): each process's writer appends
   and indexes its own entries. --append-base N measures the same into a journal that
   already holds N entries.
2. Sustained: the two-process mode over --sustained-entries (default 1,000,000) in one
   stretch, into a fresh journal, and its like-for-like plain baseline likewise: over ten
   seconds, so kernel write-back, WAL checkpoints and indexing all run in the figure.
3. Full verification of --verify-size entries (default 1,000,000).
   Nodes on PostgreSQL (`nodes_pg`): two processes of 500 asyncio writers (two
   `strongroom serve` nodes) appending --append-entries at once to one journal on the
   local PostgreSQL, serialized by its advisory lock, then a verification of the result;
   one process alone beside it, in the same run and database.
4. At --proof-size entries (default 10,000,000; realistic entries from 5,000 principals
   over 2,000,000 subjects, bulk-loaded through the journal's own write path with
   synchronous=OFF during the load only): median inclusion proof (storage reads +
   assembly), and the three investigations (principal, subject, breach) timed end to end.

    python benchmarks/bench_journal.py [--quick]
        [--parts append,sustained,verify,large,nodes_pg]
        [--append-entries N] [--sustained-entries N] [--verify-size N] [--proof-size N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from results_dir import results_dir

from strongroom.clock import SystemClock
from strongroom.events import AccessEvent
from strongroom.journal import Journal, NoteSigner, engines, rfc6962, store
from strongroom.journal.canonical import canonical
from strongroom.journal.driver_sql import insert_rows
from strongroom.journal.engines import make_engine, make_engines
from strongroom.journal.entry import Prepared, prepare
from strongroom.journal.investigate import Investigator
from strongroom.journal.log import _Batch
from strongroom.journal.schema import ensure_schema

RESULTS = results_dir() / "journal.json"
T0 = 1_767_225_600.0  # 2026-01-01
PRINCIPALS = 5_000
SUBJECTS = 2_000_000
HARVESTER = "p-harvester"


def entry(i: int, rng: random.Random | None = None) -> dict:
    """A realistic entry: a lookup by one of 5,000 principals, one subject (a page of 20 for
    one request in ten) drawn uniformly from 2,000,000 persons but for one draw in a
    thousand that goes to one of 100 much-sought persons, a month of traffic at about 4
    requests per second. One entry in 200 belongs to the harvester, who reads a fresh
    subject each time."""
    r = rng or random.Random(i)
    harvester = i % 200 == 0
    principal = HARVESTER if harvester else f"p-{r.randrange(PRINCIPALS)}"
    if harvester:
        subjects: tuple[str, ...] = (f"{SUBJECTS + i:032x}",)
    else:
        n = 20 if r.random() < 0.1 else 1
        subjects = tuple(
            f"{r.randrange(100) if r.random() < 0.001 else r.randrange(SUBJECTS):032x}"
            for _ in range(n)
        )
    return AccessEvent(
        ts=T0 + i * 0.25 + 0.001,
        kind="access",
        principal=principal,
        role="police",
        endpoint="persons.get",
        outcome="allowed",
        purpose="investigation",
        session=f"s-{principal}",
        ip="10.1.2.3",
        subjects=subjects,
        records=len(subjects),
        fields=("address.city", "identity.family_name"),
    ).to_entry()


def run_threads(n_threads: int, per_thread: int, fn) -> float:
    barrier = threading.Barrier(n_threads + 1)

    def work(k: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            fn(k * per_thread + i)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


class PlainLog(Journal):
    """The like-for-like baseline: the journal's own group commit (the same batching,
    wake-ups, writer lock and synchronous=FULL commit before each answer) storing each
    entry's canonical bytes as one plain row, with no leaf hash, tree, index or
    canonicalization (the bytes are made beforehand)."""

    def _commit(self, batch: _Batch) -> None:
        try:
            with engines.writing(self.engine) as conn:
                insert_rows(conn, "plain_inserts", "entry", [(p.entry,) for p in batch.items])
        except Exception as exc:  # noqa: BLE001 - as Journal._commit
            batch.error = f"cannot write: {exc.__class__.__name__}"
        finally:
            batch.finish()

    async def append_bytes(self, data: bytes) -> None:
        batch, pos, fut = self._enqueue(
            Prepared(data, b"", None),  # type: ignore[arg-type]
            asyncio.get_running_loop(),
        )
        assert fut is not None
        await fut
        batch.outcome(pos)


async def _tasks(append: Callable[[Any], Awaitable[Any]], items: list, writers: int) -> float:
    """Seconds for `writers` asyncio tasks to `await append(item)` over `items`."""
    per = len(items) // writers

    async def work(k: int) -> None:
        for i in range(k * per, (k + 1) * per):
            await append(items[i])

    t0 = time.perf_counter()
    await asyncio.gather(*(work(k) for k in range(writers)))
    return time.perf_counter() - t0


def _worker(url: str, first: int, count: int, writers: int, plain: bool, ready) -> None:
    """One process of `_two_processes`: appending to the journal or, plain, to PlainLog."""
    items: list
    try:
        if plain:
            pj = PlainLog.open(url, signer=None, clock=SystemClock(), index_lag=None)
            j, append, items = (
                pj,
                pj.append_bytes,
                [canonical(entry(first + i)) for i in range(count)],
            )
        else:
            j = Journal.open(url, signer=None, clock=SystemClock())
            append, items = j.append_async, [entry(first + i) for i in range(count)]
    except BaseException:
        ready.abort()  # nobody waits for this process
        raise
    gc.freeze()  # see bench_append
    ready.wait()  # the other process has built its entries too, and the clock starts
    asyncio.run(_tasks(append, items, writers))
    j.close()


def _two_processes(url: str, first: int, total: int, *, plain: bool = False) -> int:
    """Entries per second of `total` appends by two processes of 500 asyncio writers."""
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Barrier(3)  # the two workers and this process
    procs = [
        ctx.Process(target=_worker, args=(url, first + total * k, total // 2, 500, plain, ready))
        for k in range(2)
    ]
    for p in procs:
        p.start()
    try:
        # the clock starts once both have built their entries (500,000 a process take
        # longer than a fixed pause would allow, and that time is not appending)
        ready.wait(timeout=900)
        t0 = time.perf_counter()
    finally:
        for p in procs:
            p.join()
    secs = time.perf_counter() - t0
    if any(p.exitcode for p in procs):
        raise RuntimeError(f"an appending process failed: exit codes {[p.exitcode for p in procs]}")
    return round(total // 1000 * 1000 / secs)


def bench_nodes_pg(total: int) -> dict | None:
    """Two nodes appending at once to one journal on PostgreSQL, against one node."""
    from scratch_pg import pg_database

    made = pg_database()
    if made is None:
        return None
    url, drop = made
    try:
        _open(url).close()  # the schema, before the clock starts
        one = _one_process(url, 0, total // 2)
        two = _two_processes(url, total, total)
        j = _open(url)
        t0 = time.perf_counter()
        ok, size = j.verify().ok, j.size()
        verify_s = time.perf_counter() - t0
        j.close()
    finally:
        drop()
    return {
        "entries": total,
        "one_node_per_s": one,
        "two_nodes_per_s": two,
        "ratio_two_to_one": round(two / one, 2),
        "journal_size": size,
        "verify_ok": ok,
        "verify_seconds": round(verify_s, 2),
    }


def _one_process(url: str, first: int, count: int) -> int:
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Barrier(2)
    proc = ctx.Process(target=_worker, args=(url, first, count, 500, False, ready))
    proc.start()
    try:
        ready.wait(timeout=900)
        t0 = time.perf_counter()
    finally:
        proc.join()
    if proc.exitcode:
        raise RuntimeError(f"the appending process failed: exit code {proc.exitcode}")
    return round(count / (time.perf_counter() - t0))


SIGNER = NoteSigner.generate("bench.local/journal")
REPEATS = 3


def _open(url: str) -> Journal:
    return Journal.open(url, signer=SIGNER, clock=SystemClock(), checkpoint_every=10_000)


def bench_append(tmp: Path, total: int, base: int = 0) -> dict:
    url = f"sqlite:///{tmp / 'append.db'}"
    if base:
        bulk_load(tmp / "append.db", base)  # appends into a journal of this size
        os.sync()  # the load's dirty pages reach the disk before the timed appends fsync
    entries = [entry(base + i) for i in range(total)]
    # The entries waiting to be appended are the harness's, hundreds of thousands of
    # objects a server never holds: frozen, the collector stops walking them (a full
    # collection every few thousand appends, ~20 % of the indexing time here).
    gc.freeze()
    rates: dict[str, int] = {}
    j = _open(url)
    for threads in (8, 64):
        n = total // 4 // threads * threads
        secs = run_threads(threads, n // threads, lambda i: j.append(entries[i]))
        rates[f"threads_{threads}"] = round(n / secs)
    secs = asyncio.run(_tasks(j.append_async, entries, 1000))
    rates["asyncio_1000"] = round(total // 1000 * 1000 / secs)
    j.close()

    # this mode and its plain baseline swing ~10 % between runs on a small VM: the median
    # of REPEATS runs is reported, with every run
    runs = [_two_processes(url, base + total * (1 + 2 * k), total) for k in range(REPEATS)]
    rates["processes_2x500"] = round(statistics.median(runs))
    j = _open(url)
    size, ok = j.size(), j.verify().ok
    j.close()

    engine = _plain_table(url)
    blobs = [canonical(e) for e in entries]
    raw = "INSERT INTO plain_inserts (entry) VALUES (?)"

    def insert(i: int) -> None:
        with engine.connect().execution_options(journal_writer=True) as conn, conn.begin():
            conn.exec_driver_sql(raw, (blobs[i],))

    n = total // 4 // 8 * 8
    plain_rate = n / run_threads(8, n // 8, insert)
    t0 = time.perf_counter()
    for k in range(0, len(blobs), 5_000):
        with engine.connect().execution_options(journal_writer=True) as conn, conn.begin():
            conn.exec_driver_sql(raw, [(b,) for b in blobs[k : k + 5_000]])
    batched_rate = len(blobs) / (time.perf_counter() - t0)
    engine.dispose()
    group_runs = [
        _two_processes(url, base + total * (1 + 2 * REPEATS), total, plain=True)
        for _ in range(REPEATS)
    ]
    group_rate = round(statistics.median(group_runs))
    best = max(rates.values())
    return {
        "journal_size_before": base,
        "entries_per_mode": total,
        "journal_per_s": rates,
        "best_per_s": best,
        "plain_committed_inserts_8_threads_per_s": round(plain_rate),
        "plain_batched_inserts_per_s": round(batched_rate),
        "plain_group_committed_2x500_per_s": group_rate,
        "runs_processes_2x500": runs,
        "runs_plain_group_committed_2x500": group_runs,
        "ratio_best_vs_plain_committed": round(best / plain_rate, 3),
        "ratio_best_vs_plain_batched": round(best / batched_rate, 3),
        "ratio_processes_vs_plain_group_committed": round(rates["processes_2x500"] / group_rate, 3),
        "journal_size": size,
        "verified": ok,
    }


def _plain_table(url: str) -> sa.Engine:
    """Create the plain baselines' table in the journal file at `url`; return an engine on
    that file with the journal's pragmas (WAL, synchronous=FULL)."""
    engine = make_engine(url)
    plain = sa.Table(
        "plain_inserts",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entry", sa.LargeBinary, nullable=False),
    )
    with engine.begin() as conn:
        plain.create(conn)
    return engine


def bench_sustained(tmp: Path, total: int) -> dict:
    """Two processes x 500 asyncio writers over `total` entries in one stretch (over ten
    seconds, long enough for the kernel to write back and for many WAL checkpoints), into
    a fresh journal, then the like-for-like plain baseline into a fresh file of its own."""
    rate = _two_processes(f"sqlite:///{tmp / 'sustained.db'}", 0, total)
    url = f"sqlite:///{tmp / 'sustained-plain.db'}"
    _plain_table(url).dispose()
    plain = _two_processes(url, 0, total, plain=True)
    return {
        "entries": total,
        "processes_2x500_per_s": rate,
        "plain_group_committed_2x500_per_s": plain,
        "ratio_vs_plain_group_committed": round(rate / plain, 3),
    }


def bulk_load(path: Path, size: int, *, progress: bool = False) -> None:
    """Fill a journal through its own write path (prepare, Frontier, store.write_batch,
    store.index_known) in large transactions with synchronous=OFF: a benchmark fixture,
    not an API."""
    log, index = make_engines(f"sqlite:///{path}")
    ensure_schema(log, index)
    frontier = rfc6962.Frontier()
    rng = random.Random(11)
    chunk = 100_000
    for start in range(0, size, chunk):
        batch = [prepare(entry(i, rng)) for i in range(start, min(size, start + chunk))]
        ups = frontier.extend(p.leaf_hash for p in batch)
        with _unsynced(log) as conn:
            store.write_batch(conn, start, batch, ups)
        with _unsynced(index) as conn:
            store.index_known(conn, [(start + n, p.rows) for n, p in enumerate(batch)])
        if progress and start % 1_000_000 == 0:
            print(f"  loaded {start:,}", flush=True)
    with _unsynced(index) as conn:
        # a live writer forgets old hours' counted subjects as it goes (Journal._index_if_due)
        while store.prune_activity(conn):
            pass
    log.dispose()
    index.dispose()


@contextlib.contextmanager
def _unsynced(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A write transaction with synchronous=OFF (bulk load only)."""
    with engine.connect().execution_options(journal_writer=True) as conn:
        conn.connection.driver_connection.execute("PRAGMA synchronous=OFF")
        with conn.begin():
            yield conn


def bench_verify(tmp: Path, size: int) -> dict:
    path = tmp / "verify.db"
    t0 = time.perf_counter()
    bulk_load(path, size)
    load = time.perf_counter() - t0
    j = Journal.open(
        f"sqlite:///{path}", signer=NoteSigner.generate("bench.local/journal"), clock=SystemClock()
    )
    j.make_checkpoint()
    t0 = time.perf_counter()
    report = j.verify()
    secs = time.perf_counter() - t0
    j.close()
    return {
        "entries": size,
        "verify_seconds": round(secs, 2),
        "ok": report.ok,
        "bulk_load_seconds": round(load, 1),
    }


def _timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return round(time.perf_counter() - t0, 3), out


def bench_large(tmp: Path, size: int, samples: int) -> tuple[dict, dict]:
    path = tmp / "large.db"
    t0 = time.perf_counter()
    bulk_load(path, size, progress=size >= 2_000_000)
    load = time.perf_counter() - t0
    j = Journal.open(f"sqlite:///{path}", signer=None, clock=SystemClock())
    root = j.root(size)
    rng = random.Random(7)
    times = []
    for _ in range(samples):
        i = rng.randrange(size)
        t0 = time.perf_counter()
        proof = j.inclusion_proof(i, size)
        times.append(time.perf_counter() - t0)
        rfc6962.verify_inclusion(i, size, j.leaf_hash(i), proof, root)
    proofs = {
        "entries": size,
        "samples": samples,
        "median_ms": round(statistics.median(times) * 1000, 3),
        "p99_ms": round(sorted(times)[int(samples * 0.99)] * 1000, 3),
        "bulk_load_seconds": round(load, 1),
    }

    inv = Investigator(j)
    ordinary = entry(size // 2 + 1, random.Random(size // 2 + 1))["principal"]  # not i % 200
    week = (T0 + size * 0.25 - 7 * 86_400, T0 + size * 0.25)
    popular = f"{7:032x}"  # one of the 100 much-sought persons
    results: dict = {"entries": size}
    secs, rep = _timed(lambda: inv.principal_report(HARVESTER))
    results["principal_harvester_all_time"] = {
        "seconds": secs,
        "entries": rep["entries"],
        "subjects": len(rep["subjects"]),
    }
    secs, rep = _timed(lambda: inv.principal_report(ordinary))
    results["principal_ordinary_all_time"] = {"seconds": secs, "entries": rep["entries"]}
    secs, rep = _timed(lambda: inv.subject_report(popular))
    results["subject_most_seen"] = {
        "seconds": secs,
        "accesses": len(rep["accesses"]),
        "principals": len(rep["principals"]),
    }
    secs, rep = _timed(lambda: inv.subject_report(f"{SUBJECTS - 7:032x}"))
    results["subject_rarely_seen"] = {"seconds": secs, "accesses": len(rep["accesses"])}
    secs, rep = _timed(lambda: inv.breach_report([HARVESTER, ordinary], *week))
    results["breach_two_principals_last_week"] = {
        "seconds": secs,
        "data_subjects": rep["data_subjects"],
        "records": rep["records"],
    }
    j.close()
    return proofs, results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--append-entries", type=int, default=100_000)
    ap.add_argument(
        "--append-base",
        type=int,
        default=0,
        help="bulk-load this many entries before measuring appends",
    )
    ap.add_argument("--sustained-entries", type=int, default=1_000_000)
    ap.add_argument("--verify-size", type=int, default=1_000_000)
    ap.add_argument("--proof-size", type=int, default=10_000_000)
    ap.add_argument(
        "--parts",
        default="append,sustained,verify,large,nodes_pg",
        help="comma-separated subset of append,sustained,verify,large,nodes_pg",
    )
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    if args.quick:
        args.append_entries, args.verify_size, args.proof_size = 8_000, 20_000, 100_000
        args.sustained_entries = 20_000
    # a run of some --parts keeps the other parts' last figures
    out: dict = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    out.update({"backend": "sqlite (WAL, synchronous=FULL)", "quick": args.quick})
    with tempfile.TemporaryDirectory(prefix="bench_journal_") as d:
        tmp = Path(d)
        if "append" in parts:
            out["append"] = bench_append(tmp, args.append_entries, args.append_base)
            print("append:", out["append"], flush=True)
        if "sustained" in parts:
            out["sustained"] = bench_sustained(tmp, args.sustained_entries)
            print("sustained:", out["sustained"], flush=True)
        if "verify" in parts:
            out["verify"] = bench_verify(tmp, args.verify_size)
            print("verify:", out["verify"], flush=True)
        if "nodes_pg" in parts:
            out["nodes_pg"] = bench_nodes_pg(args.append_entries)
            print("nodes on PostgreSQL:", out["nodes_pg"], flush=True)
        if "large" in parts:
            out["inclusion_proof"], out["investigations"] = bench_large(tmp, args.proof_size, 2_000)
            print("inclusion proof:", out["inclusion_proof"], flush=True)
            print("investigations:", out["investigations"], flush=True)
    out["targets"] = {
        "append_per_s": 50_000,
        "ratio_vs_plain": 0.25,
        "verify_1M_seconds": 30,
        "proof_median_ms_at_10M": 1.0,
        "investigation_seconds_at_10M": 5.0,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
