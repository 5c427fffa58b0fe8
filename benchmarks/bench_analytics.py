"""Analytics release: build time and peak memory at several registry sizes, then a day's
changes applied by an incremental refresh against a full count of the same registry.

For each N of --persons: seeds a registry of N persons (PostgreSQL when reachable at
STRONGROOM_TEST_PG, else and with --sqlite SQLite), builds the release the default policy
declares (every view, the suppression audit, the ledger) in a child process, so its peak
RSS is the build's process's own (most of it is the composed service, reported beside
it). A day's changes follow, by SQL (0.1 % of held weapons transferred, 0.05 % of permits
suspended, 0.02 % of persons banned, 0.01 % moving département), and, a day later on the
child's clock (the week's age-band changes included), an incremental refresh, then a
full build of the same registry: what a refresh cost before it was incremental.

    python benchmarks/bench_analytics.py [--quick] [--persons N [N ...]] [--sqlite] [--home H]
(--quick: 2,000 persons on SQLite, the smoke run every benchmark gets.)
Writes benchmarks/results/analytics.json, with a linear extrapolation to 5 M persons
(labelled as such: not measured).
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


def child(home: str, action: str, days: str) -> dict[str, Any]:
    """Run in a fresh process: build or refresh, `days` after now on its clock; report
    timings and peak RSS."""
    from strongroom.clock import FakeClock
    from strongroom.compose import compose
    from strongroom.config import Home

    svc = compose(Home(home), clock=FakeClock(time.time() + int(days) * 86400))
    composed = rss_mb()
    try:
        started, cpu = time.perf_counter(), time.process_time()
        report = svc.analytics.build(svc.admin.operator(), refresh=action != "build")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        svc.close()
    return {
        "seconds": round(seconds, 2),
        # This process's own CPU: on a shared machine, steadier than the wall clock (the
        # database's work is in the wall time only).
        "cpu_seconds": round(cpu, 2),
        "counted": report.counted,
        "why_full": report.why_full,
        "persons_recounted": report.recounted,
        "counting_seconds": round(report.counting_seconds, 2),
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


def run_child(home: Path, action: str, days: int = 0) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(home), action, str(days)],
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
            movers = rnd.sample(range(1, top + 1), max(1, persons // 10000))
            conn.execute(
                sa.text("UPDATE persons SET departement = '13' WHERE id = :p"),
                [{"p": p} for p in movers],
            )
            changed = conn.execute(
                sa.text("SELECT count(DISTINCT person_id) FROM analytics_changes")
            ).scalar_one()
    finally:
        engine.dispose()
    return {
        "weapons_moved": len(moved),
        "permits_suspended": len(suspended),
        "bans": len(banned),
        "persons_moved": len(movers),
        "persons_changed": changed,
    }


def measure(url: str | None, base: Path, persons: int) -> dict[str, Any]:
    from strongroom.cli.seeding import seed_home
    from strongroom.config import Home
    from strongroom.initialize import initialize

    home = Home(base / "home")
    initialize(home, registry_url=url)
    started = time.perf_counter()
    seed_home(home, persons=persons, seed=1)
    seed_s = time.perf_counter() - started
    return {"seed_seconds": round(seed_s, 1), **measure_home(home, persons)}


def measure_home(home: Any, persons: int, *, rebuild: bool = True) -> dict[str, Any]:
    """Build, a day's changes, the refresh, and (`rebuild`) a full build of the same
    registry; on a home already seeded for `--home` (a registry too large to seed in the
    benchmark's run), where the first build is the full count's figure."""
    settings = home.settings()
    build = run_child(home.path, "build")
    print(
        f"  build: {build['seconds']} s ({build['cpu_seconds']} s CPU), "
        f"peak {build['peak_rss_mb']} MB "
        f"(composed service {build['rss_of_the_composed_service_mb']} MB)",
        flush=True,
    )
    day = a_days_changes(settings.registry_url, persons)
    print(f"  a day: {day['persons_changed']} persons changed", flush=True)
    refresh = run_child(home.path, "refresh", days=1)
    print(
        f"  refresh ({refresh['counted']}, {refresh['persons_recounted']} persons read): "
        f"{refresh['seconds']} s ({refresh['cpu_seconds']} s CPU), "
        f"peak {refresh['peak_rss_mb']} MB",
        flush=True,
    )
    if not rebuild:
        return {
            "persons": persons,
            "build": build,
            "day_changes": day,
            "refresh_after_a_day": refresh,
        }
    full = run_child(home.path, "build", days=1)
    print(
        f"  full build of the same registry: {full['seconds']} s ({full['cpu_seconds']} s CPU)",
        flush=True,
    )
    return {
        "persons": persons,
        "build": build,
        "day_changes": day,
        "refresh_after_a_day": refresh,
        "full_build_after_a_day": full,
    }


def extrapolate(runs: list[dict[str, Any]], to: int = 5_000_000) -> dict[str, Any]:
    """Least-squares lines through the measured sizes, read at `to`: an extrapolation,
    not a measurement. Memory is not extrapolated: the build's own share (peak RSS above
    the composed service) is reported per size, and it does not grow with persons."""

    def line(step: str, figure: str) -> float | None:
        points = [(r["persons"], r[step][figure]) for r in runs if figure in r[step]]
        if len(points) < 2:
            return None
        mx = sum(x for x, _ in points) / len(points)
        my = sum(y for _, y in points) / len(points)
        slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
        return round(my + slope * (to - mx), 1)

    return {
        "persons": to,
        "extrapolated_not_measured": True,
        "build_seconds": line("build", "seconds"),
        "build_cpu_seconds": line("build", "cpu_seconds"),
        "full_build_after_a_day_seconds": line("full_build_after_a_day", "seconds"),
        "incremental_refresh_seconds": line("refresh_after_a_day", "seconds"),
        "incremental_refresh_counting_seconds": line("refresh_after_a_day", "counting_seconds"),
        "build_rss_above_the_service_mb": [
            round(r["build"]["peak_rss_mb"] - r["build"]["rss_of_the_composed_service_mb"], 1)
            for r in runs
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2,000 persons, SQLite")
    parser.add_argument("--persons", type=int, nargs="+", default=[100_000])
    parser.add_argument("--sqlite", action="store_true", help="SQLite only")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument(
        "--home", type=Path, help="measure on this seeded home (upgraded first); no seeding"
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    if args.home:
        return on_home(args.home)
    sizes = [2_000] if args.quick else args.persons
    results: dict[str, Any] = {
        "benchmark": "analytics",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        # The smoke run (--quick) builds on SQLite only: every step, a fraction of the time.
        runs = []
        for persons in sizes:
            made = None if args.sqlite or args.quick else pg_database()
            backend = "sqlite" if made is None else "postgresql"
            print(f"{backend}, {persons:,} persons", flush=True)
            if made is None:
                runs.append(measure(None, base / f"sqlite-{persons}", persons))
                continue
            url, drop = made
            try:
                runs.append(measure(url, base / f"pg-{persons}", persons))
            finally:
                drop()
        results[backend] = runs
        results["extrapolation"] = extrapolate(runs)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    return 0


def on_home(path: Path) -> int:
    import sqlalchemy as sa

    from strongroom.config import Home
    from strongroom.initialize import initialize
    from strongroom.registry.db import make_engine

    home = Home(path)
    settings = initialize(home)  # an existing home: its schema brought to head, keys kept
    engine = make_engine(settings.registry_url)
    try:
        with engine.connect() as conn:
            persons = conn.execute(sa.text("SELECT count(*) FROM persons")).scalar_one()
    finally:
        engine.dispose()
    backend = "postgresql" if settings.registry_url.startswith("postgresql") else "sqlite"
    print(f"{backend}, {persons:,} persons (seeded home {path})", flush=True)
    results = {
        "benchmark": "analytics",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        backend: [measure_home(home, persons, rebuild=False)],
    }
    out = RESULTS.with_name(f"analytics-{persons}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
