"""The blind-index key's online rotation on a seeded home, for bench_person_keys.py: the
re-index rate, and exact-search latency through the ASGI app outside and during it."""

from __future__ import annotations

import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SEARCHES_PER_OFFICER = 20


def _rotate(home: str, out: Any) -> None:
    """In a process of its own, as the CLI command runs: the re-index, timed."""
    from strongroom.compose import compose
    from strongroom.config import Home

    svc = compose(Home(Path(home)))
    try:
        # The rotation waits for every process's cached key states to expire before it
        # walks the rows (this benchmark's searcher is such a process): the walk starts then.
        began = time.time() + 2 * svc.vault.index_ring.ttl
        done = svc.admin.rotate_blind_index("benchmark")
        out.put({"began": began, "ended": time.time(), **done})
    finally:
        svc.close()


class Searcher:
    """Exact searches through the ASGI app, as police officers (a new one every
    SEARCHES_PER_OFFICER searches, a simulated minute between searches: the budgets and
    detectors judge ordinary work, not this loop)."""

    def __init__(self, svc: Any, clock: Any, people: list[tuple[str, str, str]]) -> None:
        from fastapi.testclient import TestClient

        from strongroom.api.app import create_app

        self.svc, self.clock, self.people = svc, clock, people
        self.client = TestClient(create_app(svc), raise_server_exceptions=False)
        self.n = 0
        self.officer = ""

    def once(self) -> tuple[float, float]:
        if self.n % SEARCHES_PER_OFFICER == 0:
            self.officer = self.svc.admin.add_principal(role="police", label="bench")
        self.clock.advance(60)
        token = self.svc.token_issuer.issue(role="police", subject=self.officer)
        pid, name, dob = self.people[self.n % len(self.people)]
        self.n += 1
        t0 = time.perf_counter()
        r = self.client.post(
            "/v1/persons/search",
            headers={"Authorization": f"Bearer {token}"},
            json={"family_name": name, "birth_date": dob},
        )
        took = time.perf_counter() - t0
        if r.status_code != 200 or pid not in r.text:
            raise SystemExit(f"search failed during the benchmark: {r.status_code} {r.text}")
        return time.time(), took


def _summary(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1e3 for s in samples)
    return {
        "n": len(ms),
        "p50": round(statistics.median(ms), 2),
        "p95": round(ms[int(0.95 * (len(ms) - 1))], 2),
    }


def rotation_figures(home: Path, persons: int) -> dict[str, Any]:
    from strongroom.clock import FakeClock
    from strongroom.compose import compose
    from strongroom.config import Home

    cli = str(Path(sys.executable).parent / "strongroom")
    env = {**os.environ, "STRONGROOM_HOME": str(home)}
    for args in (["init"], ["seed", "--persons", str(persons)]):
        subprocess.run([cli, *args], env=env, check=True, capture_output=True)
    clock = FakeClock()
    svc = compose(Home(home), clock=clock)
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.deployment import searchable_people

        searcher = Searcher(svc, clock, searchable_people(svc, 50))
        outside = [searcher.once()[1] for _ in range(100)]
        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        child = ctx.Process(target=_rotate, args=(str(home), out))
        child.start()
        samples: list[tuple[float, float]] = []
        while child.is_alive():
            samples.append(searcher.once())
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"the rotation process failed (exit {child.exitcode})")
        done = out.get(timeout=10)
        during = [took for at, took in samples if done["began"] <= at <= done["ended"]]
        after = [searcher.once()[1] for _ in range(100)]
        secs = done["ended"] - done["began"]
        return {
            "persons": persons,
            "rows": done["reindexed"],
            "rotation_s": round(secs, 2),
            "rows_per_s": round(done["reindexed"] / secs),
            "search_outside_ms": _summary(outside),
            "search_during_ms": _summary(during) if during else {"n": 0},
            "search_after_ms": _summary(after),
            "database": "sqlite",
        }
    finally:
        svc.close()
