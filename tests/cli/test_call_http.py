"""`strongroom call` against a real served process on a port that is not the issuer's
(issue 21, the first hour): each role's request goes out with a DPoP-bound token and a
fresh proof, works in production mode where bearer tokens are refused, and a service
account's DPoP proof at the token endpoint names the served address and is accepted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from joserfc.jwk import ECKey

from strongroom.cli.demo import prepare_demo
from strongroom.cli.seeding import DEMO_FILE, load_fixtures
from strongroom.clock import SYSTEM_CLOCK
from strongroom.compose import compose
from strongroom.config import Home
from strongroom.posture.drill_client import Account, ClientKey
from tests.served import served


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    home = Home(tmp_path_factory.mktemp("call") / "home")
    prepare_demo(home, persons=300, base_url="http://127.0.0.1:8000")
    return home


def _call(home: Home, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STRONGROOM_HOME": str(home.path)}
    return subprocess.run(
        [sys.executable, "-m", "strongroom.cli.main", "call", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_role_calls_with_dpop_on_another_port(demo_home: Home) -> None:
    fixtures = load_fixtures(demo_home) or {}
    body = json.dumps(
        {"family_name": fixtures["family_name"], "birth_date": fixtures["birth_date"]}
    )
    with served(demo_home) as url:
        assert not url.endswith(":8000")
        owner = _call(demo_home, "owner", "GET", "/v1/me")
        assert owner.returncode == 0, owner.stderr
        assert fixtures["owner_id"] in owner.stdout and "identity" in json.loads(owner.stdout)
        prefecture = _call(demo_home, "prefecture", "GET", f"/v1/persons/{fixtures['owner_id']}")
        assert prefecture.returncode == 0, prefecture.stderr
        police = _call(demo_home, "police", "POST", "/v1/persons/search", body)
        assert police.returncode == 0, police.stderr
        ledger = _call(demo_home, "dealer", "GET", "/v1/ledger", "--purpose", "ledger_keeping")
        assert ledger.returncode == 0, ledger.stderr
        auditor = _call(demo_home, "auditor", "GET", "/v1/journal/checkpoint")
        assert auditor.returncode == 0, auditor.stderr
        admin = _call(demo_home, "admin", "GET", "/v1/containments")
        assert admin.returncode == 0, admin.stderr
        missing = _call(demo_home, "owner", "GET", "/v1/nothing-here")
        assert missing.returncode == 1 and "404" in missing.stderr
    bad = _call(demo_home, "owner", "POST", "/v1/me/requests", "{not json")
    assert bad.returncode == 2 and "not JSON" in bad.stderr
    key = json.loads((demo_home.path / "cli" / "dpop-key.jwk").read_text())
    assert "d" in key and ((demo_home.path / "cli" / "dpop-key.jwk").stat().st_mode & 0o077) == 0


def test_call_works_in_production_where_bearer_tokens_do_not(demo_home: Home) -> None:
    demo_home.update_config(mode="production")
    try:
        fixtures = load_fixtures(demo_home) or {}
        svc = compose(demo_home)
        try:
            principals = json.loads((demo_home.path / DEMO_FILE).read_text())["principals"]
            assert principals["police"]
            bearer = svc.tokens.issue_access_token(
                subject=fixtures["owner_id"],
                role="owner",
                scopes={"me:read"},
                purpose="self_service",
                lifetime=300,
            )
        finally:
            svc.close()
        with served(demo_home) as url:
            refused = httpx.get(url + "/v1/me", headers={"Authorization": f"Bearer {bearer}"})
            assert refused.status_code == 401
            # A token cached in demo mode is still good; a fresh one goes through the
            # administration tasks (journaled). Either way it is DPoP-bound.
            (demo_home.path / "cli" / "tokens.json").unlink(missing_ok=True)
            owner = _call(demo_home, "owner", "GET", "/v1/me")
            assert owner.returncode == 0, owner.stderr
    finally:
        demo_home.update_config(mode="demo")


def test_service_account_dpop_at_the_token_endpoint_of_another_port(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    prepare_demo(home, persons=200, base_url="http://127.0.0.1:8000")
    key = ECKey.generate_key("P-256", auto_kid=True)
    svc = compose(home)
    try:
        principal = svc.admin.add_principal(role="police", label="case system")
        svc.admin.register_client(
            "svc",
            public=False,
            grant_types=["client_credentials"],
            jwks={"keys": [key.as_dict(private=False)]},
            service_principal_id=principal,
        )
    finally:
        svc.close()
    with served(home) as url, httpx.Client(timeout=10) as http:
        meta = http.get(url + "/.well-known/oauth-authorization-server").json()
        assert meta["token_endpoint"] == url + "/oauth/token"
        account = Account(http, url, SYSTEM_CLOCK, client_key=ClientKey("svc", key.as_dict(True)))
        account.login()  # DPoP proof for the served address's token endpoint
        serial = (load_fixtures(home) or {})["weapon_serial"]
        assert account.request("POST", "/v1/weapons/lookup", {"serial": serial}).status_code == 200
