"""Concurrent reservations from many threads never overrun a limit, on every backend."""

from __future__ import annotations

import random
import threading

from strongroom.budgets import Backend, BudgetKeys, Budgets, BudgetSpec
from strongroom.clock import FakeClock
from strongroom.errors import TooManyRequests

LIMIT = 500
MAX_PAGE = 20


def test_threads_never_overrun_shared_budgets(backend: Backend) -> None:
    clock = FakeClock()
    b = Budgets(
        [
            BudgetSpec("org_records", "organisation", "records", LIMIT, 3600),
            BudgetSpec("org_requests", "organisation", "requests", 120, 3600),
        ],
        backend,
        clock,
    )
    granted: list[tuple[int, int]] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        rnd = random.Random(n)
        keys = BudgetKeys(principal=f"p{n}", organisation="shop-1", role="dealer")
        start.wait()
        for _ in range(40):
            records = rnd.randint(1, MAX_PAGE)
            try:
                b.reserve(keys, records=records)
            except TooManyRequests:
                continue
            with lock:
                granted.append((1, records))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = sum(r for _, r in granted)
    assert records <= LIMIT and len(granted) <= 120
    # ...and nothing was refused that fitted: the budget was used up, not left idle.
    assert records > LIMIT - MAX_PAGE or len(granted) == 120
    state = b.state("p0", BudgetKeys(principal="p0", organisation="shop-1", role="dealer"))
    used = {row["budget"]: row["used"] for row in state["budgets"]}
    assert used == {"org_records": records, "org_requests": len(granted)}


def test_concurrent_settlements_refund_exactly(backend: Backend) -> None:
    clock = FakeClock()
    b = Budgets([BudgetSpec("rec", "principal", "records", 10_000, 3600)], backend, clock)
    keys = BudgetKeys(principal="p")
    reservations = [b.reserve(keys, records=20) for _ in range(40)]

    def settle(chunk: list[object]) -> None:
        for r in chunk:
            b.settle(r, 3, [])  # type: ignore[arg-type]

    threads = [threading.Thread(target=settle, args=(reservations[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert b.state("p")["budgets"][0]["used"] == 40 * 3
