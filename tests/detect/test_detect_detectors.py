"""Each detector on a synthetic stream: the attack fires it, the human pace does not."""

import random
import uuid

from detect_testkit import CANARY, engine, event, families, only

from strongroom.clock import FakeClock
from strongroom.detect.drift import DriftState
from strongroom.detect.sketch import DistinctSketch


def test_velocity_fires_beyond_the_human_ceiling_only() -> None:
    clock = FakeClock()
    eng = engine(clock, only({"velocity": {}}))
    for _ in range(40):  # a human: one record every 20 s (3 per minute, ceiling 20)
        eng.observe(event(clock))
        clock.advance(20)
    assert eng.risk("p-1") == 0
    for _ in range(40):  # a script: 2 records per second
        eng.observe(event(clock))
        clock.advance(0.5)
    assert eng.risk("p-1") > 0


def test_enumeration_of_serials_in_even_steps() -> None:
    clock = FakeClock()
    eng = engine(clock, only({"enumeration": {}}))
    for serial in range(1000, 1012):
        eng.observe(event(clock, endpoint="GET /v1/weapons", sort_key=serial, matched=True))
        clock.advance(30)
    assert eng.risk("p-1") >= 45


def test_searches_in_random_order_do_not_look_like_a_sweep() -> None:
    clock = FakeClock()
    rng = random.Random(7)
    eng = engine(clock, only({"enumeration": {}}))
    for _ in range(300):
        eng.observe(event(clock, sort_key=rng.randrange(17_576), matched=True))
        clock.advance(60)
    assert eng.risk("p-1") == 0


def test_alphabetical_sweep_with_repeated_prefixes_is_a_sweep() -> None:
    clock = FakeClock()
    rng = random.Random(1)
    eng = engine(clock, only({"enumeration": {}}))
    key = 100
    for _ in range(40):  # several names per 3-letter prefix, prefixes rising unevenly
        key += rng.choice([0, 0, 1, 3, 7])
        eng.observe(event(clock, sort_key=key, matched=True))
        clock.advance(45)
    assert eng.risk("p-1") >= 30


def test_guessing_many_searches_match_nothing() -> None:
    clock = FakeClock()
    rng = random.Random(3)
    eng = engine(clock, only({"enumeration": {}}))
    for _ in range(30):
        eng.observe(
            event(clock, subjects=(), sort_key=rng.randrange(99_999), matched=rng.random() < 0.1)
        )
        clock.advance(30)
    assert eng.risk("p-1") >= 25


def test_distinct_sketch_counts_within_its_error() -> None:
    """The sketch hashes with the process's random key, so one estimate varies from run to
    run (standard error about 5 % for 40 and for 1,500 here): each estimate is checked
    against a bound it leaves about once in a million runs (five standard errors), and the
    mean of many against the true count."""
    sk = DistinctSketch()
    for i in range(3000):
        sk.add(f"s-{i % 1500}")
    assert 1500 * 0.7 < sk.estimate() < 1500 * 1.3  # repeats count once

    def estimate(n: int) -> float:
        s = DistinctSketch()
        for _ in range(n):
            s.add(str(uuid.uuid4()))
        return s.estimate() / n

    small = [estimate(40) for _ in range(200)]
    assert all(0.75 <= e <= 1.25 for e in small)
    assert 0.97 <= sum(small) / len(small) <= 1.03
    large = [estimate(1500) for _ in range(20)]
    assert all(0.7 <= e <= 1.3 for e in large)
    assert 0.93 <= sum(large) / len(large) <= 1.07


def test_breadth_against_the_role_baseline() -> None:
    clock = FakeClock()
    eng = engine(clock, only({"breadth": {}}))
    for _ in range(60):  # 60 distinct persons: under 30 x 3
        eng.observe(event(clock))
        clock.advance(300)
    assert eng.risk("p-1") == 0
    clock.set(clock.now() + 86_400 - clock.now() % 86_400 + 3600)  # the next morning
    for _ in range(150):
        eng.observe(event(clock))
        clock.advance(60)
    assert eng.risk("p-1") > 0


def _days(clock, eng, officers, harvester_per_day, n_days, rng):
    # Subjects drawn from `rng`, not uuid4, so a run's subjects are the same each time; the
    # sketches that count them still hash with a per-process key (sketch.py), so their
    # estimates vary a little from run to run, and the thresholds below leave room for it.
    def person() -> tuple[str]:
        return (str(uuid.UUID(int=rng.getrandbits(128), version=4)),)

    for _ in range(n_days):
        day0 = clock.now() - clock.now() % 86_400 + 86_400
        for i in range(officers):
            clock.set(day0 + 8 * 3600 + i)
            for _ in range(rng.randint(18, 30)):
                eng.observe(event(clock, f"officer-{i}", subjects=person()))
                clock.advance(300)
        clock.set(day0 + 8 * 3600 + 999)
        for _ in range(harvester_per_day):
            eng.observe(event(clock, "harvester", subjects=person()))
            clock.advance(240)


def test_peer_baseline_finds_a_slow_steady_harvester() -> None:
    clock = FakeClock()
    rng = random.Random(5)
    # 80 persons a day: under breadth (30 x 3) and under any 100-a-day budget.
    eng = engine(clock, only({"peer": {}}))
    _days(clock, eng, officers=8, harvester_per_day=80, n_days=4, rng=rng)
    assert eng.risk("harvester") >= 25
    assert all(eng.risk(f"officer-{i}") == 0 for i in range(8))


