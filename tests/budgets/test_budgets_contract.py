"""The budget contract, run on every backend (memory, real Redis): each test is one way a
bulk extraction is attempted, and the budget that must stop it."""

from __future__ import annotations

import pytest

from strongroom.budgets import Backend, BudgetKeys, Budgets, BudgetSpec
from strongroom.clock import FakeClock
from strongroom.errors import TooManyRequests

DAY = 86_400


def spec(name: str, key: str, unit: str, limit: int, window: int, **kw: object) -> BudgetSpec:
    return BudgetSpec(name, key, unit, limit, window, **kw)  # type: ignore[arg-type]


def who(principal: str = "p1", **kw: str) -> BudgetKeys:
    kw.setdefault("ip", "198.51.100.7")
    kw.setdefault("role", "police")
    kw.setdefault("endpoint", "GET /v1/persons/{id}")
    return BudgetKeys(principal=principal, **kw)


def refused_by(budgets: Budgets, keys: BudgetKeys, **amounts: int) -> str | None:
    try:
        budgets.reserve(keys, **amounts)
    except TooManyRequests as exc:
        return str(exc.extra["budget"])
    return None


def test_full_pages_under_the_request_rate_stop_at_the_record_budget(backend: Backend) -> None:
    clock = FakeClock()
    b = Budgets(
        [
            spec("req_min", "principal", "requests", 60, 60),
            spec("rec_hour", "principal", "records", 200, 3600),
        ],
        backend,
        clock,
    )
    granted = 0
    for _ in range(30):  # 50 requests a minute: under the request rate
        try:
            r = b.reserve(who(), records=20)
        except TooManyRequests as exc:
            assert exc.extra["budget"] == "rec_hour"
            break
        b.settle(r, 20, [])
        granted += 1
        clock.advance(1.2)
    assert granted == 10  # 200 records / 20 a page


def test_slow_paging_through_many_subjects_stops_at_the_subject_budget(backend: Backend) -> None:
    clock = FakeClock()
    b = Budgets(
        [
            spec("req_min", "principal", "requests", 60, 60),
            spec("subj_day", "principal", "subjects", 30, DAY),
        ],
        backend,
        clock,
    )
    pages = 0
    for page in range(20):
        try:
            r = b.reserve(who(), records=5, subjects=5)
        except TooManyRequests as exc:
            assert exc.extra["budget"] == "subj_day"
            break
        b.settle(r, 5, [f"subject-{page}-{i}" for i in range(5)])
        pages += 1
        clock.advance(600)  # one page every ten minutes
    assert pages == 6


def test_rereading_the_same_subjects_does_not_spend_the_subject_budget(backend: Backend) -> None:
    clock = FakeClock()
    b = Budgets([spec("subj_day", "principal", "subjects", 6, DAY)], backend, clock)
    for _ in range(50):
        b.settle(b.reserve(who(), subjects=5), 5, [f"s{i}" for i in range(5)])
        clock.advance(60)
    assert b.state("p1")["budgets"][0]["used"] == 5
    b.settle(b.reserve(who(), subjects=1), 1, ["s-new"])
    assert refused_by(b, who(), subjects=1) == "subj_day"  # at the limit: even rereads wait


def test_burst_from_one_prefix_with_many_accounts_stops_at_the_prefix_budget(
    backend: Backend,
) -> None:
    clock = FakeClock()
    b = Budgets(
        [
            spec("principal_min", "principal", "requests", 10, 60),
            spec("prefix_min", "ip_prefix", "requests", 30, 60),
        ],
        backend,
        clock,
    )
    granted, refusals = 0, set()
    for account in range(10):
        for _ in range(5):  # each account stays well under its own limit
            name = refused_by(b, who(f"acct-{account}", ip=f"203.0.113.{account + 1}"))
            if name is None:
                granted += 1
            else:
                refusals.add(name)
    assert granted == 30
    assert refusals == {"prefix_min"}
    assert refused_by(b, who("acct-x", ip="192.0.2.1")) is None  # another /24 is served


def test_organisation_budget_is_shared_by_a_dealers_accounts(backend: Backend) -> None:
    clock = FakeClock()
    b = Budgets(
        [
            spec(
                "org_subjects_day", "organisation", "subjects", 10, DAY, roles=frozenset({"dealer"})
            )
        ],
        backend,
        clock,
    )
    alice = who("alice", organisation="shop-1", role="dealer")
    bob = who("bob", organisation="shop-1", role="dealer")
    b.settle(b.reserve(alice, subjects=6), 6, [f"a{i}" for i in range(6)])
    b.settle(b.reserve(bob, subjects=4), 4, [f"b{i}" for i in range(4)])
    assert refused_by(b, bob) == "org_subjects_day"
    assert refused_by(b, alice) == "org_subjects_day"
    assert refused_by(b, who("carol", organisation="shop-2", role="dealer")) is None
    assert refused_by(b, who("dave", role="police")) is None  # not a dealer: not counted


def test_reserve_then_settle_returns_unused_records(backend: Backend) -> None:
    clock = FakeClock()
    b = Budgets([spec("rec_hour", "principal", "records", 100, 3600)], backend, clock)
    r = b.reserve(who(), records=60)
    assert refused_by(b, who(), records=60) == "rec_hour"  # the worst case is held
    clock.advance(5)
    b.settle(r, 10, [])
    b.settle(r, 0, [])  # a second settlement refunds nothing more
    assert b.state("p1")["budgets"][0]["used"] == 10
    r2 = b.reserve(who(), records=90)
    assert refused_by(b, who(), records=1) == "rec_hour"
    b.settle(r2, 95, [])  # more than reserved was disclosed: the excess is charged too
    assert b.state("p1")["budgets"][0]["used"] == 105


