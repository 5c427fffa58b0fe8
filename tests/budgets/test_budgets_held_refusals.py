"""A refused requests budget is held in the process until its Retry-After: a flood of
refused requests costs a dictionary lookup, and the held refusal never outlasts the shared
store's own (another process without it, asked at the same moments, decides alike)."""

from __future__ import annotations

import pytest

from strongroom.budgets import Backend, BudgetKeys, Budgets, BudgetSpec, RedisBackend, core
from strongroom.clock import FakeClock
from strongroom.errors import TooManyRequests


def spec(name: str, key: str, unit: str, limit: int, window: int, **kw: object) -> BudgetSpec:
    return BudgetSpec(name, key, unit, limit, window, **kw)  # type: ignore[arg-type]


def keys(ip: str = "198.51.100.7", principal: str = "anonymous") -> BudgetKeys:
    return BudgetKeys(principal=principal, ip=ip, role="owner", endpoint="GET /v1/me")


def verdict(budgets: Budgets, k: BudgetKeys, **amounts: int) -> str:
    try:
        budgets.reserve(k, **amounts)
    except TooManyRequests as exc:
        return f"refused {exc.extra['budget']} {exc.headers['Retry-After']}"
    return "granted"


def evalsha_calls(backend: RedisBackend) -> int:
    stats = backend.client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


def test_a_held_refusal_asks_the_store_nothing(redis_backend: RedisBackend) -> None:
    clock = FakeClock()
    door = Budgets([spec("prefix_min", "ip_prefix", "requests", 5, 60)], redis_backend, clock)
    for _ in range(5):
        door.reserve(keys())
    first = verdict(door, keys())
    assert first.startswith("refused prefix_min")
    before = evalsha_calls(redis_backend)
    flood = [verdict(door, keys(ip=f"198.51.100.{i}")) for i in range(1, 201)]
    assert evalsha_calls(redis_backend) == before  # the same /24: held, no round trip
    assert set(flood) == {first}
    # another prefix is the store's to decide
    assert verdict(door, keys(ip="203.0.113.9")) == "granted"
    assert evalsha_calls(redis_backend) == before + 1


def test_a_held_refusal_ends_when_the_stores_own_does(backend: Backend) -> None:
    """Two processes over one store, one of them holding the refusal, asked at the same
    moments: they answer alike, up to the moment the store grants again."""
    clock = FakeClock()
    specs = [spec("ip_min", "ip", "requests", 3, 60)]
    holder, other = Budgets(specs, backend, clock), Budgets(specs, backend, clock)
    for _ in range(3):
        holder.reserve(keys())
        clock.advance(7.0)
    answers = []
    for _ in range(60):  # past the first request's expiry, a second at a time
        a, b = verdict(holder, keys()), verdict(other, keys())
        answers.append((a, b))
        if a == "granted":
            break
        clock.advance(1.0)
    # refused alike, Retry-After and all, until the holder is granted again (and the other
    # then refused: the holder took the place that came free)
    assert all(a == b for a, b in answers[:-1]), answers
    assert answers[0][0] == "refused ip_min 40"
    assert answers[-1] == ("granted", "refused ip_min 7")
    assert len(answers) == 41


def test_records_budgets_are_not_held(backend: Backend) -> None:
    """A records reservation refused can fit a moment later, when a query in flight gives
    back what it did not disclose: the store decides every time."""
    clock = FakeClock()
    b = Budgets([spec("rec_hour", "principal", "records", 10, 3600)], backend, clock)
    page = b.reserve(keys(principal="p1"), records=10)
    assert verdict(b, keys(principal="p1"), records=5).startswith("refused rec_hour")
    b.settle(page, 2, [])
    assert verdict(b, keys(principal="p1"), records=5) == "granted"


def test_a_held_refusal_binds_only_as_many_requests_or_more(backend: Backend) -> None:
    clock = FakeClock()
    b = Budgets([spec("case_links", "principal", "requests", 5, 60)], backend, clock)
    b.reserve(keys(principal="p1"), requests=3)
    assert verdict(b, keys(principal="p1"), requests=3).startswith("refused case_links")
    assert verdict(b, keys(principal="p1"), requests=2) == "granted"
    assert verdict(b, keys(principal="p1"), requests=1).startswith("refused case_links")


def test_shadow_budgets_are_never_held(backend: Backend) -> None:
    clock = FakeClock()
    b = Budgets(
        [
            spec("ip_min", "ip", "requests", 2, 60),
            spec("ip_min_shadow", "ip", "requests", 1, 60, shadow=True),
        ],
        backend,
        clock,
    )
    b.reserve(keys())
    b.reserve(keys())
    assert verdict(b, keys()).startswith("refused ip_min ")
    assert len(b._held) == 1 and b._held.get(("ip_min", "198.51.100.7"), clock.now())


def test_the_held_refusals_are_bounded(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    count = 3
    monkeypatch.setattr(core, "HELD_MAX", count)
    clock = FakeClock()
    b = Budgets([spec("ip_min", "ip", "requests", 1, 60)], backend, clock)
    for i in range(10):
        ip = f"192.0.2.{i}"
        b.reserve(keys(ip=ip))
        assert verdict(b, keys(ip=ip)).startswith("refused")
        assert len(b._held) <= count
