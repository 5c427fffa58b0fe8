"""Under the thresholds the simulator proposes (data/proposed_policy.yaml: breadth
baselines near a median user's day, peer deviation acting), the two scenarios the shipped
policy lets through are contained within target: 50 police accounts behind 20 IPs, and a
prefecture insider harvesting beyond any case. Needs a larger registry than the other
modules (a département big enough to harvest), so it seeds its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from strongroom.simulate import SimConfig, run_simulation, seed_template

PROPOSED = Path(__file__).parent / "data" / "proposed_policy.yaml"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    template = seed_template(tmp_path_factory.mktemp("sim") / "big", persons=2000, seed=5)
    config = SimConfig(
        persons=2000,
        users=40,
        days=2,
        seed=5,
        max_requests=2500,
        policy=PROPOSED,
        scenarios=("distributed-scraper", "insider"),
        dealer_ledger=False,
    )  # ledger reads: a known false positive
    return run_simulation(config, template=template)


def test_distributed_scraper_is_contained_within_target(report: dict[str, Any]) -> None:
    r = report["scenarios"][0]
    assert r["scenario"] == "distributed-scraper"
    assert r["contained"] and r["ended_by"] == "contained"
    assert r["accounts_contained"] == r["accounts"] == 50
    assert r["records_leaked"] <= 5000
    assert {"breadth", "peer"} <= set(r["stopped_by"]["families"])


def test_insider_is_contained_within_target(report: dict[str, Any]) -> None:
    r = report["scenarios"][1]
    assert r["scenario"] == "insider"
    assert r["contained"]
    assert r["records_leaked"] <= 200


def test_legitimate_users_are_not_suspended_under_the_proposed_policy(
    report: dict[str, Any],
) -> None:
    legit = report["legitimate"]
    assert legit["requests"] > 100
    assert legit["contained"]["user_days"] == 0
    assert legit["targets"]["step_up_share_of_user_days"]["met"]
