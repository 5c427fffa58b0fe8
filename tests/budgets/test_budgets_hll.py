"""Large subject budgets on Redis count HyperLogLogs per sub-window: approximate (about
0.8 %), bounded in memory, and still refusing once the window holds the limit."""

from __future__ import annotations

from strongroom.budgets import BudgetKeys, Budgets, BudgetSpec, RedisBackend
from strongroom.clock import FakeClock
from strongroom.errors import TooManyRequests

LIMIT = 400
KEYS = BudgetKeys(principal="p1", role="police")


def test_hll_subject_budget_refuses_near_the_limit(hll_backend: RedisBackend) -> None:
    clock = FakeClock()
    b = Budgets(
        [BudgetSpec("subj_day", "principal", "subjects", LIMIT, 86_400)], hll_backend, clock
    )
    assert hll_backend.kind(b.reserve(KEYS).charges[0]) == "h"
    disclosed = 0
    for page in range(100):
        try:
            r = b.reserve(KEYS, subjects=10)
        except TooManyRequests as exc:
            assert exc.extra["budget"] == "subj_day"
            break
        if page:  # rereading the previous page adds no distinct subject
            b.settle(r, 5, [f"subject-{page - 1}-{i}" for i in range(5)])
            r = b.reserve(KEYS, subjects=10)
        b.settle(r, 10, [f"subject-{page}-{i}" for i in range(10)])
        disclosed += 10
        clock.advance(300)
    assert LIMIT * 0.95 <= disclosed <= LIMIT * 1.05
    keys = list(hll_backend.client.scan_iter(match=hll_backend.prefix + "*:h:*"))
    assert 0 < len(keys) <= 31
    clock.advance(86_400 * 31 / 30)  # every sub-window has aged out
    b.reserve(KEYS)
    assert b.state("p1")["budgets"][0]["used"] == 0
