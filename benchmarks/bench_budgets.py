"""Budget check overhead per request, and the same workload through `limits` as the anchor.

One request = reserve + settle against 6 applicable budgets (principal requests/minute,
IP-prefix requests/minute, principal records/hour, organisation subjects/day, principal
subjects/30 days, global records/day), spread over 50 principals in 10 organisations, each
request disclosing 10 records and 2 subjects. Measured on the memory backend and on Redis
(127.0.0.1:6379, or STRONGROOM_BENCH_REDIS), median and p99 in microseconds.

Peer anchor, same run: `limits.strategies.MovingWindowRateLimiter` (what slowapi uses) with
MemoryStorage and RedisStorage, one `hit(item, key, cost=N)` per budget (6 a request; it has
no reservation, refund or distinct-subject count, so subjects are hit with cost 1), and a
single hit (one limit per route, slowapi's usual set-up). Ratios ours / limits cancel out
machine speed.

    python benchmarks/bench_budgets.py [--quick] [--requests N]
Writes benchmarks/results/budgets.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from limits import RateLimitItemPerDay, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter
from results_dir import results_dir

from strongroom.budgets import BudgetKeys, Budgets, BudgetSpec, MemoryBackend, RedisBackend

RESULTS = results_dir() / "budgets.json"
REDIS_URL = os.environ.get("STRONGROOM_BENCH_REDIS", "redis://127.0.0.1:6379/0")
BIG = 10**9  # nothing refuses: we measure the check, not the refusal

SPECS = [
    BudgetSpec("principal_requests_minute", "principal", "requests", BIG, 60),
    BudgetSpec("ip_prefix_requests_minute", "ip_prefix", "requests", BIG, 60),
    BudgetSpec("principal_records_hour", "principal", "records", BIG, 3600),
    BudgetSpec("org_subjects_day", "organisation", "subjects", 5000, 86_400),
    BudgetSpec("principal_subjects_30d", "principal", "subjects", 5000, 30 * 86_400),
    BudgetSpec("global_records_day", "global", "records", BIG, 86_400),
]


def workload(n: int) -> list[tuple[BudgetKeys, list[str]]]:
    out = []
    for i in range(n):
        p = i % 50
        keys = BudgetKeys(
            principal=f"principal-{p}",
            organisation=f"org-{p % 10}",
            ip=f"203.0.{p % 20}.{p}",
            role="dealer",
            endpoint="GET /v1/ledger",
        )
        out.append((keys, [f"subject-{(i * 2 + j) % 4000}" for j in range(2)]))
    return out


def measure(step: Callable[[int], None], n: int, warmup: int) -> dict[str, float]:
    for i in range(warmup):
        step(i)
    times = []
    for i in range(n):
        t0 = time.perf_counter_ns()
        step(i)
        times.append((time.perf_counter_ns() - t0) / 1000)
    times.sort()
    return {
        "median_us": round(statistics.median(times), 1),
        "p99_us": round(times[min(len(times) - 1, int(len(times) * 0.99))], 1),
        "requests": n,
    }


def ours(backend: Any, reqs: list[tuple[BudgetKeys, list[str]]]) -> Callable[[int], None]:
    budgets = Budgets(SPECS, backend)

    def step(i: int) -> None:
        keys, subjects = reqs[i % len(reqs)]
        r = budgets.reserve(keys, records=20, subjects=2)
        budgets.settle(r, 10, subjects)

    return step


def limits_peer(
    storage: Any, reqs: list[tuple[BudgetKeys, list[str]]], single: bool
) -> Callable[[int], None]:
    limiter = MovingWindowRateLimiter(storage)
    minute, hour, day = (
        RateLimitItemPerMinute(BIG),
        RateLimitItemPerHour(BIG),
        RateLimitItemPerDay(5000),
    )
    month = RateLimitItemPerDay(5000, multiples=30)

    def step(i: int) -> None:
        keys, _ = reqs[i % len(reqs)]
        limiter.hit(minute, "principal", keys.principal)
        if single:
            return
        limiter.hit(minute, "prefix", keys.ip_prefix or "")
        limiter.hit(hour, "records", keys.principal, cost=10)
        limiter.hit(day, "org", keys.organisation or "", cost=1)
        limiter.hit(month, "subjects", keys.principal, cost=1)
        limiter.hit(day, "global", cost=10)

    return step


def redis_reachable() -> bool:
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        client.ping()
        client.close()
        return True
    except redis.RedisError:
        return False


def cleanup(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    for i in range(0, len(keys), 1000):
        client.delete(*keys[i : i + 1000])
    client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--requests", type=int, default=None)
    args = parser.parse_args()
    n = args.requests or (500 if args.quick else 5000)
    warmup = max(50, n // 10)
    reqs = workload(1000)
    results: dict[str, Any] = {"specs_per_request": len(SPECS), "requests": n}

    results["strongroom_memory"] = measure(ours(MemoryBackend(), reqs), n, warmup)
    results["limits_moving_window_memory"] = measure(
        limits_peer(MemoryStorage(), reqs, single=False), n, warmup
    )
    results["limits_moving_window_memory_single_hit"] = measure(
        limits_peer(MemoryStorage(), reqs, single=True), n, warmup
    )
    if redis_reachable():
        prefix = f"srbench:{uuid.uuid4().hex[:8]}:"
        try:
            backend = RedisBackend(REDIS_URL, prefix=prefix)
            results["strongroom_redis"] = measure(ours(backend, reqs), n, warmup)
            backend.close()
            storage = RedisStorage(REDIS_URL, key_prefix=prefix + "limits")
            results["limits_moving_window_redis"] = measure(
                limits_peer(storage, reqs, single=False), n, warmup
            )
            results["limits_moving_window_redis_single_hit"] = measure(
                limits_peer(storage, reqs, single=True), n, warmup
            )
        finally:
            cleanup(prefix)
    else:
        results["redis"] = f"skipped: {REDIS_URL} not reachable"

    ratios = {}
    for store in ("memory", "redis"):
        a, b = results.get(f"strongroom_{store}"), results.get(f"limits_moving_window_{store}")
        if a and b:
            ratios[f"{store}_median_ours_over_limits"] = round(a["median_us"] / b["median_us"], 2)
    results["ratios"] = ratios

    for name, row in results.items():
        if isinstance(row, dict) and "median_us" in row:
            print(f"{name:42s} median {row['median_us']:8.1f} us   p99 {row['p99_us']:8.1f} us")
    print("ratios:", ratios)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
