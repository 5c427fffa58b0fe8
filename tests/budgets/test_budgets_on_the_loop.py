"""The door's reservation awaited on the event loop (`Budgets.reserve_requests` over Redis):
it counts in the same buckets as the blocking call, and a flood of reservations in flight
at once waits for the loop's bounded connections instead of being refused as if the store
were gone."""

from __future__ import annotations

import asyncio

import pytest

from strongroom.budgets import BudgetKeys, Budgets, BudgetSpec, RedisBackend
from strongroom.clock import FakeClock
from strongroom.errors import TooManyRequests

LIMIT = 4


def keys(ip: str = "198.51.100.7") -> BudgetKeys:
    return BudgetKeys(principal="anonymous", ip=ip)


def test_awaited_and_blocking_reservations_share_the_bucket(
    redis_backend: RedisBackend,
) -> None:
    budgets = Budgets(
        [BudgetSpec("prefix_min", "ip_prefix", "requests", LIMIT, 60)],
        redis_backend,
        FakeClock(),
    )

    async def awaited() -> None:
        for _ in range(LIMIT // 2):
            await budgets.reserve_requests(keys())

    asyncio.run(awaited())
    for _ in range(LIMIT // 2):
        budgets.reserve(keys())
    with pytest.raises(TooManyRequests) as refused:
        asyncio.run(budgets.reserve_requests(keys(ip="198.51.100.200")))  # the same /24
    assert refused.value.extra["budget"] == "prefix_min"


def test_three_hundred_reservations_in_flight_at_once(redis_backend: RedisBackend) -> None:
    limit = 1_000
    budgets = Budgets([BudgetSpec("prefix_min", "ip_prefix", "requests", limit, 60)], redis_backend)

    async def flood() -> list[object]:
        return await asyncio.gather(
            *(budgets.reserve_requests(keys(ip=f"203.0.113.{i % 250 + 1}")) for i in range(300)),
            return_exceptions=True,
        )

    answers = asyncio.run(flood())
    failed = [type(a).__name__ for a in answers if isinstance(a, BaseException)]
    assert failed == []  # a pool that refused a 101st command in flight: 200 x Unavailable
    state = budgets.state("anonymous", keys(ip="203.0.113.1"))
    [row] = state["budgets"]
    assert row["used"] == 300
