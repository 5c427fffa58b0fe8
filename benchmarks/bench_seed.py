"""Seeding rate, persons per second, with every identity and address field encrypted, blind
indexes computed and rows written (target: >= 5,000 persons/s).

Seeds a fresh SQLite file (and a fresh PostgreSQL database when one is reachable at
STRONGROOM_TEST_PG) with real file keys, and reports for each backend the rate, the rows per
table and, measured in the same run, the rate of planning alone (no vault, no database), so
the share of encryption and storage is visible whatever the machine.

    python benchmarks/bench_seed.py [--quick] [--persons N] [--workers N] [--no-pg]

With worker processes (the default from 20,000 persons), SQLite is also seeded by one
process in the same run, to show what the workers buy.
Writes benchmarks/results/seed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from results_dir import results_dir
from scratch_pg import pg_database

from strongroom.registry.db import make_engine, upgrade
from strongroom.registry.keystore import registry_vault
from strongroom.registry.seed import seed
from strongroom.registry.seed_parallel import file_vault_factory
from strongroom.registry.seed_plan import Planner
from strongroom.registry.seed_pools import build_pools
from strongroom.vault import FileKeyProvider

RESULTS = results_dir() / "seed.json"
TARGET = 5000.0


def plan_only(persons: int) -> float:
    planner = Planner(build_pools(1), 1, persons, date.today())
    started = time.perf_counter()
    for i in range(persons):
        planner.person(i)
    return persons / (time.perf_counter() - started)


def run(url: str, keys: Path, persons: int, workers: int) -> dict[str, Any]:
    upgrade(url)
    engine = make_engine(url)
    try:
        vault = registry_vault(FileKeyProvider.create(keys), engine)
        if workers < 0:
            workers = (os.cpu_count() or 1) if persons >= 20_000 else 0
        factory = file_vault_factory(keys, url) if workers else None
        report = seed(
            engine, vault, persons=persons, seed=1, workers=workers, vault_factory=factory
        )
    finally:
        engine.dispose()
    return {
        "persons": persons,
        "seconds": round(report.seconds, 2),
        "persons_per_second": round(report.persons_per_second),
        "within_target": report.persons_per_second >= TARGET,
        "workers": report.workers,
        "rows": report.counts,
        "canaries": report.canaries,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10,000 persons")
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument(
        "--workers", type=int, default=-1, help="worker processes (-1: automatic, 0: none)"
    )
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    persons = 10_000 if args.quick else args.persons
    results: dict[str, Any] = {
        "benchmark": "seed",
        "target_persons_per_second": TARGET,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "plan_only_persons_per_second": round(plan_only(min(persons, 20_000))),
    }
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        results["sqlite"] = run(
            f"sqlite:///{base / 'registry.db'}", base / "keys-sqlite", persons, args.workers
        )
        print(f"sqlite: {results['sqlite']['persons_per_second']:,} persons/s")
        if results["sqlite"]["workers"]:
            # Same run, one process: what the worker processes buy on this machine.
            results["sqlite_one_process"] = run(
                f"sqlite:///{base / 'single.db'}", base / "keys-single", persons, 0
            )
            print(
                f"sqlite, one process: "
                f"{results['sqlite_one_process']['persons_per_second']:,} persons/s"
            )
        made = None if args.no_pg else pg_database()
        if made is not None:
            url, drop = made
            try:
                results["postgresql"] = run(url, base / "keys-pg", persons, args.workers)
                print(f"postgresql: {results['postgresql']['persons_per_second']:,} persons/s")
            finally:
                drop()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
