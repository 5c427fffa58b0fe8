"""The main CLI: init is idempotent, serve refuses an invalid policy, errors are clear."""

from __future__ import annotations

import json
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


def test_principal_sessions_lists_and_ends(tmp_path: Path) -> None:
    """`principal sessions ID` shows where each live session signed in from; `--revoke
    all` ends them (journaled); an unknown session ID is a one-line error."""
    from strongroom.compose import compose
    from strongroom.config import Home

    env = {"STRONGROOM_HOME": str(tmp_path / "home")}
    assert CliRunner().invoke(app, ["init"], env=env).exit_code == 0
    pid = CliRunner().invoke(app, ["principal", "add", "--role", "police"], env=env).output.strip()
    svc = compose(Home(tmp_path / "home"))
    try:
        for ua in ("Firefox/140.0", "Chrome/150.0"):
            svc.authorization_server.sessions.create(
                principal_id=pid,
                client_id="console",
                acr="mfa",
                auth_time=svc.clock.now(),
                ip_prefix="192.0.2.0/24",
                user_agent=ua,
            )
    finally:
        svc.close()
    listed = CliRunner().invoke(app, ["principal", "sessions", pid, "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert sorted(r["user_agent"] for r in rows) == ["Chrome/150.0", "Firefox/140.0"]
    typo = CliRunner().invoke(app, ["principal", "sessions", pid, "--revoke", "nope"], env=env)
    assert typo.exit_code == 2 and "no such session" in typo.output
    ended = CliRunner().invoke(app, ["principal", "sessions", pid, "--revoke", "all"], env=env)
    assert ended.exit_code == 0 and "ended 2 session(s)" in ended.output
    again = CliRunner().invoke(app, ["principal", "sessions", pid, "--json"], env=env)
    assert json.loads(again.output) == []
