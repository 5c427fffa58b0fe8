"""The report's documented shape, determinism for a seed (two runs on copies of one seeded
home), and the CLI through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from strongroom.cli.simulate_cmds import simulate_app
from strongroom.config import Home
from strongroom.errors import BadRequest
from strongroom.simulate import SimConfig, run_simulation

SMALL = SimConfig(
    persons=400,
    users=10,
    days=1,
    seed=11,
    registry_seed=5,
    max_requests=120,
    scenarios=("name-sweeper", "canary-hitter", "registry-2026"),
)

SCENARIO_KEYS = {
    "scenario",
    "description",
    "accounts",
    "requests",
    "records_leaked",
    "contained",
    "records_before_containment",
    "time_to_containment_s",
    "first_containment_s",
    "accounts_contained",
    "stopped_by",
    "ended_by",
    "simulated_seconds",
    "budgets_hit",
    "containments",
    "statuses",
    "target",
}


@pytest.fixture(scope="module")
def runs(template: Home) -> tuple[dict[str, Any], dict[str, Any]]:
    return run_simulation(SMALL, template=template), run_simulation(SMALL, template=template)


def test_report_shape(runs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    report = runs[0]
    assert set(report) == {"version", "config", "run", "legitimate", "scenarios", "summary"}
    assert report["version"] == 1
    assert report["run"]["requests"] > 0
    legit = report["legitimate"]
    for key in (
        "users",
        "user_days",
        "requests",
        "throttled",
        "contained",
        "step_up",
        "flagged",
        "by_role",
        "targets",
    ):
        assert key in legit
    for role in legit["by_role"].values():
        assert isinstance(role["flagged_user_days"], dict)
    assert set(legit["throttled"]) >= {"user_days", "principals", "per_10k_user_days"}
    assert set(legit["contained"]) >= {"user_days", "principals", "per_10k_user_days"}
    assert set(legit["wrongful_suspensions"]) >= {"user_days", "per_10k_user_days"}
    assert "share_of_user_days" in legit["step_up"]
    for role, r in legit["by_role"].items():
        assert set(r["wrongful_suspensions"]) == {"user_days", "per_10k_user_days"}, role
        assert set(r["four_eyes"]) >= {"links", "waited", "approved", "still_waiting"}, role
    assert report["config"]["exports"] is True  # the export follow-ups run by default
    for r in report["scenarios"]:
        assert SCENARIO_KEYS <= set(r), r["scenario"]
        assert r["stopped_by"]["layer"] in ("containment", "budget", "policy", "none")
        if r["contained"]:
            assert r["records_before_containment"] == r["records_leaked"]
            assert r["stopped_by"]["layer"] == "containment"
            assert r["stopped_by"]["action"]
    json.dumps(report)  # JSON-ready


def test_report_holds_no_identifiers(
    runs: tuple[dict[str, Any], dict[str, Any]], template: Home
) -> None:
    text = json.dumps(runs[0])
    assert "CASE-" not in text and "sim-" not in text
    # No UUID (principal, person) leaks into the report.
    import re

    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-", text)


def test_deterministic_for_a_seed(runs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    a, b = (dict(r) for r in runs)
    a.pop("run")
    b.pop("run")
    assert a == b


def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(BadRequest, match="unknown scenario"):
        SimConfig(scenarios=("nope",)).check()


def test_cli_json_and_output(tmp_path: Path) -> None:
    out = tmp_path / "sim.json"
    result = CliRunner().invoke(
        simulate_app,
        [
            "--persons",
            "150",
            "--users",
            "6",
            "--days",
            "1",
            "--scenario",
            "name-sweeper",
            "--seed",
            "3",
            "--json",
            "--output",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["config"]["users"] == 6
    assert [r["scenario"] for r in printed["scenarios"]] == ["name-sweeper"]
    assert json.loads(out.read_text())["scenarios"] == printed["scenarios"]


def test_cli_refuses_bad_usage() -> None:
    result = CliRunner().invoke(simulate_app, ["--scenario", "nope", "--persons", "150"])
    assert result.exit_code == 2


def test_cli_table(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        simulate_app,
        ["--persons", "120", "--users", "3", "--days", "1", "--scenario", "name-sweeper"],
    )
    assert result.exit_code == 0, result.output
    assert "name-sweeper" in result.stdout
    assert "legitimate: 3 users" in result.stdout
    assert "wrongful suspensions 0.0 / 10k" in " ".join(result.stdout.split())
    assert "legitimate users by role" in result.stdout


def test_cli_turns_export_follow_ups_off(tmp_path: Path) -> None:
    out = tmp_path / "sim.json"
    args = ["--persons", "120", "--users", "8", "--days", "1", "--scenario", "name-sweeper"]
    result = CliRunner().invoke(simulate_app, [*args, "--no-exports", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["config"]["exports"] is False
