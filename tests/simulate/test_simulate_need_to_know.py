"""Issue 18's insider scenarios, every way around cases, on a registry whose départements
hold the tens to hundreds of persons an insider would go through (6,000 persons), against
the shipped policy and against the same policy with the linking and case-growth detectors
off. The insiders hold their second factor: they answer step-ups and log in again after a
session suspension, so only a principal's suspension or the budgets stop their count.

Targets: through a case the subject is not linked to, 0 full records; linking to one's
own or a colleague's cases, at most 20; five colluding agents of one unit, at most 100 in
a day, contained. Each linking target is one the run with the detectors off misses, with
the same attack: the figure is the defence's, not the scenario's size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from strongroom.config import Home
from strongroom.policy import default_policy_text
from strongroom.simulate import SimConfig, run_simulation, seed_template
from strongroom.simulate.need_to_know import NEED_TO_KNOW

PERSONS = 6000
THROUGH_UNLINKED = ("case-made-up", "case-unlinked", "other-unit-case")
LINKING = {"own-cases": 20, "link-hundreds": 20, "colleague-case": 20, "colluding-five": 100}


def config(policy: Path | None) -> SimConfig:
    # No request cap below what the detectors-off run leaks: the caps never end a run.
    return SimConfig(
        persons=PERSONS,
        users=20,
        days=6,
        seed=5,
        max_requests=5000,
        scenarios=tuple(NEED_TO_KNOW),
        policy=policy,
    )


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("ntk")
    template = seed_template(tmp / "template", persons=PERSONS, seed=5)
    text = default_policy_text()
    start, end = text.index("  linking:\n"), text.index("  context:\n")
    off = tmp / "detectors-off.yaml"
    off.write_text(
        text[:start] + "  linking: {enabled: false}\n  case_growth: {enabled: false}\n" + text[end:]
    )
    out = {}
    for name, policy in (("on", None), ("off", off)):
        report = run_simulation(config(policy), template=Home(template.path))
        out[name] = {r["scenario"]: r for r in report["scenarios"]}
        out[name]["legitimate"] = report["legitimate"]
    return out


@pytest.mark.parametrize("name", THROUGH_UNLINKED)
def test_a_case_without_the_link_gives_nothing(
    reports: dict[str, dict[str, dict[str, Any]]], name: str
) -> None:
    for run in ("on", "off"):  # the case check, not a detector
        r = reports[run][name]
        assert r["requests"] >= 50, r  # it kept trying
        assert r["records_leaked"] == 0, (run, r)
        assert r["target"]["met"] is True
        assert r["second_factor"] is not None


@pytest.mark.parametrize("name", sorted(LINKING))
def test_linking_insiders_are_suspended_within_target(
    reports: dict[str, dict[str, dict[str, Any]]], name: str
) -> None:
    on, off = reports["on"][name], reports["off"][name]
    bound = LINKING[name]
    assert on["records_leaked"] <= bound, on
    assert on["contained"] and on["accounts_contained"] == on["accounts"], on
    assert on["stopped_by"]["action"] == "suspend_principal", on["stopped_by"]
    assert {"linking", "case_growth"} <= set(on["stopped_by"]["families"])
    assert on["target"]["met"] is True
    # The same attack with the two detectors off: budgets and four eyes alone.
    assert not off["contained"], off
    assert off["records_leaked"] > bound, off
    assert off["target"]["met"] is False
    # Nothing cut the detectors-off run short but the horizon or the attacker's list.
    assert off["ended_by"] in ("horizon", "list_exhausted"), off["ended_by"]


def test_colluding_agents_are_held_to_a_day_of_the_units_links(
    reports: dict[str, dict[str, dict[str, Any]]],
) -> None:
    on, off = reports["on"]["colluding-five"], reports["off"]["colluding-five"]
    assert on["accounts"] == 5 and on["accounts_contained"] == 5
    assert on["time_to_containment_s"] is not None and on["time_to_containment_s"] < 86_400
    # Without detection the unit's budget (100 links a day) is a rate: day after day.
    assert off["simulated_seconds"] > 86_400 and off["records_leaked"] > 100


def test_session_suspensions_do_not_end_an_insiders_count(
    reports: dict[str, dict[str, dict[str, Any]]],
) -> None:
    """The insiders logged in again after their session was cut; what stopped them was
    the principal's suspension that followed."""
    on = reports["on"]["own-cases"]
    assert on["second_factor"]["logins_after_session_suspension"] >= 1
    assert on["containments"] == {"suspend_principal:linking+case_growth": 1}


def test_the_legitimate_population_is_not_suspended(
    reports: dict[str, dict[str, dict[str, Any]]],
) -> None:
    legit = reports["on"]["legitimate"]
    assert legit["contained"]["user_days"] == 0
