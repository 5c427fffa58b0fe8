"""Issue 5 figure: throughput of a protected read (police weapon lookup through the API:
token, gate, policy, journal, detectors) with budgets on (memory, then Redis on loopback)
versus off, measured in one run on one seeded home.

    python benchmarks/bench_budgets_http.py [--requests 3000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

from results_dir import results_dir

RESULTS = results_dir()
REDIS_URL = "redis://127.0.0.1:6379/0"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.requests = 600

    import redis
    from fastapi.testclient import TestClient

    from strongroom.api.app import create_app
    from strongroom.budgets import Budgets, MemoryBackend, RedisBackend
    from strongroom.cli.seeding import seed_home
    from strongroom.clock import FakeClock
    from strongroom.compose import budget_specs, compose
    from strongroom.config import Home
    from strongroom.initialize import initialize

    results: dict[str, object] = {"requests": args.requests}
    prefix = f"srbench:{uuid.uuid4().hex[:8]}:"
    with tempfile.TemporaryDirectory() as tmp:
        home = Home(Path(tmp) / "home")
        initialize(home)
        report = seed_home(home, persons=2000, seed=5)
        serial = report.fixtures["weapon_serial"]
        clock = FakeClock(time.time())
        svc = compose(home, clock=clock)
        client = TestClient(create_app(svc))
        specs = budget_specs(svc.policy)
        variants = {
            "off": Budgets([], MemoryBackend(), clock),
            "memory": Budgets(specs, MemoryBackend(), clock),
            "redis": Budgets(specs, RedisBackend(REDIS_URL, prefix=prefix), clock),
        }
        rates: dict[str, float] = {}
        for rnd in range(2):  # two rounds, interleaved, keep the best of each
            for name, budgets in variants.items():
                svc.pipeline.budgets = budgets
                done, headers, started = 0, {}, time.perf_counter()
                for i in range(args.requests):
                    if i % 25 == 0:  # a fresh officer every 25 reads: human-sized budgets
                        officer = svc.admin.add_principal(role="police", label="bench")
                        headers = {
                            "Authorization": "Bearer "
                            + svc.token_issuer.issue(role="police", subject=officer, lifetime=3600)
                        }
                    clock.advance(3)
                    r = client.post("/v1/weapons/lookup", json={"serial": serial}, headers=headers)
                    done += r.status_code == 200
                elapsed = time.perf_counter() - started
                rate = done / elapsed
                rates[name] = max(rates.get(name, 0.0), rate)
                print(f"round {rnd} {name}: {rate:,.0f} reads/s ({done} ok)", flush=True)
        svc.close()
    r = redis.Redis.from_url(REDIS_URL)
    for key in r.scan_iter(match=prefix + "*"):
        r.delete(key)
    results.update(
        {
            "reads_per_s": {k: round(v, 1) for k, v in rates.items()},
            "ratio_memory_vs_off": round(rates["memory"] / rates["off"], 3),
            "ratio_redis_vs_off": round(rates["redis"] / rates["off"], 3),
            "targets": {"memory": 0.85, "redis": 0.7},
        }
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "budgets_http.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
