"""Analytics release: build time and peak memory, then a refresh after a day's changes.

Seeds a registry of N persons (PostgreSQL when reachable at STRONGROOM_TEST_PG, else and
with --sqlite SQLite), then builds the release the default policy declares (every view,
the suppression audit, the ledger) in a child process, so its peak RSS is the build's
process's own (most of it is the composed service, reported beside it). A day's changes
follow (0.1 % of held weapons transferred, 0.05 % of permits suspended, 0.02 % of persons
banned, by SQL) and a refresh, in another child; a last refresh under tracemalloc gives
the build's own allocation peak.

    python benchmarks/bench_analytics.py [--quick] [--persons N] [--sqlite]
(--quick: 2,000 persons on SQLite, the smoke run every benchmark gets.)
Writes benchmarks/results/analytics.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from results_dir import results_dir
from scratch_pg import pg_database

RESULTS = results_dir() / "analytics.json"


def rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def child(home: str, action: str) -> dict[str, Any]:
    """Run in a fresh process: build or refresh, report timings and peak RSS. `trace`
    refreshes under tracemalloc (slower, so untimed): the build's own allocation peak,
    which the process's RSS hides behind the composed service's."""
    import tracemalloc

    from strongroom.compose import compose
    from strongroom.config import Home

    svc = compose(Home(home))
    composed = rss_mb()
    try:
        if action == "trace":
            tracemalloc.start()
        started = time.perf_counter()
        report = svc.analytics.build(svc.admin.operator(), refresh=action != "build")
        seconds = time.perf_counter() - started
        if action == "trace":
            return {"build_allocations_peak_mb": round(tracemalloc.get_traced_memory()[1] / 1e6, 1)}
    finally:
        svc.close()
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": rss_mb(),
        "rss_of_the_composed_service_mb": composed,
        "persons_counted": report.persons,
        "release": report.release,
        "suppressed_cells": report.suppressed,
        "primary": report.primary,
        "complements": report.complements,
        "rows": {v.name: v.rows for v in report.views},
        "withheld_persons_row_views": {
            v.name: v.withheld for v in report.views if v.kind == "rows"
        },
    }


def run_child(home: Path, action: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(home), action],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def a_days_changes(url: str, persons: int) -> dict[str, int]:
    """What a day brings to a registry of this size, written straight to the tables."""
    import sqlalchemy as sa

    from strongroom.registry.db import make_engine

    rnd = random.Random(7)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            top = conn.execute(sa.text("SELECT max(id) FROM persons")).scalar_one()
            held = [
                r[0]
                for r in conn.execute(
                    sa.text("SELECT id FROM weapons WHERE holder_id IS NOT NULL ORDER BY id")
                )
            ]
            moved = rnd.sample(held, max(1, len(held) // 1000))
            for wid in moved:
                conn.execute(
                    sa.text("UPDATE weapons SET holder_id = :h WHERE id = :w"),
                    {"h": rnd.randint(1, top), "w": wid},
                )
            permits = [r[0] for r in conn.execute(sa.text("SELECT id FROM permits"))]
            suspended = rnd.sample(permits, max(1, len(permits) // 2000))
            conn.execute(
                sa.text("UPDATE permits SET status = 'suspended' WHERE id = :p"),
                [{"p": p} for p in suspended],
            )
            banned = rnd.sample(range(1, top + 1), max(1, persons // 5000))
            conn.execute(
                sa.text("INSERT INTO bans (person_id, since, until) VALUES (:p, :s, NULL)"),
                [{"p": p, "s": date(2026, 1, 1)} for p in banned],
            )
    finally:
        engine.dispose()
    return {"weapons_moved": len(moved), "permits_suspended": len(suspended), "bans": len(banned)}


def measure(url: str | None, base: Path, persons: int) -> dict[str, Any]:
    from strongroom.cli.seeding import seed_home
    from strongroom.config import Home
    from strongroom.initialize import initialize

    home = Home(base / "home")
    settings = initialize(home, registry_url=url)
    started = time.perf_counter()
    seed_home(home, persons=persons, seed=1)
    seed_s = time.perf_counter() - started
    build = run_child(home.path, "build")
    print(f"  build: {build['seconds']} s, peak {build['peak_rss_mb']} MB", flush=True)
    day = a_days_changes(settings.registry_url, persons)
    refresh = run_child(home.path, "refresh")
    print(f"  refresh: {refresh['seconds']} s, peak {refresh['peak_rss_mb']} MB", flush=True)
    traced = run_child(home.path, "trace")
    print(f"  the build's own allocations peak at {traced['build_allocations_peak_mb']} MB")
    return {
        "persons": persons,
        "seed_seconds": round(seed_s, 1),
        "build": build,
        "day_changes": day,
        "refresh_after_a_day": refresh,
        **traced,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2,000 persons, SQLite")
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--sqlite", action="store_true", help="SQLite only")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    persons = 2_000 if args.quick else args.persons
    results: dict[str, Any] = {
        "benchmark": "analytics",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        # The smoke run (--quick) builds on SQLite only: every step, a fraction of the time.
        made = None if args.sqlite or args.quick else pg_database()
        if made is not None:
            url, drop = made
            try:
                print(f"postgresql, {persons:,} persons", flush=True)
                results["postgresql"] = measure(url, base / "pg", persons)
            finally:
                drop()
        else:
            print(f"sqlite, {persons:,} persons", flush=True)
            results["sqlite"] = measure(None, base / "sqlite", persons)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
