"""Export generation rate and memory.

Seeds a SQLite registry with N permits of one département expiring within the window
(persons + permits, bulk inserts), then runs the whole export path through the real gate
and journal: request, approve, generate (query, minimize, canaries, case fingerprint on
both ID columns, CSV or JSON Lines to disk with SHA-256), download (stream the bytes once),
and trace a 50-row fragment. Exports of N/10 rows run first in the same process, so the
peak-RSS growth between the small and the full export shows whether memory is bounded
(it should not grow with N). Seeding runs in a child process so its memory is not
counted.

    python benchmarks/bench_exports.py [--quick] [--rows N]
Writes benchmarks/results/exports.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from results_dir import results_dir
from sqlalchemy import insert

from strongroom.clock import FakeClock
from strongroom.context import Caller
from strongroom.exports import ExportDesk, ExportStore, Watermark, export_key
from strongroom.gate import Pipeline
from strongroom.journal import Journal
from strongroom.policy import compile_policy, load_default_policy
from strongroom.registry.db import make_engine
from strongroom.registry.models import Base, Permit, Person
from strongroom.registry.repository import Registry

RESULTS = results_dir() / "exports.json"
DATASET = "departement_permits_expiring"
FIELDS = [
    "ref.person_id",
    "ref.permit_id",
    "permit.kind",
    "permit.categories",
    "permit.expires",
    "address.departement",
]
TODAY = date(2026, 1, 1)


class _OpenBudgets:
    def reserve(self, keys: Any, **_: Any) -> None:
        return None

    def settle(self, *_: Any) -> None:
        return None

    def headers(self, _: Any) -> dict[str, str]:
        return {}


class _QuietDetector:
    def observe(self, event: Any) -> list[Any]:
        return []

    def check(self, *_: Any, **__: Any) -> None:
        return None

    def throttle_factor(self, _: str) -> float:
        return 1.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seed(engine: Any, n: int) -> None:
    rnd = random.Random(1)
    chunk = 50_000
    with engine.begin() as conn:
        for start in range(0, n, chunk):
            size = min(chunk, n - start)
            conn.execute(
                insert(Person),
                [
                    {"id": start + i + 1, "public_id": str(_uuid4(rnd)), "departement": "75"}
                    for i in range(size)
                ],
            )
            conn.execute(
                insert(Permit),
                [
                    {
                        "public_id": str(_uuid4(rnd)),
                        "person_id": start + i + 1,
                        "number_bidx": rnd.randbytes(16),
                        "kind": ("hunting", "sport")[i % 2],
                        "categories": ("C", "B,C")[i % 2],
                        "issued": TODAY - timedelta(5000),
                        "expires": TODAY + timedelta(days=1 + (start + i) % 170),
                        "status": "valid",
                    }
                    for i in range(size)
                ],
            )


def _uuid4(rnd: random.Random) -> str:
    import uuid

    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


def run_export(desk: ExportDesk, policy: Any, fmt: str, max_rows: int) -> dict[str, Any]:
    spec = desk.spec.datasets[DATASET].model_copy(update={"max_rows": max_rows})
    desk.spec = desk.spec.model_copy(update={"datasets": {**desk.spec.datasets, DATASET: spec}})
    agent = Caller(
        principal_id="agent-1",
        role="prefecture",
        purpose="case_work",
        case="C-1",
        justification="renewal letters, benchmark",
        departement="75",
        scopes=frozenset(policy.role("prefecture").scopes),
    )
    admin = Caller(
        principal_id="admin-1",
        role="admin",
        purpose="administration",
        scopes=frozenset(policy.role("admin").scopes),
    )
    export_id = desk.request(
        agent, dataset=DATASET, fields=FIELDS, justification="renewal letters, benchmark", fmt=fmt
    ).body["id"]
    desk.approve(admin, export_id)
    t0 = time.perf_counter()
    rec = desk.generate(agent, export_id).body
    gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, dl = desk.download(agent, export_id)
    size = 0
    sample: list[str] = []
    tail = b""
    for chunk in dl.chunks():
        size += len(chunk)
        if len(sample) < 2000:
            lines = (tail + chunk).split(b"\n")
            tail = lines.pop()
            sample.extend(x.decode() for x in lines[:2000])
    dl_s = time.perf_counter() - t0
    fragment = random.Random(3).sample(sample[1:], 50)
    t0 = time.perf_counter()
    hits = desk.trace(admin, fragment)
    trace_s = time.perf_counter() - t0
    return {
        "format": fmt,
        "rows": rec["rows"],
        "bytes": size,
        "generate_seconds": round(gen, 3),
        "rows_per_second": round(rec["rows"] / gen),
        "download_mb_per_second": round(size / dl_s / 1e6, 1),
        "trace_50_rows_ms": round(trace_s * 1000, 1),
        "trace_named_it": [h["id"] for h in hits] == [export_id],
        "peak_rss_mb_after": round(peak_rss_mb(), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="50,000 rows")
    ap.add_argument("--rows", type=int, default=None, help="rows (default 1,000,000)")
    ap.add_argument("--seed-into", help=argparse.SUPPRESS)
    args = ap.parse_args()
    n = args.rows or (50_000 if args.quick else 1_000_000)
    if args.seed_into:  # the child: seeding's memory stays out of the measured process
        engine = make_engine(args.seed_into)
        Base.metadata.create_all(engine)
        seed(engine, n)
        return
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        clock = FakeClock()
        url = f"sqlite:///{tmp / 'registry.db'}"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--rows", str(n), "--seed-into", url], check=True)
        seed_s = time.perf_counter() - t0
        engine = make_engine(url)
        store = ExportStore(engine)
        store.create_tables()
        rss_seeded = peak_rss_mb()
        policy = compile_policy(load_default_policy(), os.urandom(32), clock=clock)
        journal = Journal.open(f"sqlite:///{tmp / 'journal.db'}", signer=None, clock=clock)
        pipeline = Pipeline(
            registry=Registry(engine),
            policy=policy,
            budgets=_OpenBudgets(),  # type: ignore[arg-type]
            journal=journal,
            detector=_QuietDetector(),  # type: ignore[arg-type]
            clock=clock,
        )
        desk = ExportDesk(
            pipeline=pipeline,
            store=store,
            engine=engine,
            spec=policy.policy.exports,
            watermark=Watermark(export_key(os.urandom(32))),
            exports_dir=tmp / "exports",
            clock=clock,
            is_honey=lambda _public_id: False,  # the bulk-loaded rows hold no honey record
        )
        small = run_export(desk, policy, "csv", n // 10)
        full = [run_export(desk, policy, fmt, n) for fmt in ("csv", "jsonl")]
        journal.close()
    result = {
        "rows_requested": n,
        "seed_seconds": round(seed_s, 1),
        "peak_rss_mb_before_exports": round(rss_seeded, 1),
        "small": small,
        "full": full,
        "rss_growth_mb_small_to_full": round(
            full[0]["peak_rss_mb_after"] - small["peak_rss_mb_after"], 1
        ),
        "python": sys.version.split()[0],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for r in [small, *full]:
        print(
            f"{r['format']:>5} {r['rows']:>9,} rows: {r['rows_per_second']:>9,} rows/s, "
            f"download {r['download_mb_per_second']} MB/s, trace(50 rows) "
            f"{r['trace_50_rows_ms']} ms, named={r['trace_named_it']}, "
            f"peak RSS {r['peak_rss_mb_after']} MB"
        )
    print(
        f"peak RSS before exports {rss_seeded:.1f} MB; growth small->full "
        f"{result['rss_growth_mb_small_to_full']} MB  -> {RESULTS}"
    )


if __name__ == "__main__":
    main()
