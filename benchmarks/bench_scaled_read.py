"""Issue 20's scaled-read figure: the gated owner read (GET /v1/me: token, policy, budgets,
vault, journal, detectors) served by `strongroom serve --workers 2` on PostgreSQL and Redis,
against the same read with the gate bypassed (benchmarks/bypass_app.py: the same rows from
the same PostgreSQL database, returned as stored) served by uvicorn with the same 2 workers
and options. Both servers run at once on 127.0.0.1 and are measured in turn, alternating
which goes first, for a few rounds of the same load: 16 connections, a different owner per
request (~2,990 owners rotated, each well under its 60 reads an hour), each owner from its
own X-Forwarded-For (the home trusts 127.0.0.1 as a proxy). The gated server gets each
owner's token; the bypass the owner's public ID in its place.

Reported, not asserted: the throughput ratio (gated / bypass answers per second) and the p50
and p99 latency ratios (gated / bypass) of each round and their medians over the rounds,
against the issue's goal (latency ratio <= 1.5); the load average, since client and servers
share the machine. The registry and the journal are scratch PostgreSQL databases (the scaled
deployment, deploy/compose.yaml), dropped at the end; `--journal-sqlite` keeps the journal in
the home. The load generator is wrk (bench_http.py's script); `--quick` uses its small Python
generator and, with no PostgreSQL server outside CI, SQLite. Results: scaled_read.json in
the results folder, and a table on stdout.

    python benchmarks/bench_scaled_read.py [--duration 6] [--rounds 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench_http
from bench_http import (
    OWNER_READS_MAX,
    Load,
    Server,
    bare_cmd,
    build_home,
    count_log_errors,
    ensure_wrk,
    pair,
    run_folders,
    run_python,
    run_wrk,
    serving,
    strongroom_cmd,
    wrk_version,
)
from results_dir import results_dir
from scratch_pg import pg_database

RESULTS = results_dir()
GOAL_LATENCY_RATIO = 1.5
QUICK_REQUESTS = 150


def compare(gated: dict[str, Any], bypass: dict[str, Any]) -> dict[str, Any]:
    def latency_ratio(p: str) -> float | None:
        base = bypass["latency_ms"][p]
        return round(gated["latency_ms"][p] / base, 3) if base else None

    cpu_gated, cpu_bypass = (x["server_cpu_ms_per_request"] for x in (gated, bypass))
    return {
        "gated": gated,
        "bypass": bypass,
        "throughput_ratio": pair(gated, bypass)["ratio"],
        "p50_ratio": latency_ratio("p50"),
        "p99_ratio": latency_ratio("p99"),
        # With every connection busy the servers' CPU is the queue: latency follows it.
        "server_cpu_ratio": round(cpu_gated / cpu_bypass, 3) if cpu_gated and cpu_bypass else None,
    }


def medians(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("throughput_ratio", "p50_ratio", "p99_ratio", "server_cpu_ratio"):
        values = [r[key] for r in rounds if r[key] is not None]
        out[key] = round(statistics.median(values), 3) if values else None
    for key in ("p50", "p99"):
        ratio = out[f"{key}_ratio"]
        out[f"goal_{key}_met"] = ratio is not None and ratio <= GOAL_LATENCY_RATIO
    return out


def databases(
    quick: bool, journal_sqlite: bool
) -> tuple[str | None, str | None, list[Callable[[], None]]]:
    """(registry URL, journal URL, drop functions); None for the home's SQLite file."""
    made = pg_database()
    if made is None:
        if not quick or os.environ.get("CI") == "true":
            raise SystemExit("bench_scaled_read needs PostgreSQL ($STRONGROOM_TEST_PG)")
        print("no PostgreSQL: quick run on SQLite", flush=True)
        return None, None, []
    registry_url, drop_registry = made
    if journal_sqlite:
        return registry_url, None, [drop_registry]
    journal = pg_database()
    if journal is None:
        drop_registry()
        raise SystemExit("PostgreSQL stopped answering: no journal database")
    return registry_url, journal[0], [drop_registry, journal[1]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--persons", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--journal-sqlite", action="store_true", help="journal in the home")
    parser.add_argument("--quick", action="store_true", help="small, no wrk, no install")
    parser.add_argument(
        "--profile", type=Path, help="write py-spy samples of Strongroom's server here"
    )
    args = parser.parse_args()
    bench_http.PROFILE_DIR = args.profile
    if args.profile is not None:
        bench_http.py_spy()  # before any database is made
    if args.quick:
        args.persons, args.rounds = 600, 2

    # A SIGTERM to the benchmark still runs every `finally` (servers stopped, databases
    # dropped, temp removed).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    wrk = None if args.quick else ensure_wrk()
    started = time.perf_counter()
    registry_url, journal_url, drops = databases(args.quick, args.journal_sqlite)
    results: dict[str, Any] = {
        "quick": args.quick,
        "load_generator": "python (asyncio + httpx)" if wrk is None else wrk_version(wrk),
        "seconds_per_run": args.duration if wrk else None,
        "requests_per_run": QUICK_REQUESTS if wrk is None else None,
        "rounds": args.rounds,
        "workers": args.workers,
        "connections": args.connections,
        "registry": "postgresql" if registry_url else "sqlite",
        "journal": "postgresql" if journal_url else "sqlite",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "goal_latency_ratio_max": GOAL_LATENCY_RATIO,
    }
    try:
        with tempfile.TemporaryDirectory(prefix="bench-scaled-") as tmp:
            root = Path(tmp)
            t0 = time.perf_counter()
            fx = build_home(root, args.persons, registry_url=registry_url, journal_url=journal_url)
            print(
                f"home: {args.persons:,} persons on {results['registry']} (journal "
                f"{results['journal']}), {fx.owners:,} owners rotated "
                f"({time.perf_counter() - t0:.1f} s)",
                flush=True,
            )
            results["persons"] = args.persons
            results["owners"] = fx.owners
            env, work = run_folders(root, fx)
            ok = frozenset({200})
            loads = {
                "gated": Load("/v1/me", fx.tokens_file, ok, "token", args.connections),
                "bypass": Load("/v1/me", fx.owner_ids_file, ok, "token", args.connections),
            }

            def measure(server: Server, load: Load, warm: bool = False) -> dict[str, Any]:
                if wrk is None:
                    return run_python(server, load, 20 if warm else QUICK_REQUESTS)
                return run_wrk(wrk, server, load, 2 if warm else args.duration, work)

            log_gated, log_bypass = root / "strongroom.log", root / "bypass.log"
            bypass_cmd = bare_cmd(args.workers, "bypass_app:app")
            rounds: list[dict[str, Any]] = []
            with (
                serving("bypass", bypass_cmd, env, log_bypass) as bypass,
                serving("strongroom", strongroom_cmd(args.workers), env, log_gated) as gated,
            ):
                servers = {"gated": gated, "bypass": bypass}
                for name, server in servers.items():
                    measure(server, loads[name], warm=True)
                for k in range(args.rounds):
                    order = ("bypass", "gated") if k % 2 == 0 else ("gated", "bypass")
                    got = {name: measure(servers[name], loads[name]) for name in order}
                    rounds.append(compare(got["gated"], got["bypass"]))
                    print(line(k + 1, rounds[-1]), flush=True)
                results["max_reads_per_owner"] = gated.reads_per_owner
                if gated.reads_per_owner > OWNER_READS_MAX:
                    print("warning: some owners went over their hourly budget", flush=True)
            results["server_log_errors"] = {
                "gated": count_log_errors(log_gated),
                "bypass": count_log_errors(log_bypass),
            }
    finally:
        for drop in drops:
            drop()
    results["by_round"] = rounds
    results["median"] = medians(rounds)
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    results["seconds"] = round(time.perf_counter() - started, 1)

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scaled_read.json").write_text(json.dumps(results, indent=2))
    print_summary(results)
    print(f"wrote {RESULTS / 'scaled_read.json'} in {results['seconds']} s")
    return 0


