"""The main CLI: init is idempotent, serve refuses an invalid policy, errors are clear."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from strongroom.cli.main import app


def test_init_twice_keeps_keys(tmp_path: Path) -> None:
    env = {"STRONGROOM_HOME": str(tmp_path / "home")}
    first = CliRunner().invoke(app, ["init"], env=env)
    assert first.exit_code == 0, first.output
    keys = (tmp_path / "home" / "keys" / "vault.json").read_bytes()
    again = CliRunner().invoke(app, ["init"], env=env)
    assert again.exit_code == 0, again.output
    assert (tmp_path / "home" / "keys" / "vault.json").read_bytes() == keys
    assert oct((tmp_path / "home" / "keys").stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "home" / "keys" / "vault.json").stat().st_mode & 0o777) == "0o600"


def test_serve_refuses_an_invalid_policy(tmp_path: Path) -> None:
    env = {"STRONGROOM_HOME": str(tmp_path / "home")}
    assert CliRunner().invoke(app, ["init"], env=env).exit_code == 0
    policy = tmp_path / "home" / "policy.yaml"
    policy.write_text(
        policy.read_text().replace("default_purpose: case_work", "default_purpose: no_such_purpose")
    )
    r = CliRunner().invoke(app, ["serve", "--port", "1"], env=env)
    assert r.exit_code == 2
    assert "policy.yaml" in r.output and "Traceback" not in r.output


def test_commands_without_a_home_say_so(tmp_path: Path) -> None:
    env = {"STRONGROOM_HOME": str(tmp_path / "nowhere")}
    r = CliRunner().invoke(app, ["principal", "list"], env=env)
    assert r.exit_code == 2
    assert "strongroom init" in r.output


def test_principal_add_validates_role(tmp_path: Path) -> None:
    env = {"STRONGROOM_HOME": str(tmp_path / "home")}
    assert CliRunner().invoke(app, ["init"], env=env).exit_code == 0
    bad = CliRunner().invoke(app, ["principal", "add", "--role", "wizard"], env=env)
    assert bad.exit_code == 2 and "unknown staff role" in bad.output
    ok = CliRunner().invoke(app, ["principal", "add", "--role", "police"], env=env)
    assert ok.exit_code == 0, ok.output
    listed = CliRunner().invoke(app, ["principal", "list", "--json"], env=env)
    assert ok.output.strip() in listed.output


def test_password_and_client_registration(tmp_path: Path) -> None:
    env = {"STRONGROOM_HOME": str(tmp_path / "home")}
    assert CliRunner().invoke(app, ["init"], env=env).exit_code == 0
    pid = CliRunner().invoke(app, ["principal", "add", "--role", "police"], env=env).output.strip()
    short = CliRunner().invoke(
        app, ["principal", "password", pid, "--username", "o1", "--password", "short"], env=env
    )
    assert short.exit_code == 2 and "12 characters" in short.output
    ok = CliRunner().invoke(
        app,
        [
            "principal",
            "password",
            pid,
            "--username",
            "o1",
            "--password",
            "a long and boring passphrase",
        ],
        env=env,
    )
    assert ok.exit_code == 0, ok.output
    bad_uri = CliRunner().invoke(
        app, ["client", "add", "console", "--redirect-uri", "http://evil.example/cb"], env=env
    )
    assert bad_uri.exit_code == 2 and "redirect" in bad_uri.output
    added = CliRunner().invoke(
        app,
        ["client", "add", "console", "--redirect-uri", "http://127.0.0.1:8765/callback"],
        env=env,
    )
    assert added.exit_code == 0 and "public client console" in added.output
