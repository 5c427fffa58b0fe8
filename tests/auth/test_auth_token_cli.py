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


@pytest.fixture
def production_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    from strongroom.cli.main import app as main_app

    path = tmp_path / "prod"
    monkeypatch.setenv("STRONGROOM_HOME", str(path))
    r = CliRunner().invoke(main_app, ["init", "--mode", "production"])
    assert r.exit_code == 0, r.output
    return Home(path)


def _journal_tail(home: Home) -> dict:
    from strongroom.compose import compose

    svc = compose(home)
    try:
        return svc.journal.entry(svc.journal.size() - 1)
    finally:
        svc.close()


def test_production_refuses_an_unbound_token(production_home: Home) -> None:
    result = _run("--role", "police", "--subject", "p-7")
    assert result.exit_code == 2
    assert "production" in result.output and "--dpop-jkt" in result.output
    assert "Traceback" not in result.output


def test_production_issues_a_bound_token_and_journals_it(
    production_home: Home, tmp_path: Path
) -> None:
    from joserfc.jwk import ECKey

    key = ECKey.generate_key("P-256")
    jwk_file = tmp_path / "client.jwk"
    jwk_file.write_text(json.dumps(key.as_dict(private=False)))
    result = _run("--role", "police", "--subject", "p-7", "--dpop-key", str(jwk_file), "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["token_type"] == "DPoP"
    claims = _verify(production_home, body["access_token"])
    assert claims["cnf"] == {"jkt": key.thumbprint()} and claims["sub"] == "p-7"
    entry = _journal_tail(production_home)
    assert (entry["kind"], entry["reason"]) == ("admin", "token_issued")
    assert entry["detail"]["jkt"] == key.thumbprint() and entry["detail"]["subject"] == "p-7"

    by_thumbprint = _run("--role", "police", "--subject", "p-7", "--dpop-jkt", key.thumbprint())
    assert by_thumbprint.exit_code == 0, by_thumbprint.output
    assert _verify(production_home, by_thumbprint.stdout.strip())["cnf"]["jkt"] == key.thumbprint()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dpop-jkt", "not-a-thumbprint"], "43 base64url"),
        (["--dpop-key", "/nonexistent/key.jwk"], "not a readable JSON file"),
        (["--dpop-jkt", "A" * 43, "--dpop-key", "/x"], "not both"),
        (["--dpop-jkt", "A" * 43, "--departement", "69"], "principal's row"),
    ],
)
def test_production_bad_binding_is_a_clear_error(
    production_home: Home, args: list[str], message: str
) -> None:
    result = _run("--role", "police", "--subject", "p-7", *args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output


def test_a_private_key_is_not_taken_for_a_binding(production_home: Home, tmp_path: Path) -> None:
    from joserfc.jwk import ECKey

    jwk_file = tmp_path / "private.jwk"
    jwk_file.write_text(json.dumps(ECKey.generate_key("P-256").as_dict(private=True)))
    result = _run("--role", "police", "--subject", "p-7", "--dpop-key", str(jwk_file))
    assert result.exit_code == 2 and "public key" in result.output


def test_demo_mode_binds_when_asked(home: Home) -> None:
    jkt = "B" * 43
    result = _run("--role", "police", "--subject", "p-7", "--dpop-jkt", jkt, "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["token_type"] == "DPoP"
    assert _verify(home, body["access_token"])["cnf"] == {"jkt": jkt}
