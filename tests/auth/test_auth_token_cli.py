"""`strongroom token issue` through typer's runner against a real home folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from strongroom.auth.rfc9068 import TokenService
from strongroom.cli.token_cmds import token_app
from strongroom.config import Home


def _run(*args: str):
    # Mounted as in the real CLI: typer collapses a one-command app otherwise.
    app = typer.Typer()
    app.add_typer(token_app, name="token")
    return CliRunner().invoke(app, ["token", "issue", *args])


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    h = Home(tmp_path / "home")
    h.ensure_dirs()
    h.write_config(h.default_settings())
    monkeypatch.setenv("STRONGROOM_HOME", str(h.path))
    return h


def _verify(home: Home, token: str) -> dict:
    s = home.settings()
    return TokenService(home.keys_dir, issuer=s.issuer, audience=s.audience).verify_access_token(
        token
    )


def test_issue_json_with_role_defaults(home: Home) -> None:
    from strongroom.auth.role_grants import load_role_grant

    result = _run("--role", "police", "--subject", "p-7", "--case", "C-1", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["token_type"] == "Bearer"
    grant = load_role_grant("police", home.policy_path)
    assert body["expires_in"] == grant.token_lifetime_seconds
    claims = _verify(home, body["access_token"])
    assert claims["sub"] == "p-7" and claims["roles"] == ["police"]
    assert set(claims["scope"].split()) == set(grant.scopes)
    detail = claims["authorization_details"][0]
    assert detail["purpose"] == grant.default_purpose and detail["case"] == "C-1"


def test_issue_plain_with_explicit_scope_and_lifetime(home: Home) -> None:
    from strongroom.auth.role_grants import load_role_grant

    scope = sorted(load_role_grant("prefecture", home.policy_path).scopes)[0]
    result = _run(
        "--role",
        "prefecture",
        "--subject",
        "p-8",
        "--scope",
        scope,
        "--lifetime",
        "60",
        "--departement",
        "69",
    )
    assert result.exit_code == 0, result.output
    claims = _verify(home, result.stdout.strip())
    assert claims["scope"] == scope and claims["exp"] - claims["iat"] == 60
    assert claims["departement"] == "69"


def test_scope_outside_role_refused(home: Home) -> None:
    result = _run("--role", "owner", "--subject", "o-1", "--scope", "admin")
    assert result.exit_code == 2
    assert "may not hold scope" in result.output
    assert not (home.keys_dir / "token_signing.json").exists()


def test_unknown_role_refused(home: Home) -> None:
    result = _run("--role", "pirate", "--subject", "x")
    assert result.exit_code == 2
    assert "unknown role" in result.output
