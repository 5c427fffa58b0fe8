"""Journal figures, measured in one run on SQLite (WAL, synchronous=FULL):

1. Sustained durable append rate with 8 writer threads (group commit), against plain
   un-hashed inserts of the same canonical entries into the same database by 8 threads,
   each insert committed before it returns (the same durability promise per entry).
   The batched-insert ceiling (one transaction for everything) is printed for context.
2. Full verification of --verify-size entries (default 1,000,000).
3. Median inclusion proof (storage reads + assembly) at --proof-size entries (default
   10,000,000). The tree is bulk-loaded (leaf hashes and perfect subtrees computed with the
   same Frontier the writer uses, tiny entries, synchronous=OFF during the load only).

    python benchmarks/bench_journal.py [--quick] [--verify-size N] [--proof-size N]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

import rfc8785
import sqlalchemy as sa

from strongroom.clock import SystemClock
from strongroom.events import AccessEvent
from strongroom.journal import Journal, NoteSigner, rfc6962
from strongroom.journal.schema import ensure_schema, make_engine, nid

RESULTS = Path(__file__).resolve().parent / "results" / "journal.json"


def entry(i: int) -> dict:
    return AccessEvent(ts=1_767_225_600.0 + i, kind="access", principal=f"p-{i % 97}",
                       role="police", endpoint="owners.get", outcome="allowed",
                       purpose="investigation", session=f"sess-{i % 13}",
                       subjects=(f"{i:032x}",), fields=("identity.family_name",
                                                        "address.city"), records=1).to_entry()


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


def bench_append(tmp: Path, total: int, threads: int) -> dict:
    url = f"sqlite:///{tmp / 'append.db'}"
    j = Journal.open(url, signer=NoteSigner.generate("bench.local/journal"),
                     clock=SystemClock(), checkpoint_every=10_000)
    per = total // threads
    secs = run_threads(threads, per, lambda i: j.append(entry(i)))
    journal_rate = per * threads / secs
    ok = j.verify().ok
    j.close()

    engine = make_engine(url)  # same file, same pragmas (WAL, synchronous=FULL)
    plain = sa.Table("plain_inserts", sa.MetaData(),
                     sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("entry", sa.LargeBinary, nullable=False))
    with engine.begin() as conn:
        plain.create(conn)
    blobs = [rfc8785.dumps(entry(i)) for i in range(per * threads)]

    def insert(i: int) -> None:
        with engine.connect().execution_options(journal_writer=True) as conn, conn.begin():
            conn.execute(plain.insert().values(entry=blobs[i]))

    secs = run_threads(threads, per, insert)
    plain_rate = per * threads / secs
    t0 = time.perf_counter()
    with engine.connect().execution_options(journal_writer=True) as conn, conn.begin():
        conn.execute(plain.insert(), [{"entry": b} for b in blobs])
    batched_rate = len(blobs) / (time.perf_counter() - t0)
    engine.dispose()
    return {"entries": per * threads, "threads": threads, "journal_per_s": round(journal_rate),
            "plain_committed_inserts_per_s": round(plain_rate),
            "ratio_vs_plain": round(journal_rate / plain_rate, 3),
            "plain_one_transaction_inserts_per_s": round(batched_rate),
            "verified": ok}


def bulk_load(path: Path, size: int, *, full_entries: bool) -> None:
    """Fill a journal database directly (a benchmark fixture, not an API)."""
    engine = make_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    engine.dispose()
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    frontier = rfc6962.Frontier()
    chunk = 200_000
    for start in range(0, size, chunk):
        leaves, nodes, subjects = [], [], []
        for i in range(start, min(size, start + chunk)):
            data = rfc8785.dumps(entry(i)) if full_entries else b'{"i":%d}' % i
            lh = rfc6962.leaf_hash(data)
            leaves.append((i, lh, data, 1_767_225_600.0 + i, f"p-{i % 97}"))
            nodes.extend((nid(lvl, k), h) for lvl, k, h in frontier.append(lh))
            if full_entries:
                subjects.append((f"{i:032x}", i))
        db.executemany("INSERT INTO journal_leaves (idx, leaf_hash, entry, ts, principal, kind,"
                       " outcome) VALUES (?, ?, ?, ?, ?, 'access', 'allowed')", leaves)
        db.executemany("INSERT INTO journal_nodes (nid, hash) VALUES (?, ?)", nodes)
        db.executemany("INSERT INTO journal_subjects (subject, leaf) VALUES (?, ?)", subjects)
        db.commit()
    db.close()


def bench_verify(tmp: Path, size: int) -> dict:
    path = tmp / "verify.db"
    t0 = time.perf_counter()
    bulk_load(path, size, full_entries=True)
    load = time.perf_counter() - t0
    j = Journal.open(f"sqlite:///{path}", signer=NoteSigner.generate("bench.local/journal"),
                     clock=SystemClock())
    j.make_checkpoint()
    t0 = time.perf_counter()
    report = j.verify()
    secs = time.perf_counter() - t0
    j.close()
    return {"entries": size, "verify_seconds": round(secs, 2), "ok": report.ok,
            "bulk_load_seconds": round(load, 1)}


def bench_proof(tmp: Path, size: int, samples: int) -> dict:
    path = tmp / "proof.db"
    t0 = time.perf_counter()
    bulk_load(path, size, full_entries=False)
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
    j.close()
    return {"entries": size, "samples": samples,
            "median_ms": round(statistics.median(times) * 1000, 3),
            "p99_ms": round(sorted(times)[int(samples * 0.99)] * 1000, 3),
            "bulk_load_seconds": round(load, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--append-entries", type=int, default=40_000)
    ap.add_argument("--verify-size", type=int, default=1_000_000)
    ap.add_argument("--proof-size", type=int, default=10_000_000)
    ap.add_argument("--threads", type=int, default=8)
    args = ap.parse_args()
    if args.quick:
        args.append_entries, args.verify_size, args.proof_size = 4_000, 20_000, 100_000
    out: dict = {"backend": "sqlite (WAL, synchronous=FULL)", "quick": args.quick}
    with tempfile.TemporaryDirectory(prefix="bench_journal_") as d:
        tmp = Path(d)
        out["append"] = bench_append(tmp, args.append_entries, args.threads)
        print("append:", out["append"], flush=True)
        out["verify"] = bench_verify(tmp, args.verify_size)
        print("verify:", out["verify"], flush=True)
        out["inclusion_proof"] = bench_proof(tmp, args.proof_size, 2_000)
        print("inclusion proof:", out["inclusion_proof"], flush=True)
    out["targets"] = {"append_per_s": 50_000, "ratio_vs_plain": 0.25,
                      "verify_1M_seconds": 30, "proof_median_ms_at_10M": 1.0}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