def test_all_or_nothing_when_one_budget_refuses(backend: Backend) -> None:
    clock = FakeClock()
    b = Budgets(
        [
            spec("req_min", "principal", "requests", 100, 60),
            spec("rec_min", "principal", "records", 10, 60),
        ],
        backend,
        clock,
    )
    b.reserve(who(), records=10)
    for _ in range(5):
        assert refused_by(b, who(), records=5) == "rec_min"
    used = {row["budget"]: row["used"] for row in b.state("p1")["budgets"]}
    assert used == {"req_min": 1, "rec_min": 10}


def test_a_simulated_day_replays_in_milliseconds(backend: Backend) -> None:
    clock = FakeClock()
    b = Budgets([spec("req_day", "principal", "requests", 100, DAY)], backend, clock)
    granted = 0
    for _ in range(144):  # one request every ten minutes for a day
        granted += refused_by(b, who()) is None
        clock.advance(600)
    assert granted == 100
    clock.advance(DAY)  # the day ages out of the sliding window
    assert refused_by(b, who()) is None


def test_the_monthly_budget_catches_pacing_under_the_daily_one(backend: Backend) -> None:
    clock = FakeClock()
    b = Budgets(
        [
            spec("subj_day", "principal", "subjects", 50, DAY),
            spec("subj_30d", "principal", "subjects", 600, 30 * DAY),
        ],
        backend,
        clock,
    )
    stopped_on = None
    for day in range(30):
        for page in range(4):  # 40 new persons a day: under the daily 50
            name = refused_by(b, who(), subjects=10)
            if name is not None:
                assert name == "subj_30d"
                stopped_on = day
                break
            b.settle(b.reserve(who(), subjects=10), 10, [f"d{day}-p{page}-{i}" for i in range(10)])
            clock.advance(3600)
        if stopped_on is not None:
            break
        clock.advance(DAY - 4 * 3600)
    assert stopped_on == 15  # 15 days x 40 = 600
    clock.advance(31 * DAY)
    assert refused_by(b, who(), subjects=10) is None


def test_shadow_budget_counts_but_never_refuses(backend: Backend) -> None:
    clock = FakeClock()
    b = Budgets(
        [spec("req_min_shadow", "principal", "requests", 3, 60, shadow=True)], backend, clock
    )
    for _ in range(10):
        assert refused_by(b, who()) is None
    row = b.state("p1")["budgets"][0]
    assert (row["used"], row["would_refuse"], row["shadow"]) == (10, 7, True)


def test_retry_after_is_when_the_budget_has_room_again(backend: Backend) -> None:
    clock = FakeClock()  # starts on a whole minute
    b = Budgets([spec("req_min", "principal", "requests", 5, 60)], backend, clock)
    for _ in range(5):
        b.reserve(who())
    clock.advance(10)
    with pytest.raises(TooManyRequests) as info:
        b.reserve(who())
    retry = int(info.value.headers["Retry-After"])
    assert retry == 51  # charged in the second [0, 1): counted until second 61
    assert info.value.status == 429 and info.value.extra["retry_after"] == retry
    clock.advance(retry - 1)
    assert refused_by(b, who()) == "req_min"
    clock.advance(1)
    assert refused_by(b, who()) is None


def test_state_lists_each_budget_for_an_admin(backend: Backend) -> None:
    clock = FakeClock()
    b = Budgets(
        [
            spec("req_min", "principal", "requests", 5, 60),
            spec("prefix_min", "ip_prefix", "requests", 50, 60),
            spec("owners", "principal", "requests", 5, 60, roles=frozenset({"owner"})),
        ],
        backend,
        clock,
    )
    b.reserve(who(), requests=2)
    state = b.state("p1")
    assert state["known"] is True
    rows = {row["budget"]: row for row in state["budgets"]}
    assert set(rows) == {"req_min", "prefix_min"}  # police: the owner budget is not theirs
    assert rows["req_min"]["remaining"] == 3 and rows["req_min"]["window_seconds"] == 60
    assert rows["prefix_min"]["shared"] is True
    assert "198.51.100" not in str(state)  # key values are not shown
    assert b.state("stranger")["known"] is False


def test_min_records_shrinks_a_reservation_to_what_is_left(backend: Backend) -> None:
    clock = FakeClock()
    b = Budgets(
        [
            spec("rec_hour", "principal", "records", 60, 3600),
            spec("req_min", "principal", "requests", 3, 60),
        ],
        backend,
        clock,
    )
    r = b.reserve(who(), records=70, min_records=7)  # a page of 10 x weight 7 > 60
    assert r.records == 60
    b.settle(r, 49, [])  # 7 records of weight 7 were disclosed
    assert b.reserve(who(), records=70, min_records=7).records == 11
    # Too little left for one record, or another budget refusing: no shrinking.
    assert refused_by(b, who(), records=70) == "rec_hour"
    clock.advance(3600 + 120)
    b.reserve(who(), requests=3)
    with pytest.raises(TooManyRequests) as info:
        b.reserve(who(), records=70, min_records=7)
    assert info.value.extra["budgets"] == ["rec_hour", "req_min"]
    assert "records_left" not in info.value.extra
