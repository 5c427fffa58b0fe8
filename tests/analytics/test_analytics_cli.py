"""`strongroom analytics build|refresh|grant` on an embedded home: output, exit codes,
clear errors without tracebacks; and the server's scheduled refresh."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from analytics_testkit import ANALYTICS, copy_home, open_service, policy_text
from click.testing import Result
from typer.testing import CliRunner

from strongroom.analytics.schedule import SCHEDULER, AnalyticsScheduler
from strongroom.cli.main import app
from strongroom.cli.seeding import seed_home
from strongroom.compose import Service
from strongroom.config import Home
from strongroom.initialize import initialize


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = Home(tmp_path_factory.mktemp("cli") / "home")
    initialize(home)
    home.policy_path.write_text(policy_text(), encoding="utf-8")
    seed_home(home, persons=400, seed=3)
    return home.path


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Home:
    return copy_home(template, tmp_path / "home")


def run(home: Home, *args: str) -> Result:
    return CliRunner().invoke(app, ["analytics", *args], env={"STRONGROOM_HOME": str(home.path)})


def test_build_then_refresh(home: Home) -> None:
    r = run(home, "build", "--json")
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    assert body["release"] == 1 and body["action"] == "build" and body["k"] == 10
    assert {v["name"] for v in body["views"]} == {
        "owners_by_region_age",
        "owner_rows",
        "owner_rows_coarse",
        "weapons_by_category",
    }
    assert home.analytics_path.is_file()

    r = run(home, "refresh")
    assert r.exit_code == 0, r.output
    assert "release 2 (refresh)" in r.stdout and "suppressed:" in r.stdout


def no_traceback(r: Result) -> None:
    assert "Traceback" not in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)


def test_refresh_before_any_build_is_refused(home: Home) -> None:
    r = run(home, "refresh")
    assert r.exit_code == 2
    assert "no analytics release yet: run `strongroom analytics build`" in r.output
    no_traceback(r)


def test_refresh_after_the_declarations_changed_is_refused(home: Home) -> None:
    assert run(home, "build").exit_code == 0
    text = home.policy_path.read_text().replace("  k: 10\n", "  k: 12\n")
    home.policy_path.write_text(text)
    r = run(home, "refresh")
    assert r.exit_code == 2 and "changed since release 1" in r.output
    no_traceback(r)
    assert run(home, "build").exit_code == 0


def test_a_new_generalization_needs_regeneralize(home: Home) -> None:
    assert run(home, "build").exit_code == 0
    text = home.policy_path.read_text().replace(
        "departement: {generalize: region}", "departement: {generalize: departement}"
    )
    home.policy_path.write_text(text)
    r = run(home, "build")
    assert r.exit_code == 2
    assert "departement region -> departement" in r.output and "--regeneralize" in r.output
    no_traceback(r)
    r = run(home, "build", "--regeneralize")
    assert r.exit_code == 0, r.output


def test_a_policy_without_views_is_refused(home: Home) -> None:
    home.policy_path.write_text(policy_text("analytics:\n  k: 10\n"))
    r = run(home, "build")
    assert r.exit_code == 2 and "declares no analytics views" in r.output
    no_traceback(r)


def test_an_invalid_policy_is_refused_with_its_line(home: Home) -> None:
    home.policy_path.write_text(
        policy_text(ANALYTICS.replace("dims: [category]", "dims: [age, x]"))
    )
    r = run(home, "build")
    assert r.exit_code == 2 and "weapons are not counted by 'x'" in r.output
    no_traceback(r)


def test_grant_on_the_embedded_deployment_says_what_to_do(home: Home) -> None:
    r = run(home, "grant")
    assert r.exit_code == 2 and "give analysts a copy of analytics.db" in r.output
    no_traceback(r)


@pytest.fixture
def svc(home: Home) -> Iterator[Service]:
    service = open_service(home)
    try:
        yield service
    finally:
        service.close()


def test_the_server_refreshes_on_schedule(svc: Service, caplog: pytest.LogCaptureFixture) -> None:
    scheduler = AnalyticsScheduler(svc.analytics, every=3600, clock=svc.clock)
    with caplog.at_level(logging.WARNING, "strongroom.analytics"):
        assert scheduler.tick() is False  # no release yet: the first is an operator's
        assert scheduler.tick() is False
    assert [r.message for r in caplog.records].count(
        "no analytics release yet: `strongroom analytics build` makes the first"
    ) == 1
    svc.analytics.build(svc.admin.operator())
    assert scheduler.tick() is False  # fresh
    svc.clock.advance(3600)
    assert scheduler.tick() is True
    assert svc.analytics.last_release().release == 2
    entries = [svc.journal.entry(i) for i in range(svc.journal.size())]
    refreshed = [e for e in entries if e.get("reason") == "analytics_refreshed"]
    assert refreshed[-1]["principal"] == SCHEDULER.principal_id
