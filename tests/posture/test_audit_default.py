"""The shipped default deployment (default policy + the real app's OpenAPI document) has no
high finding; the CLI writes a table, JSON and SARIF 2.1.0 and exits by --fail-on."""

from __future__ import annotations

import json
import socket

import pytest
import typer
from posture_testkit import EXAMPLES, check_sarif
from typer.testing import CliRunner

from strongroom.cli.posture_cmds import audit_command
from strongroom.policy import DEFAULT_POLICY_PATH
from strongroom.posture import (
    Severity,
    TargetRefused,
    load_audit_input,
    run_audit,
    to_sarif,
)

cli = typer.Typer()
cli.command("audit")(audit_command)
cli.command("noop")(lambda: None)  # two commands, so "audit" stays a subcommand


@pytest.fixture(scope="module")
def openapi_file(deployment, tmp_path_factory):
    path = tmp_path_factory.mktemp("api") / "openapi.json"
    path.write_text(json.dumps(deployment.app.openapi(), indent=2), encoding="utf-8")
    return path


def test_default_deployment_has_no_high_finding(deployment) -> None:
    audit = load_audit_input(str(DEFAULT_POLICY_PATH), deployment.app.openapi())
    report = run_audit(audit)
    high = [f"{f.rule_id} {f.message}" for f in report.findings if f.severity >= Severity.HIGH]
    assert high == []
    # The home's policy (a copy of the default) is the one the app runs with.
    same = run_audit(load_audit_input(str(deployment.home.policy_path), deployment.app.openapi()))
    assert not same.failed(Severity.HIGH)


def test_every_registry_route_is_governed(deployment) -> None:
    report = run_audit(load_audit_input(str(DEFAULT_POLICY_PATH), deployment.app.openapi()))
    assert report.by_rule("SR006") == []
    assert report.by_rule("SR005") == []  # path IDs are strings (random UUIDs)


def test_cli_exit_status_follows_fail_on(openapi_file) -> None:
    runner = CliRunner()
    ok = runner.invoke(
        cli, ["audit", "--policy", str(DEFAULT_POLICY_PATH), "--openapi", str(openapi_file)]
    )
    assert ok.exit_code == 0, ok.output
    assert "findings" in ok.output
    weak = [
        "audit",
        "--policy",
        str(EXAMPLES / "policy.yaml"),
        "--openapi",
        str(EXAMPLES / "openapi.json"),
        "--deployment",
        str(EXAMPLES / "deployment.yaml"),
    ]
    assert runner.invoke(cli, weak).exit_code == 1
    assert runner.invoke(cli, [*weak, "--fail-on", "critical"]).exit_code == 0
    strict = runner.invoke(
        cli,
        [
            "audit",
            "--policy",
            str(DEFAULT_POLICY_PATH),
            "--openapi",
            str(openapi_file),
            "--fail-on",
            "low",
        ],
    )
    assert strict.exit_code == 1  # the default still has low findings (shadow detectors)


def test_cli_json_and_sarif(tmp_path) -> None:
    runner = CliRunner()
    args = [
        "audit",
        "--policy",
        str(EXAMPLES / "policy.yaml"),
        "--openapi",
        str(EXAMPLES / "openapi.json"),
        "--deployment",
        str(EXAMPLES / "deployment.yaml"),
    ]
    out = tmp_path / "audit.sarif"
    r = runner.invoke(cli, [*args, "--format", "sarif", "--output", str(out)])
    assert r.exit_code == 1
    sarif = json.loads(out.read_text(encoding="utf-8"))
    check_sarif(sarif)
    results = sarif["runs"][0]["results"]
    assert {x["ruleId"] for x in results} >= {"SR001", "SR005", "SR013"}
    pointer = next(x for x in results if x["ruleId"] == "SR005")["locations"][0]
    assert pointer["logicalLocations"][0]["fullyQualifiedName"].startswith("/paths/")
    r = runner.invoke(cli, [*args, "--format", "json"])
    doc = json.loads(r.output)
    assert doc["counts"]["high"] == sum(1 for f in doc["findings"] if f["severity"] == "high")
    assert all(f["location"]["line"] >= 1 and f["fix"] for f in doc["findings"])


def test_sarif_of_the_default_is_valid(deployment) -> None:
    report = run_audit(load_audit_input(str(DEFAULT_POLICY_PATH), deployment.app.openapi()))
    check_sarif(to_sarif(report))


def test_bad_deployment_file_is_a_usage_error(tmp_path) -> None:
    dep = tmp_path / "deployment.yaml"
    dep.write_text(
        "version: 1\nauth:\n  clients:\n    - client_id: x\n      publik: true\n", encoding="utf-8"
    )
    r = CliRunner().invoke(
        cli,
        [
            "audit",
            "--policy",
            str(DEFAULT_POLICY_PATH),
            "--openapi",
            str(EXAMPLES / "openapi.json"),
            "--deployment",
            str(dep),
        ],
    )
    assert r.exit_code == 2
    assert "deployment.yaml:4" in r.output or "deployment.yaml:5" in r.output


def test_remote_openapi_url_is_refused_before_connecting(monkeypatch) -> None:
    attempts: list[object] = []
    real = socket.socket.connect

    def spy(self, address):  # noqa: ANN001
        attempts.append(address)
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    with pytest.raises(TargetRefused):
        load_audit_input(str(DEFAULT_POLICY_PATH), "http://192.0.2.1/openapi.json")
    r = CliRunner().invoke(
        cli,
        [
            "audit",
            "--policy",
            str(DEFAULT_POLICY_PATH),
            "--openapi",
            "http://192.0.2.1:8000/openapi.json",
        ],
    )
    assert r.exit_code == 2 and "loopback" in r.output
    assert attempts == []
