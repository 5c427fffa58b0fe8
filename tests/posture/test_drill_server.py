"""The drill and the audit against a real server process: `strongroom serve` on a free
loopback port in a temporary STRONGROOM_HOME (tests/served.py), stopped after."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import typer
from typer.testing import CliRunner

from strongroom.cli.posture_cmds import audit_command
from strongroom.config import Home
from strongroom.policy import DEFAULT_POLICY_PATH
from strongroom.posture.drill import DrillConfig, run_drill
from tests.served import served


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:
    from strongroom.cli.demo import create_demo_principals
    from strongroom.cli.seeding import seed_home
    from strongroom.compose import compose
    from strongroom.initialize import initialize

    home = Home(tmp_path_factory.mktemp("served") / "home")
    initialize(home)
    report = seed_home(home, persons=100, seed=5)
    service = compose(home)
    try:
        principals = create_demo_principals(service, report.fixtures)
        tokens = {"police": service.token_issuer.issue(role="police", subject=principals["police"])}
    finally:
        service.close()
    with served(home) as url:
        yield url, tokens


def test_drill_against_a_served_deployment_is_stopped(server) -> None:
    url, tokens = server
    ticks: list[int] = []
    report = run_drill(
        DrillConfig(url=url, strategy="name-sweep", max_requests=300, max_seconds=120),
        tokens=[tokens["police"]],
        progress=lambda r: ticks.append(r.requests),
    )
    assert report.stopped, report.to_dict()
    stop = report.first_stop
    assert stop.layer in {"budget", "detector"} and stop.after_requests < 300
    assert report.records < 100
    assert ticks == list(range(1, report.requests + 1))


def test_audit_fetches_openapi_from_the_server(server) -> None:
    url, _ = server
    cli = typer.Typer()
    cli.command("audit")(audit_command)
    cli.command("noop")(lambda: None)
    r = CliRunner().invoke(
        cli,
        [
            "audit",
            "--policy",
            str(DEFAULT_POLICY_PATH),
            "--openapi",
            url + "/openapi.json",
            "--format",
            "json",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["counts"]["high"] == 0 and doc["counts"]["critical"] == 0
    assert doc["artifacts"][1] == url + "/openapi.json"
