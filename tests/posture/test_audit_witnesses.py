"""SR023: a production home whose journal checkpoints no witness holds is flagged from its
config.toml, at the `witnesses` line; with a witness, or in demo mode, it is not."""

from __future__ import annotations

from pathlib import Path

from strongroom.policy import DEFAULT_POLICY_PATH
from strongroom.posture import Severity, load_audit_input, run_audit
from tests.posture.test_audit_keys import OPENAPI, config, line_of

WITNESS = "https://w.example/ w.example/w1+6cf2a5b4+BJW5Ci9QpTtDtNOfPTC0r4hZ5mEhf3XaqsZN4e8V1gY1"


def sr023(path: Path) -> list[tuple[Severity, str, int]]:
    report = run_audit(load_audit_input(str(DEFAULT_POLICY_PATH), OPENAPI, config=str(path)))
    return [(f.severity, f.message, f.location.line) for f in report.by_rule("SR023")]


def test_production_without_a_witness_is_high(tmp_path: Path) -> None:
    path = config(tmp_path, mode="production")
    [(severity, message, line)] = sr023(path)
    assert severity is Severity.HIGH and "no witness" in message
    assert line == line_of(path, "witnesses")


def test_a_witness_or_demo_mode_passes(tmp_path: Path) -> None:
    assert sr023(config(tmp_path / "a", mode="demo")) == []
    assert sr023(config(tmp_path / "b", mode="production", witnesses=(WITNESS,))) == []