def line(k: int, r: dict[str, Any]) -> str:
    g, b = r["gated"], r["bypass"]
    return (
        f"round {k}: gated {g['expected_per_s']:7,.0f}/s p50 {g['latency_ms']['p50']:6.1f} "
        f"p99 {g['latency_ms']['p99']:6.1f} ms | bypass {b['expected_per_s']:7,.0f}/s "
        f"p50 {b['latency_ms']['p50']:6.1f} p99 {b['latency_ms']['p99']:6.1f} ms | "
        f"throughput x{r['throughput_ratio']} p50 x{r['p50_ratio']} p99 x{r['p99_ratio']}"
    )


def print_summary(results: dict[str, Any]) -> None:
    m = results["median"]
    print()
    print(
        f"{results['load_generator']}, {results['workers']} workers, "
        f"{results['connections']} connections, registry {results['registry']}, journal "
        f"{results['journal']}, {results['cpus']} CPUs shared by client and servers; load "
        f"average before {results['load_average_before']}, after "
        f"{results['load_average_after']}"
    )
    for r in results["by_round"]:
        for name in ("gated", "bypass"):
            x = r[name]
            print(
                f"  {name:6} {x['expected_per_s']:8,.0f}/s  unexpected {x['unexpected']:4d}  "
                f"socket errors {x['socket_errors']:3d}  server cpu "
                f"{x['server_cpu_ms_per_request']} ms/request"
            )
    print(
        f"median over {len(results['by_round'])} rounds (gated / bypass): throughput "
        f"x{m['throughput_ratio']}, p50 x{m['p50_ratio']}, p99 x{m['p99_ratio']}, server CPU "
        f"a request x{m['server_cpu_ratio']}"
    )
    for key in ("p50", "p99"):
        met = "met" if m[f"goal_{key}_met"] else "NOT met"
        print(f"goal {key} latency ratio <= {GOAL_LATENCY_RATIO}: {met}")


if __name__ == "__main__":
    sys.exit(main())
