"""`policy check` and `policy matrix` through typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_policy import line_of, mutate
from typer.testing import CliRunner

from strongroom.cli.policy_cmds import policy_app
from strongroom.policy import DEFAULT_POLICY_PATH

runner = CliRunner()


def test_check_ok() -> None:
    result = runner.invoke(policy_app, ["check", str(DEFAULT_POLICY_PATH)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"ok: {DEFAULT_POLICY_PATH}: 6 roles")


def test_check_reports_each_problem_with_location(tmp_path: Path) -> None:
    text = mutate(
        "      identity.birth_date: generalize   # birth year", "      identity.shoe_size: reveal"
    )
    text = text.replace("default_purpose: police_check", "default_purpose: case_work")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = runner.invoke(policy_app, ["check", str(path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    assert f"{path}:{line_of(text, 'identity.shoe_size')}:7: unknown field" in lines[1]
    assert lines[0].startswith(f"{path}:{line_of(text, 'default_purpose: case_work')}:")


def test_check_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("version: 1\nroles: [\n")
    result = runner.invoke(policy_app, ["check", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"{path}:") and "invalid YAML" in result.output


def test_matrix_markdown_to_file(tmp_path: Path) -> None:
    out = tmp_path / "m.md"
    result = runner.invoke(
        policy_app, ["matrix", str(DEFAULT_POLICY_PATH), "--markdown", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("# Policy matrix")
    row = next(line for line in text.splitlines() if line.startswith("| `address.street`"))
    # owner sees it; dealer purposes and police_check do not.
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "reveal" and cells[3] == "·" and cells[5] == "·"


def test_matrix_table_on_terminal() -> None:
    result = runner.invoke(policy_app, ["matrix", str(DEFAULT_POLICY_PATH)])
    assert result.exit_code == 0, result.output
    assert "identity.family_name" in result.output
    assert "partial" in result.output and "pseudonym" in result.output


def test_matrix_without_a_file_reads_the_home_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from strongroom.cli.main import app

    home = tmp_path / "home"
    monkeypatch.setenv("STRONGROOM_HOME", str(home))
    assert runner.invoke(app, ["init"]).exit_code == 0
    policy = home / "policy.yaml"
    # The home's own policy, not the packaged one: a field only this home declares.
    text = policy.read_text()
    marker = "    birth_place: {weight: 3}\n"
    assert marker in text
    policy.write_text(text.replace(marker, marker + "    nickname: {weight: 1}\n", 1))
    result = runner.invoke(app, ["policy", "matrix", "--markdown"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# Policy matrix")
    assert "`identity.nickname`" in result.output
    assert str(policy) in result.output
    # FILE still wins over the home.
    result = runner.invoke(app, ["policy", "matrix", str(DEFAULT_POLICY_PATH), "--markdown"])
    assert result.exit_code == 0, result.output
    assert "identity.nickname" not in result.output


def test_matrix_without_a_file_or_a_home_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRONGROOM_HOME", str(tmp_path / "nowhere"))
    result = runner.invoke(policy_app, ["matrix"])
    assert result.exit_code == 2
    assert "strongroom init" in result.output and "Traceback" not in result.output
