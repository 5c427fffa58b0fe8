"""What the legitimate population pays (issue 18): a smaller population over a shorter
period than the month of 5,000 users `strongroom simulate` reports on, the same report.
Per role: wrongful suspensions (user-days, and per 10,000 user-days) and the links that
waited for a second agent; overall, wrongful suspensions at most 1 per 10,000 user-days.

The population works through cases the way the detectors judge: prefecture agents open
cases and link subjects themselves, review persons their unit knows on one case past the
four-eyes threshold, approve their colleagues' waiting links, and follow up their
département's renewal list (exports, on by default)."""

from __future__ import annotations

from typing import Any

import pytest

from strongroom.config import Home
from strongroom.simulate import SimConfig, run_simulation, seed_template

PERSONS, USERS, DAYS = 20_000, 150, 20
ROLES = ("dealer", "owner", "police", "prefecture")


@pytest.fixture(scope="module")
def legit(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    template = seed_template(tmp_path_factory.mktemp("sim") / "t", persons=PERSONS, seed=5)
    config = SimConfig(persons=PERSONS, users=USERS, days=DAYS, seed=5, scenarios=())
    report = run_simulation(config, template=Home(template.path))
    assert report["config"]["exports"] is True
    legitimate: dict[str, Any] = report["legitimate"]
    return legitimate


def test_per_role_fields(legit: dict[str, Any]) -> None:
    assert legit["user_days"] == USERS * DAYS
    assert set(legit["by_role"]) == set(ROLES)
    for role in ROLES:
        r = legit["by_role"][role]
        assert r["user_days"] > 0
        assert set(r["wrongful_suspensions"]) == {"user_days", "per_10k_user_days"}
        fe = r["four_eyes"]
        assert {
            "cases_opened",
            "links",
            "waited",
            "approved",
            "still_waiting",
            "median_wait_minutes",
            "max_wait_minutes",
        } <= set(fe)
        assert fe["approved"] + fe["still_waiting"] == fe["waited"]


def test_the_population_worked_through_what_the_detectors_judge(legit: dict[str, Any]) -> None:
    pref = legit["by_role"]["prefecture"]["four_eyes"]
    assert pref["cases_opened"] > 50 and pref["links"] > 50
    assert pref["waited"] >= 1  # a review past the four-eyes threshold
    assert legit["exports"]["downloaded"] >= 1 and legit["exports"]["follow_ups"] >= 1


def test_wrongful_suspensions_within_one_per_10k_user_days(legit: dict[str, Any]) -> None:
    rate = legit["wrongful_suspensions"]["per_10k_user_days"]
    assert rate <= 1.0
    assert legit["targets"]["wrongful_suspensions_per_10k_user_days"]["met"]
    for role in ROLES:
        assert legit["by_role"][role]["wrongful_suspensions"]["per_10k_user_days"] <= 1.0
    # The need-to-know detectors found nothing to say about honest case work.
    assert not {"linking", "case_growth"} & set(legit["findings_by_family"])
