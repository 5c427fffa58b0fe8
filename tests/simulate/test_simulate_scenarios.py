"""Every scenario against the real gate on a small seeded home (400 persons, 20 users, two
days, at most 300 requests per scenario): what each leaks, what stops it, and what the
legitimate population pays. One simulation for the module; each test reads its part."""

from __future__ import annotations

from typing import Any

import pytest

from strongroom.config import Home
from strongroom.simulate import SCENARIOS, SimConfig, run_simulation

CONFIG = SimConfig(persons=400, users=20, days=2, seed=5, max_requests=300)


@pytest.fixture(scope="module")
def report(template: Home) -> dict[str, Any]:
    return run_simulation(CONFIG, template=template)


def scenario(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in report["scenarios"] if r["scenario"] == name)


def test_every_scenario_ran(report: dict[str, Any]) -> None:
    assert [r["scenario"] for r in report["scenarios"]] == list(SCENARIOS)
    for r in report["scenarios"]:
        assert r["requests"] > 0, r["scenario"]
        # The cap is checked after each account's turn; a turn of an attacker holding the
        # second factor is up to three requests (a step-up answered, a new login).
        assert r["requests"] <= 300 + 3 * r["accounts"], r["scenario"]


@pytest.mark.parametrize("name", ["name-sweeper", "postcode-sweeper"])
def test_sweepers_are_contained_by_enumeration(report: dict[str, Any], name: str) -> None:
    r = scenario(report, name)
    assert r["contained"], r
    assert r["records_leaked"] <= 100
    assert r["stopped_by"]["layer"] == "containment"
    assert "enumeration" in r["stopped_by"]["families"]
    assert r["time_to_containment_s"] is not None and r["time_to_containment_s"] > 0
    assert r["target"]["met"] is True


def test_postcode_queries_are_refused_by_the_policy(report: dict[str, Any]) -> None:
    r = scenario(report, "postcode-sweeper")
    assert r["statuses"].get("400 field_not_searchable", 0) >= 1


def test_enumerator_leaks_nothing_and_meets_the_request_budget(report: dict[str, Any]) -> None:
    r = scenario(report, "enumerator")
    # Random UUIDs and guessed serials never hit; the misses feed the enumeration
    # detector, which contains the account (before or after the request budget bites).
    assert r["records_leaked"] <= 50
    assert r["contained"], r
    assert "enumeration" in r["stopped_by"].get("families", []), r["stopped_by"]
    assert r["target"]["met"] is True


def test_canary_hitter_is_contained_at_its_first_canary(report: dict[str, Any]) -> None:
    r = scenario(report, "canary-hitter")
    assert r["canary_available"]
    assert r["contained"]
    if r["canary"]["records_before_first_canary"] is None:
        # Other families were faster: since coordination is enforced, it and case growth
        # suspend this account before its first canary read (the honey detector's own
        # containment is tested in tests/detect and tests/exports).
        assert r["stopped_by"]["action"] == "suspend_principal", r["stopped_by"]
        assert r["records_leaked"] <= 10, r
        return
    assert r["canary"]["records_after_first_canary"] == 0
    # the canary read itself answered at most (its link to the insider's case is where the
    # honey detector meets it first)
    assert r["records_leaked"] <= r["canary"]["records_before_first_canary"] + 1
    assert "honey" in r["stopped_by"]["families"]
    assert r["target"]["met"] is True


@pytest.mark.parametrize("name,limit", [("insider", 200), ("low-and-slow", 1000)])
def test_prefecture_harvesters_stay_within_target(
    report: dict[str, Any], name: str, limit: int
) -> None:
    r = scenario(report, name)
    assert r["records_leaked"] <= limit
    assert r["target"]["met"] is True
    # Only their own département answers: never more than it holds.
    assert r["records_leaked"] <= report["config"]["persons"]


def test_budgets_bound_each_stolen_police_account(report: dict[str, Any]) -> None:
    """T-Mobile's rate (10 requests a second) from one client: the police subjects-per-day
    budget (50) refuses it; over the capped run it cannot leak more than that per day."""
    r = scenario(report, "tmobile-2023")
    assert r["budgets_hit"].get("police_subjects_day", 0) >= 1
    days = r["simulated_seconds"] / 86_400
    assert r["records_leaked"] <= 50 * (int(days) + 1)


def test_dealer_incidents_are_bounded_by_dealer_budgets(report: dict[str, Any]) -> None:
    dell = scenario(report, "dell-2024")
    assert dell["budgets_hit"].get("dealer_verify_hour", 0) >= 1
    breach = scenario(report, "registry-2026")
    assert breach["contained"] or breach["budgets_hit"]
    assert breach["records_leaked"] <= 5000


def test_legitimate_population_sees_no_suspension(report: dict[str, Any]) -> None:
    legit = report["legitimate"]
    assert legit["user_days"] == 20 * 2
    assert legit["requests"] > 50
    assert legit["contained"]["user_days"] == 0
    assert legit["step_up"]["user_days"] == 0
    assert legit["targets"]["suspended_per_10k_user_days"]["met"]
    assert legit["targets"]["step_up_share_of_user_days"]["met"]