def test_cusum_drift_over_days_under_every_daily_threshold() -> None:
    clock = FakeClock()
    rng = random.Random(6)
    eng = engine(clock, only({"drift": {}}))
    # A week: the sketches hash with the process's random SipHash key, so the estimates
    # vary between runs whatever the subjects; after six days the risk ranged 29.4-34.8
    # over 40 runs (the alert is at 30), after seven 33.5-39.2.
    _days(clock, eng, officers=3, harvester_per_day=60, n_days=7, rng=rng)
    drift = eng.slot("harvester", "drift")
    assert isinstance(drift, DriftState) and drift.cusum >= 3.0
    assert eng.risk("harvester") >= 30
    officers = [eng.slot(f"officer-{i}", "drift") for i in range(3)]
    assert all(isinstance(d, DriftState) and d.cusum < 1 for d in officers)


def test_coordinated_accounts_behind_one_prefix_split_a_sweep() -> None:
    clock = FakeClock()
    eng = engine(clock, only({"coordination": {}}))
    accounts = [f"bot-{i}" for i in range(4)]
    for n in range(40):  # each account takes every 4th postcode: 10 requests each
        who = accounts[n % 4]
        eng.observe(
            event(
                clock,
                who,
                session=who,
                ip=f"203.0.113.{10 + n % 4}",
                sort_key=75001 + n,
                matched=True,
            )
        )
        clock.advance(20)
    assert sum(eng.risk(a) > 0 for a in accounts) >= 3


def test_a_shared_station_nat_alone_is_not_coordination() -> None:
    # Six officers behind one NAT, each on their own work: whoever is next is anyone's
    # guess, and the pauses vary.
    clock = FakeClock()
    rng = random.Random(8)
    eng = engine(clock, only({"coordination": {}}))
    for _ in range(2000):
        who = f"officer-{rng.randrange(6)}"
        eng.observe(event(clock, who, ip="192.0.2.1", sort_key=rng.randrange(99_999)))
        clock.advance(rng.expovariate(1 / 30))
    assert all(eng.risk(f"officer-{i}") == 0 for i in range(6))


def _rotation(eng, clock, accounts: list[str], n: int, gap: float) -> None:
    for i in range(n):
        who = accounts[i % len(accounts)]
        eng.observe(event(clock, who, session=who, ip=f"203.0.113.{10 + i % 7}"))
        clock.advance(gap)


def test_accounts_taking_turns_behind_one_prefix_are_coordination() -> None:
    # Three accounts, one request every 10 s between them: each reads 2 a minute, far
    # under any per-account ceiling; no sort key, so no sweep to see. The rotation is it.
    clock = FakeClock()
    eng = engine(clock, only({"coordination": {}}))
    accounts = ["bot-a", "bot-b", "bot-c"]
    _rotation(eng, clock, accounts, 3 + 15, 10)
    assert all(eng.risk(a) == 0 for a in accounts)  # 15 turns: short of 16 for three
    _rotation(eng, clock, accounts, 3, 10)
    assert all(eng.risk(a) > 0 for a in accounts)
    sig = eng.incidents.open[("bot-a", "coordination")]
    assert "take turns" in " ".join(sig.reasons)


def test_two_accounts_must_alternate_longer_than_chance_allows() -> None:
    clock = FakeClock()
    eng = engine(clock, only({"coordination": {}}))
    pair = ["bot-a", "bot-b"]
    _rotation(eng, clock, pair, 2 + 20, 10)
    assert eng.risk("bot-a") == 0 and eng.risk("bot-b") == 0
    _rotation(eng, clock, pair, 6, 10)
    assert eng.risk("bot-a") > 0 and eng.risk("bot-b") > 0


def test_turns_with_pauses_between_them_are_not_a_rotation() -> None:
    clock = FakeClock()
    eng = engine(clock, only({"coordination": {}}))
    accounts = ["a", "b", "c", "d"]
    _rotation(eng, clock, accounts, 200, 150)  # past turns_gap_seconds each time
    assert all(eng.risk(a) == 0 for a in accounts)


def test_two_officers_on_one_network_at_random_are_not_a_rotation() -> None:
    clock = FakeClock()
    rng = random.Random(21)
    eng = engine(clock, only({"coordination": {}}))
    for _ in range(5000):
        who = f"officer-{rng.randrange(2)}"
        eng.observe(event(clock, who, ip="192.0.2.1"))
        clock.advance(rng.expovariate(1 / 20))
    assert eng.risk("officer-0") == 0 and eng.risk("officer-1") == 0


def test_honey_record_is_critical_at_once() -> None:
    clock = FakeClock()
    revoked: list[str] = []
    eng = engine(clock, only({"honey": {}}), revoke_principal=revoked.append)
    actions = eng.observe(event(clock, subjects=(str(uuid.uuid4()), CANARY)))
    assert "suspend_principal" in {a.action for a in actions}
    assert revoked == ["p-1"]
    assert eng.check("p-1", "s-2", None).action == "suspend_principal"
    assert families(actions) == {"honey"}


def test_context_off_hours_new_network_and_device() -> None:
    clock = FakeClock(1_767_600_000.0 - 1_767_600_000.0 % 86_400 + 10 * 3600)  # 11:00 Paris
    eng = engine(clock, only({"context": {}}))
    eng.observe(event(clock, role="dealer"))
    assert eng.risk("p-1") == 0  # first network and device are learnt silently
    clock.advance(3600)
    eng.observe(event(clock, role="dealer", ip="203.0.113.9", user_agent="python-httpx/0.27"))
    assert eng.risk("p-1") >= 20  # new /24 and new device
    night = FakeClock(clock.now() - clock.now() % 86_400 + 86_400 + 2 * 3600)  # 03:00 Paris
    eng2 = engine(night, only({"context": {}}))
    eng2.observe(event(night, role="dealer"))
    assert eng2.risk("p-1") == 10
    eng2.observe(event(night, "cop", role="police"))
    assert eng2.risk("cop") == 0  # police work nights
