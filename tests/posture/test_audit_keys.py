"""SR022: a production home whose vault keys are in files (or whose HSM PIN sits in the
home) is flagged from its config.toml; a demo home and an HSM-backed one are not."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer
from typer.testing import CliRunner

from strongroom.cli.posture_cmds import audit_command
from strongroom.config import Home
from strongroom.policy import DEFAULT_POLICY_PATH
from strongroom.posture import Severity, load_audit_input, run_audit

OPENAPI = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}

cli = typer.Typer()
cli.command("audit")(audit_command)
cli.command("noop")(lambda: None)


def config(tmp_path: Path, **values: object) -> Path:
    home = Home(tmp_path / "home")
    home.path.mkdir(parents=True)
    home.write_config(replace(home.default_settings(), **values))
    return home.config_path


def sr022(path: Path) -> list[tuple[Severity, str, int]]:
    audit = load_audit_input(str(DEFAULT_POLICY_PATH), OPENAPI, config=str(path))
    report = run_audit(audit)
    assert str(path) in report.artifacts
    return [(f.severity, f.message, f.location.line) for f in report.by_rule("SR022")]


def line_of(path: Path, key: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, ln in enumerate(lines, 1) if ln.startswith(f"{key} ="))


def test_production_with_file_keys_is_critical(tmp_path: Path) -> None:
    path = config(tmp_path, mode="production")
    [(severity, message, line)] = sr022(path)
    assert severity is Severity.CRITICAL
    assert "keys/vault.json" in message
    assert line == line_of(path, "key_provider")


def test_demo_home_and_hsm_home_pass(tmp_path: Path) -> None:
    assert sr022(config(tmp_path / "a", mode="demo")) == []
    hsm = dict(
        key_provider="pkcs11",
        pkcs11_module="/usr/lib/softhsm/libsofthsm2.so",
        pkcs11_token_label="strongroom",
    )
    env = config(tmp_path / "b", mode="production", pkcs11_pin_env="STRONGROOM_HSM_PIN", **hsm)
    assert sr022(env) == []
    outside = config(tmp_path / "c", mode="production", pkcs11_pin_file="/etc/sr/pin", **hsm)
    assert sr022(outside) == []
    inside = config(tmp_path / "d", mode="production", pkcs11_pin_file="keys/pin", **hsm)
    [(severity, message, line)] = sr022(inside)
    assert severity is Severity.HIGH and "inside the home" in message
    assert line == line_of(inside, "pkcs11_pin_file")


def test_cli_audit_reads_the_config(tmp_path: Path) -> None:
    import json

    openapi = tmp_path / "openapi.json"
    openapi.write_text(json.dumps(OPENAPI), encoding="utf-8")
    path = config(tmp_path, mode="production")
    args = ["audit", "--policy", str(DEFAULT_POLICY_PATH), "--openapi", str(openapi)]
    result = CliRunner().invoke(cli, [*args, "--config", str(path), "--format", "json"])
    assert result.exit_code == 1, result.output
    assert any(f["rule_id"] == "SR022" for f in json.loads(result.output)["findings"])
    missing = CliRunner().invoke(cli, [*args, "--config", str(tmp_path / "nope.toml")])
    assert missing.exit_code == 2 and "cannot read config file" in missing.output
