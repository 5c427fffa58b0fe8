"""Detection engine throughput, decision latency and state per principal.

A mixed synthetic stream on the fake clock (many officers at human pace, a few scripted
harvesters sweeping sort keys, search lookups with misses, canary-free subjects) with every
detector on. Reports:
- throughput: events per second through `observe()` on one core (target >= 20,000);
- decision p99: `check()` + `observe()` for one request, in ms (target <= 2 ms);
- state per principal: `state_size_bytes()` max over principals (target <= 2 KiB).
`check()` alone is also reported against a plain dict lookup measured in the same run.
With a Redis server on 127.0.0.1:6379: the same stream through two engines sharing the
detection feed (`detect/feed.py`, each event to one of them in turn), events per second
and the median `observe()` against one engine alone in the same run; and the records a
scraper spread over the workers gets before it is contained, sharing the feed and not.

    python benchmarks/bench_detect.py [--quick] [--events N]
Writes benchmarks/results/detect.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import time
import uuid

from results_dir import results_dir

from strongroom.clock import FakeClock
from strongroom.detect import DetectConfig, DetectionEngine, MemoryContainmentStore
from strongroom.events import AccessEvent

REDIS_URL = os.environ.get("STRONGROOM_TEST_REDIS", "redis://127.0.0.1:6379/0")
RESULTS = results_dir() / "detect.json"
SCRAPER_CEILING = 400
TARGETS = {"events_per_second": 20_000, "decision_p99_ms": 2.0, "state_bytes": 2048}
# Every detector on, acting; the roles of the stream declared as a policy declares them.
DETECTORS = {
    "velocity": {
        "params": {
            "human_ceiling_records_per_minute": {"police": 20, "dealer": 10, "prefecture": 20}
        }
    },
    "breadth": {
        "params": {"daily_subjects_baseline": {"police": 30, "dealer": 20, "prefecture": 40}}
    },
    "context": {"params": {"work_hours": {"dealer": [7, 21], "prefecture": [7, 20]}}},
}


def config() -> DetectConfig:
    return DetectConfig.from_policy_section(DETECTORS, None)


def make_stream(n: int, principals: int, seed: int = 11) -> list[AccessEvent]:
    rnd = random.Random(seed)
    subjects = [str(uuid.uuid4()) for _ in range(5000)]
    agents = ["Mozilla/5.0 (Windows NT 10.0)", "Mozilla/5.0 (X11; Linux)", "python-httpx"]
    ts = 1_767_225_600.0 + 8 * 3600
    keys = [0] * principals
    out = []
    for i in range(n):
        p = rnd.randrange(principals)
        harvester = p < max(1, principals // 50)
        ts += 180.0 / principals  # each principal about 20 requests an hour
        keys[p] = keys[p] + 1 if harvester else rnd.randrange(100_000)
        subs = tuple(rnd.sample(subjects, 1 if rnd.random() < 0.95 else 5))
        out.append(
            AccessEvent(
                ts=ts,
                kind="access",
                principal=f"principal-{p}",
                role=("police", "dealer", "prefecture")[p % 3],
                endpoint="GET /v1/persons",
                outcome="allowed",
                session=f"session-{p}",
                ip=f"10.{p % 200}.{p % 7}.{p % 250}",
                user_agent=agents[p % 3],
                subjects=subs,
                records=len(subs),
                detail={"matched": rnd.random() < 0.9, "query_key": f"q{i}"},
                sort_key=float(keys[p]),
            )
        )
    return out


def scraper_runs(client: object) -> dict[str, int]:
    """Records a scraper (two a second, a new subject each, its requests taken in turn by
    each worker) gets before a worker's check finds it contained: one worker, two and
    four sharing the feed, two and four judging alone."""
    from strongroom.detect.feed import RedisEventFeed

    out = {}
    for name, workers, shared in (
        ("one_worker", 1, False),
        ("two_sharing", 2, True),
        ("four_sharing", 4, True),
        ("two_apart", 2, False),
        ("four_apart", 4, False),
    ):
        clock = FakeClock()
        key = f"bench:scraper:{uuid.uuid4().hex}"
        store = MemoryContainmentStore()
        engines = []
        for w in range(workers):
            feed = RedisEventFeed(client, key, worker=f"w{w}") if shared else None
            engines.append(
                DetectionEngine(
                    config(),
                    clock=clock,
                    store=store,
                    is_canary=frozenset().__contains__,
                    feed=feed,
                )
            )
        served = SCRAPER_CEILING
        for n in range(SCRAPER_CEILING):
            worker = engines[n % workers]
            if worker.check("scraper", "s-1", "198.51.100.7") is not None:
                served = n
                break
            worker.observe(
                AccessEvent(
                    ts=clock.now(),
                    kind="access",
                    principal="scraper",
                    role="police",
                    endpoint="POST /v1/persons/search",
                    outcome="allowed",
                    session="s-1",
                    ip="198.51.100.7",
                    subjects=(str(uuid.UUID(int=n + 1)),),
                    records=1,
                )
            )
            clock.advance(0.5)
        client.delete(key)  # type: ignore[attr-defined]
        out[name] = served
    return out


def feed_run(stream: list[AccessEvent], clock: FakeClock) -> dict[str, object] | None:
    """Two engines on one Redis feed, each event observed by one of them in turn."""
    import redis

    from strongroom.detect.feed import RedisEventFeed

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError:
        print("Redis not reachable: the feed is not measured")
        return None
    key = f"bench:detect:{uuid.uuid4().hex}"
    engines = []
    for w in ("a", "b"):
        feed = RedisEventFeed(client, key, worker=w)
        feed.mark_end()
        engines.append(
            DetectionEngine(
                config(),
                clock=clock,
                store=MemoryContainmentStore(),
                is_canary=frozenset().__contains__,
                feed=feed,
            )
        )
    alone = DetectionEngine(
        config(), clock=clock, store=MemoryContainmentStore(), is_canary=frozenset().__contains__
    )
    try:
        t_alone, t_shared = [], []
        for i, ev in enumerate(stream):
            clock.set(ev.ts)
            t0 = time.perf_counter_ns()
            alone.observe(ev)
            t1 = time.perf_counter_ns()
            engines[i % 2].observe(ev)
            t2 = time.perf_counter_ns()
            t_alone.append(t1 - t0)
            t_shared.append(t2 - t1)
        engines[0].follow()  # the other's last events
    finally:
        client.delete(key)
    return {
        "scraper_served_before_containment": scraper_runs(client),
        "events": len(stream),
        "shared_events_per_second": round(len(stream) / (sum(t_shared) / 1e9)),
        "alone_events_per_second": round(len(stream) / (sum(t_alone) / 1e9)),
        "observe_median_us_shared": round(statistics.median(t_shared) / 1e3, 1),
        "observe_median_us_alone": round(statistics.median(t_alone) / 1e3, 1),
        "same_state": all(
            engines[0].states[p].records_day == alone.states[p].records_day for p in alone.states
        ),
    }


def run(n: int, principals: int) -> dict[str, object]:
    stream = make_stream(n, principals)
    clock = FakeClock(stream[0].ts)
    engine = DetectionEngine(
        config(),
        clock=clock,
        store=MemoryContainmentStore(),
        is_canary=frozenset().__contains__,
    )
    # Throughput: observe() only.
    start = time.perf_counter()
    for ev in stream:
        engine.observe(ev)
    elapsed = time.perf_counter() - start
    eps = n / elapsed

    # Decision latency: check() then observe() per request, on a fresh engine.
    engine2 = DetectionEngine(
        config(),
        clock=clock,
        store=MemoryContainmentStore(),
        is_canary=frozenset().__contains__,
    )
    lat = []
    check_ns = []
    for ev in stream:
        clock.set(ev.ts)
        t0 = time.perf_counter_ns()
        engine2.check(ev.principal, ev.session, ev.ip)
        t1 = time.perf_counter_ns()
        engine2.observe(ev)
        t2 = time.perf_counter_ns()
        lat.append((t2 - t0) / 1e6)
        check_ns.append(t1 - t0)
    lat.sort()
    check_ns.sort()
    plain = {f"principal-{p}": None for p in range(principals)}
    t0 = time.perf_counter_ns()
    for ev in stream:
        plain.get(ev.principal)
    dict_ns = (time.perf_counter_ns() - t0) / n
    sizes = [engine2.state_size_bytes(p) for p in engine2.states]
    contained = sum(1 for p in engine2.states if engine2.check(p, None, None))
    shared = feed_run(stream[: min(n, 20_000)], clock)
    return {
        **({"feed": shared} if shared else {}),
        "events": n,
        "principals": principals,
        "events_per_second": round(eps),
        "decision_median_ms": round(statistics.median(lat), 4),
        "decision_p99_ms": round(lat[int(0.99 * (len(lat) - 1))], 4),
        "check_median_ns": check_ns[len(check_ns) // 2],
        "check_vs_dict_lookup": round(check_ns[len(check_ns) // 2] / max(dict_ns, 1), 1),
        "state_bytes_max": max(sizes),
        "state_bytes_median": int(statistics.median(sizes)),
        "principals_contained": contained,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--events", type=int, default=None)
    args = ap.parse_args()
    n = args.events or (20_000 if args.quick else 200_000)
    res = run(n, principals=200 if args.quick else 2000)
    res["targets"] = TARGETS
    res["meets_targets"] = (
        res["events_per_second"] >= TARGETS["events_per_second"]
        and res["decision_p99_ms"] <= TARGETS["decision_p99_ms"]
        and res["state_bytes_max"] <= TARGETS["state_bytes"]
    )
    res["when"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    res["quick"] = args.quick
    for k, v in res.items():
        print(f"{k:>24}: {v}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
