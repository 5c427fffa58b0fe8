"""The drill's dealer campaign against a real server, and against its baseline: the same
home served with budgets and detectors off (the drill copies the home and serves the copy
itself). An attacker holding a leaked list of buyer triples confirms the whole list
without defences and a handful with them; the report shows both, and the check "at most
N records" fails when pointed at the baseline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from strongroom.cli.posture_cmds import drill_command
from strongroom.cli.seeding import seed_home
from strongroom.compose import compose
from strongroom.config import Home
from strongroom.initialize import initialize
from strongroom.posture.drill import DrillConfig, run_drill
from strongroom.posture.drill_baseline import baseline_server
from strongroom.posture.drill_knowledge import write_known
from tests.posture.drill_testkit import leak
from tests.served import served

pytestmark = pytest.mark.slow

SEED = 7
LEAKED = 120
CHECK = 50  # "at most 50 records": what a CI job would assert


@pytest.fixture(scope="module")
def dealer_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = Home(tmp_path_factory.mktemp("drill") / "home")
    initialize(home)
    fixtures = seed_home(home, persons=300, seed=SEED).fixtures
    svc = compose(home)
    try:
        dealer = svc.admin.add_principal(role="dealer", dealer=fixtures["dealer_id"], label="shop")
        tokens = [
            svc.token_issuer.issue(role="dealer", subject=dealer, lifetime=3600),
            svc.token_issuer.issue(
                role="dealer", subject=dealer, purpose="ledger_keeping", lifetime=3600
            ),
        ]
        triples, _ = leak(svc, SEED)
    finally:
        svc.close()
    assert len(triples) >= LEAKED
    known = home.path.parent / "leak.csv"
    write_known(known, triples[:LEAKED])
    return {"home": home, "tokens": tokens, "known": known, "rows": triples[:LEAKED]}


def _cli() -> typer.Typer:
    cli = typer.Typer()
    cli.command("drill")(drill_command)
    cli.command("noop")(lambda: None)
    return cli


def test_the_dealer_campaign_with_and_without_defences(dealer_home: dict[str, Any]) -> None:
    home: Home = dealer_home["home"]
    with served(home) as url:
        report = run_drill(
            DrillConfig(url=url, strategy="dealer", max_requests=300, max_seconds=120, seed=1),
            tokens=dealer_home["tokens"],
            known=dealer_home["rows"],
            baseline_home=home,
        )
    base = report.baseline
    assert base is not None
    # Without defences every leaked triple is confirmed (valid or not, categories, expiry,
    # banned): the whole list, and the shop's ledger besides.
    assert base.records >= LEAKED and base.ended_by == "exhausted", base.to_dict()
    assert base.statuses.get("429", 0) == 0 and base.stopped is False
    # With them, the shop's verification budget stops the campaign after 20 checks.
    stop = report.first_stop
    assert stop is not None and (stop.layer, stop.name) == ("budget", "dealer_verify_hour")
    assert report.records <= CHECK < base.records
    comparison = report.to_dict()["comparison"]
    assert comparison["records_with_defences"] == report.records
    assert comparison["records_without_defences"] == base.records
    assert comparison["prevented"] == base.records - report.records
    assert report.check(CHECK) == {
        "max_records": CHECK,
        "passed": True,
        "baseline_records": base.records,
        "can_fail": True,
    }
    assert report.learned["initials"] >= 1  # the ledger's masked buyer names


def test_the_check_fails_against_the_baseline(dealer_home: dict[str, Any]) -> None:
    home: Home = dealer_home["home"]
    args = [
        "drill",
        "--strategy",
        "dealer",
        "--known",
        str(dealer_home["known"]),
        "--max-requests",
        "300",
        "--fail-above",
        str(CHECK),
        "--json",
    ]
    for t in dealer_home["tokens"]:
        args += ["--token", t]
    runner = CliRunner()
    with baseline_server(home) as baseline_url:
        against_baseline = runner.invoke(_cli(), [*args, "--url", baseline_url])
    assert against_baseline.exit_code == 1, against_baseline.output
    doc = json.loads(against_baseline.stdout)
    assert doc["records"] > CHECK and doc["check"]["passed"] is False
    with served(home) as url:
        defended = runner.invoke(
            _cli(), [*args, "--url", url, "--baseline"], env={"STRONGROOM_HOME": str(home.path)}
        )
    assert defended.exit_code == 0, defended.output
    doc = json.loads(defended.stdout)
    assert doc["check"] == {
        "max_records": CHECK,
        "passed": True,
        "baseline_records": doc["baseline"]["records"],
        "can_fail": True,
    }
    assert doc["comparison"]["records_without_defences"] > CHECK >= doc["records"]


def test_a_check_that_cannot_fail_says_so(dealer_home: dict[str, Any], tmp_path: Path) -> None:
    """A leak of nothing: without defences the campaign gets only the shop's ledger, so
    "at most 50" holds either way and proves nothing: exit 1 with the reason."""
    home: Home = dealer_home["home"]
    empty = tmp_path / "nothing.csv"
    write_known(empty, [])
    args = ["drill", "--strategy", "dealer-permits", "--known", str(empty)]
    args += ["--fail-above", str(CHECK), "--max-requests", "50"]
    for t in dealer_home["tokens"]:
        args += ["--token", t]
    with served(home) as url:
        r = CliRunner().invoke(
            _cli(), [*args, "--url", url, "--baseline"], env={"STRONGROOM_HOME": str(home.path)}
        )
    assert r.exit_code == 1, r.output
    assert "cannot fail" in r.output
