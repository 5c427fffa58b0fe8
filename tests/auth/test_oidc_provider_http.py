"""An external OpenID Connect issuer that is a real provider: panva's oidc-provider (OpenID
Certified) run by Node.js as its own process (tests/oidc_provider), trusted by a production
home through config.toml (`external_issuer`, `external_roles`), and Strongroom's ASGI app
over HTTP. Tokens are the provider's own: client_credentials, DPoP-bound, RFC 9068 JWTs for
the resource indicator asked for, carrying `realm_access.roles` and `purpose`."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey

from strongroom.api.app import create_app
from strongroom.auth.issuers import TrustedIssuers
from strongroom.clock import FakeClock
from strongroom.compose import Service, compose
from strongroom.config import Home
from strongroom.errors import BadRequest
from strongroom.initialize import initialize
from strongroom.posture.served import free_port, running
from tests.auth.auth_testkit import BoundSession, DPoPClient, client_assertion, pkce_pair
from tests.conftest import _unavailable
from tests.console.console_testkit import console_setup
from tests.console.test_console_http import sign_in as console_sign_in
from tests.deployment import build_deployment
from tests.served import journal_entries, served

PROVIDER_DIR = Path(__file__).resolve().parents[1] / "oidc_provider"
AUDIENCE = "https://api.strongroom.test"
OTHER_AUDIENCE = "https://other.example/api"
LOOKUP = "http://testserver/v1/weapons/lookup"
SCOPE = "weapons:lookup persons:search"
LIFETIME = 3600
APP = "console"  # a public app signing accounts in at the provider
REDIRECT = "http://127.0.0.1:9/callback"  # never fetched: the code is read from the redirect
PASSWORD = secrets.token_urlsafe(16)
SHORT_LIFETIME = 60


def provider_installed() -> str:
    """Node's path, with the provider's pinned packages installed (`npm ci`, as .ci/run
    does on a fresh machine). Under CI a missing Node or a failed install fails the run."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("Node.js and npm (the OIDC provider)", FileNotFoundError("node/npm"))
        raise AssertionError("unreachable")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        done = subprocess.run(  # noqa: S603 - npm from PATH, fixed arguments
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=PROVIDER_DIR,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            _unavailable("npm ci of tests/oidc_provider", RuntimeError(done.stderr[-2000:]))
    return node


class Provider:
    """The running provider: its issuer URL, and tokens from its token endpoint."""

    def __init__(self, url: str, admin_token: str, clients: dict[str, dict[str, Any]]) -> None:
        self.url, self.admin_token, self.clients = url, admin_token, clients
        self.base = url.rstrip("/")  # where its routes are, whichever way it names itself

    def token(self, client: str, dpop: DPoPClient | None, *, resource: str = AUDIENCE) -> str:
        c = self.clients[client]
        headers = {}
        if dpop is not None:
            # The provider checks the proof against its own clock, not the test's.
            headers["DPoP"] = dpop.proof("POST", self.base + "/token", iat=time.time())
        r = httpx.post(
            self.base + "/token",
            data={
                "grant_type": "client_credentials",
                "client_id": c["client_id"],
                "client_secret": c["client_secret"],
                "resource": resource,
                "scope": SCOPE,
            },
            headers=headers,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["token_type"] == ("DPoP" if dpop is not None else "Bearer")
        return str(body["access_token"])

    def sign_in(self, login: str, password: str, verifier_challenge: str) -> dict[str, list[str]]:
        """The browser's part of the authorization code flow: the query of the redirect
        back to the app (`code`, or `error`)."""
        with httpx.Client(base_url=self.base) as browser:
            r = browser.get(
                "/auth",
                params={
                    "client_id": APP,
                    "response_type": "code",
                    "redirect_uri": REDIRECT,
                    "scope": "openid " + SCOPE,
                    "resource": AUDIENCE,
                    "code_challenge": verifier_challenge,
                    "code_challenge_method": "S256",
                    "state": "st-1",
                },
            )
            assert r.status_code == 303, r.text
            assert browser.get(r.headers["location"]).json()["prompt"] == "login"
            r = browser.post(r.headers["location"], data={"login": login, "password": password})
            while r.status_code in (302, 303) and not r.headers["location"].startswith(REDIRECT):
                r = browser.get(r.headers["location"])
            assert r.status_code in (302, 303), r.text
        return parse_qs(urlsplit(r.headers["location"]).query)

    def redeem(self, code: str, verifier: str, dpop: DPoPClient) -> str:
        r = httpx.post(
            self.base + "/token",
            data={
                "grant_type": "authorization_code",
                "client_id": APP,
                "code": code,
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
                "resource": AUDIENCE,
            },
            headers={"DPoP": dpop.proof("POST", self.base + "/token", iat=time.time())},
        )
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def sign(self, claims: dict[str, Any]) -> str:
        """`claims` signed with the provider's own current key (its test endpoint)."""
        r = httpx.post(
            self.base + "/_test/sign",
            json=claims,
            headers={"Authorization": f"Bearer {self.admin_token}"},
        )
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    def rotate(self) -> str:
        r = httpx.post(
            self.base + "/_test/rotate", headers={"Authorization": f"Bearer {self.admin_token}"}
        )
        assert r.status_code == 200, r.text
        return str(r.json()["kid"])


def client_spec(client_id: str, roles: list[str], *, ttl: int = LIFETIME) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "client_secret": secrets.token_urlsafe(32),
        "scope": SCOPE,
        "roles": roles,
        "purpose": "police_check",
        "dpop_bound_access_tokens": True,
        "ttl": ttl,
    }


@dataclass
class World:
    node: str
    service: Service
    http: TestClient
    clock: FakeClock
    provider: Provider
    fixtures: dict[str, Any]
    police: str  # the principal the provider's client `police` is (its tokens' `sub`)
    short: str  # another police principal, whose tokens live SHORT_LIFETIME seconds
    suspended: str  # a third, which the revocation test suspends


@contextlib.contextmanager
def provider_process(
    node: str,
    folder: Path,
    clients: dict[str, dict[str, Any]],
    *,
    accounts: list[dict[str, Any]] | None = None,
    port: int | None = None,
    slash: str = "",
) -> Iterator[Provider]:
    """The provider on `port`, naming itself http://127.0.0.1:PORT followed by `slash`."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    url = base + slash
    admin_token = secrets.token_urlsafe(24)
    config = {
        "port": port,
        "issuer": url,
        "admin_token": admin_token,
        "resources": {AUDIENCE: {"scope": SCOPE}, OTHER_AUDIENCE: {"scope": SCOPE}},
        "clients": list(clients.values()),
        "accounts": accounts or [],
        "apps": [{"client_id": APP, "redirect_uri": REDIRECT, "scope": "openid " + SCOPE}],
    }
    config_path = folder / "provider.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    command = [node, str(PROVIDER_DIR / "provider.mjs"), str(config_path)]
    ready = base + "/.well-known/openid-configuration"
    with running(command, dict(os.environ), folder / "provider.log", ready, timeout=30):
        yield Provider(url, admin_token, clients)


def trusting(home: Home, issuer: str, clock: FakeClock) -> tuple[Service, TestClient]:
    """The home's service once config.toml names the provider as its external issuer."""
    home.update_config(
        external_issuer=issuer,
        external_roles=["gendarme=police", "agent-prefecture=prefecture"],
        audience=AUDIENCE,
    )
    service = compose(home, clock=clock)
    return service, TestClient(create_app(service), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    node = provider_installed()
    folder = tmp_path_factory.mktemp("oidc")
    # Strongroom's clock starts at the provider's (real) time; tests move it forward only.
    clock = FakeClock(time.time())
    dep = build_deployment(folder / "home", persons=60, mode="production", clock=clock)
    police = dep.principals["police"]
    short = dep.service.admin.add_principal(role="police", label="short-lived tokens")
    suspended = dep.service.admin.add_principal(role="police", label="to be suspended")
    dep.client.close()
    dep.service.close()
    unbound = client_spec("batch-job", ["gendarme"]) | {"dpop_bound_access_tokens": False}
    clients = {
        "police": client_spec(police, ["gendarme", "offline_access"]),
        "short": client_spec(short, ["gendarme"], ttl=SHORT_LIFETIME),
        "suspended": client_spec(suspended, ["gendarme"]),
        "visitor": client_spec("visitor-app", ["visitor"]),
        "unbound": unbound,
    }
    # The officer signs in at the provider (authorization code + PKCE) as an account whose
    # ID is the principal's, as a Keycloak user would carry it in `sub`.
    accounts = [
        {"id": police, "password": PASSWORD, "roles": ["gendarme"], "purpose": "police_check"}
    ]
    with provider_process(node, folder, clients, accounts=accounts) as provider:
        service, http = trusting(dep.home, provider.url, clock)
        try:
            yield World(
                node, service, http, clock, provider, dep.fixtures, police, short, suspended
            )
        finally:
            http.close()
            service.close()


@pytest.fixture(autouse=True)
def in_step(world: World) -> None:
    """Strongroom's clock catches up with the provider's: the fixture's seeding and the
    tests before took real time. Forward only: the journal's times never go back."""
    world.clock.set(max(world.clock.now(), time.time()))


def decoded(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    def part(text: str) -> dict[str, Any]:
        return dict(json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))))

    header, payload, _ = token.split(".")
    return part(header), part(payload)


def lookup(world: World, token: str, dpop: DPoPClient) -> httpx.Response:
    body = {"serial": world.fixtures["weapon_serial"]}
    return BoundSession(world.http, dpop, token).call("POST", LOOKUP, json=body)  # type: ignore[no-any-return]


def last_entry(service: Service) -> dict[str, Any]:
    service.journal.flush()
    return service.journal.entry(service.journal.size() - 1)


def assert_refused(r: httpx.Response, status: int = 401) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = r.json()
    assert problem["status"] == status
    return problem


def test_a_provider_token_reads_what_its_mapped_role_may(world: World) -> None:
    dpop = DPoPClient(world.clock)
    token = world.provider.token("police", dpop)
    header, claims = decoded(token)
    assert (header["typ"], header["alg"]) == ("at+jwt", "ES256")
    assert (claims["iss"], claims["aud"], claims["sub"]) == (
        world.provider.url,
        AUDIENCE,
        world.police,
    )
    assert claims["cnf"] == {"jkt": dpop.jkt}
    assert claims["realm_access"] == {"roles": ["gendarme", "offline_access"]}
    r = lookup(world, token, dpop)
    assert r.status_code == 200, r.text
    entry = last_entry(world.service)
    assert (entry["principal"], entry["role"], entry["outcome"]) == (
        world.police,
        "police",
        "allowed",
    )
    assert (entry["client"], entry["purpose"]) == (world.police, "police_check")


def test_an_officer_signed_in_at_the_provider_reads_with_its_token(world: World) -> None:
    verifier, challenge = pkce_pair()
    back = world.provider.sign_in(world.police, PASSWORD, challenge)
    assert back["state"] == ["st-1"] and back["iss"] == [world.provider.url]
    dpop = DPoPClient(world.clock)
    token = world.provider.redeem(back["code"][0], verifier, dpop)
    _, claims = decoded(token)
    assert (claims["sub"], claims["client_id"], claims["cnf"]) == (
        world.police,
        APP,
        {"jkt": dpop.jkt},
    )
    assert claims["sid"]  # the provider's session, as Keycloak's tokens carry it
    r = lookup(world, token, dpop)
    assert r.status_code == 200, r.text
    entry = last_entry(world.service)
    assert (entry["principal"], entry["client"], entry["outcome"]) == (
        world.police,
        APP,
        "allowed",
    )


def test_a_wrong_password_at_the_provider_gets_no_code(world: World) -> None:
    _, challenge = pkce_pair()
    back = world.provider.sign_in(world.police, PASSWORD + "x", challenge)
    assert back["error"] == ["access_denied"] and "code" not in back


def test_a_role_mapped_to_none_of_ours_is_refused(world: World) -> None:
    dpop = DPoPClient(world.clock)
    token = world.provider.token("visitor", dpop)
    assert decoded(token)[1]["realm_access"] == {"roles": ["visitor"]}
    problem = assert_refused(lookup(world, token, dpop))
    assert "no role known here" in problem["detail"]
    entry = last_entry(world.service)
    assert (entry["kind"], entry["outcome"]) == ("security", "refused")


def test_a_token_for_another_audience_is_refused(world: World) -> None:
    dpop = DPoPClient(world.clock)
    token = world.provider.token("police", dpop, resource=OTHER_AUDIENCE)
    assert decoded(token)[1]["aud"] == OTHER_AUDIENCE
    problem = assert_refused(lookup(world, token, dpop))
    assert problem["detail"] == "access token rejected (invalid_claim: aud)"


def test_an_unbound_provider_token_is_refused_in_production(world: World) -> None:
    token = world.provider.token("unbound", None)
    assert "cnf" not in decoded(token)[1]
    r = world.http.post(
        LOOKUP,
        json={"serial": world.fixtures["weapon_serial"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert assert_refused(r)["reason"] == "unbound_token"


def test_an_expired_provider_token_is_refused(world: World) -> None:
    dpop = DPoPClient(world.clock)
    token = world.provider.token("short", dpop)
    _, claims = decoded(token)
    assert claims["exp"] - claims["iat"] == SHORT_LIFETIME
    assert lookup(world, token, dpop).status_code == 200
    world.clock.set(claims["exp"] + 31)  # past its expiry and the verifier's 30 s leeway
    problem = assert_refused(lookup(world, token, dpop))
    assert problem["detail"] == "access token rejected (expired_token: exp)"


def test_revoking_the_principal_bites_on_its_provider_token(world: World) -> None:
    """What containment does to a principal (the detectors' suspension, an administrator)
    holds for tokens the provider issued too: the next request is refused."""
    dpop = DPoPClient(world.clock)
    token = world.provider.token("suspended", dpop)
    assert lookup(world, token, dpop).status_code == 200
    world.service.sessions.revoke_principal(world.suspended)
    problem = assert_refused(lookup(world, token, dpop))
    assert problem["detail"] == "access token revoked"


def test_keys_the_provider_rotates_to_verify_and_keys_it_never_published_do_not(
    world: World,
) -> None:
    dpop = DPoPClient(world.clock)
    before = world.provider.token("police", dpop)
    assert lookup(world, before, dpop).status_code == 200
    new_kid = world.provider.rotate()
    world.clock.advance(11)  # past the verifier's minimum interval between JWKS fetches
    after = world.provider.token("police", dpop)
    header, claims = decoded(after)
    assert header["kid"] == new_kid != decoded(before)[0]["kid"]
    r = lookup(world, after, dpop)  # an unknown kid: the JWKS is fetched again
    assert r.status_code == 200, r.text
    assert lookup(world, before, dpop).status_code == 200  # the old key is still published
    stranger = ECKey.generate_key("P-256", auto_kid=True)
    for kid in (stranger.kid, new_kid):
        forged = jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": kid}, claims, stranger)
        assert_refused(lookup(world, forged, dpop))


def test_a_discovery_naming_another_issuer_is_refused_with_a_clear_error(
    world: World, tmp_path: Path
) -> None:
    # The same provider under another name: its discovery names http://127.0.0.1:PORT.
    alias = world.provider.url.replace("127.0.0.1", "localhost")
    dep = build_deployment(tmp_path / "home", persons=20, mode="production", clock=world.clock)
    dep.client.close()
    dep.service.close()
    service, http = trusting(dep.home, alias, world.clock)
    try:
        dpop = DPoPClient(world.clock)
        real = world.provider.token("police", dpop)
        # The provider's own tokens name it as it names itself: an issuer not trusted here.
        r = BoundSession(http, dpop, real).call(
            "POST", LOOKUP, json={"serial": dep.fixtures["weapon_serial"]}
        )
        assert assert_refused(r)["detail"] == "access token from an issuer not trusted here"
        # A token naming the configured issuer goes to it, whose discovery names another.
        _, claims = decoded(real)
        stranger = ECKey.generate_key("P-256", auto_kid=True)
        header = {"alg": "ES256", "typ": "at+jwt", "kid": stranger.kid}
        token = jwt.encode(header, claims | {"iss": alias}, stranger)
        for _ in range(2):  # the second answer is the first's, without a fetch
            r = BoundSession(http, dpop, token).call(
                "POST", LOOKUP, json={"serial": dep.fixtures["weapon_serial"]}
            )
            problem = assert_refused(r, 503)
            assert f"names the issuer '{world.provider.url}'" in problem["detail"]
            assert f"not the configured '{alias}'" in problem["detail"]
    finally:
        http.close()
        service.close()


@pytest.mark.parametrize(("named", "configured"), [("/", ""), ("", "/")])
def test_an_issuer_named_with_or_without_a_trailing_slash_is_the_same_issuer(
    world: World, tmp_path: Path, named: str, configured: str
) -> None:
    """Providers disagree on the slash (Keycloak's realm URLs have none, others end in
    one) and operators copy either form: the configured URL and the provider's own name
    for itself are matched without it, and its tokens are held to the name its discovery
    gives (OIDC Discovery 1.0 §4.3), exactly."""
    dep = build_deployment(tmp_path / "home", persons=20, mode="production", clock=world.clock)
    police = dep.principals["police"]
    dep.client.close()
    dep.service.close()
    clients = {"police": client_spec(police, ["gendarme"])}
    with provider_process(world.node, tmp_path, clients, slash=named) as provider:
        base = provider.url.rstrip("/")
        service, http = trusting(dep.home, base + configured, world.clock)
        try:
            dpop = DPoPClient(world.clock)
            token = provider.token("police", dpop)
            assert decoded(token)[1]["iss"] == base + named
            body = {"serial": dep.fixtures["weapon_serial"]}
            r = BoundSession(http, dpop, token).call("POST", LOOKUP, json=body)
            assert r.status_code == 200, r.text
            assert last_entry(service)["principal"] == police
            # The other spelling is not the provider's name: such a token is refused.
            _, claims = decoded(token)
            other = base + ("" if named else "/")
            forged = provider.sign(claims | {"iss": other})
            r = BoundSession(http, dpop, forged).call("POST", LOOKUP, json=body)
            assert_refused(r)
        finally:
            http.close()
            service.close()


def test_a_server_whose_issuer_discovery_names_another_does_not_start(
    world: World, tmp_path: Path
) -> None:
    alias = world.provider.url.replace("127.0.0.1", "localhost")
    home = Home(tmp_path / "home")
    initialize(home, mode="production")
    home.update_config(external_issuer=alias, external_roles=["gendarme=police"])
    with pytest.raises(BadRequest, match="the server exited") as refused, served(home):
        pass
    assert f"names the issuer '{world.provider.url}'" in str(refused.value)
    assert f"not the configured '{alias}'" in str(refused.value)


def test_a_server_starts_while_its_provider_is_down_and_trusts_it_once_up(
    world: World, tmp_path: Path
) -> None:
    """An outage at start is no configuration error: the server serves, and the first token
    after the provider answers fetches its discovery and keys."""
    dep = build_deployment(tmp_path / "home", persons=20, mode="production", clock=world.clock)
    police = dep.principals["police"]
    dep.client.close()
    dep.service.close()
    clients = {"police": client_spec(police, ["gendarme"])}
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    dep.home.update_config(
        external_issuer=issuer, external_roles=["gendarme=police"], audience=AUDIENCE
    )
    with served(dep.home) as url:
        with provider_process(world.node, tmp_path, clients, port=port) as provider:
            dpop = DPoPClient(FakeClock(time.time()))  # the served process runs on real time
            token = provider.token("police", dpop)
            target = url + "/v1/weapons/lookup"
            r = httpx.post(
                target,
                json={"serial": dep.fixtures["weapon_serial"]},
                headers={
                    "Authorization": f"DPoP {token}",
                    "DPoP": dpop.proof("POST", target, access_token=token),
                },
            )
            assert r.status_code == 200, r.text
    entries = journal_entries(dep.home.settings())
    assert any(e.get("principal") == police and e["outcome"] == "allowed" for e in entries)


# --- Both issuers side by side: ours (the console, the CLI, service accounts) and the
# provider's, each token verified by the issuer its `iss` names and by that one only.


def our_service_account(world: World, name: str) -> tuple[str, ECKey]:
    """A service account of OUR authorization server (client credentials, private_key_jwt)
    acting as a police principal of its own."""
    principal = world.service.admin.add_principal(role="police", label=name)
    key = ECKey.generate_key("P-256", auto_kid=True)
    world.service.admin.register_client(
        name,
        public=False,
        grant_types=["client_credentials"],
        jwks={"keys": [key.as_dict(private=False)]},
        service_principal_id=principal,
    )
    return principal, key


def our_token(world: World, client_id: str, key: ECKey, dpop: DPoPClient) -> str:
    """A DPoP-bound access token from our own token endpoint, over HTTP."""
    endpoint = world.service.authorization_server.token_endpoint
    detail = [{"type": "strongroom_purpose", "purpose": "police_check"}]
    r = world.http.post(
        endpoint,
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion(key, client_id, endpoint, world.clock),
            "scope": "weapons:lookup",
            "authorization_details": json.dumps(detail),
        },
        headers={"DPoP": dpop.proof("POST", endpoint)},
    )
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "DPoP"
    return str(r.json()["access_token"])


def signed_by_us(world: World, claims: dict[str, Any]) -> str:
    """`claims` signed with our authorization server's own active key."""
    key = world.service.tokens.keys.active_key()
    header = {"alg": "EdDSA", "typ": "at+jwt", "kid": key.kid}
    return jwt.encode(header, claims, key, algorithms=["EdDSA"])


def test_our_own_tokens_are_served_beside_the_providers(world: World) -> None:
    principal, key = our_service_account(world, "both-svc")
    ours_dpop, theirs_dpop = DPoPClient(world.clock), DPoPClient(world.clock)
    ours = our_token(world, "both-svc", key, ours_dpop)
    _, claims = decoded(ours)
    assert (claims["iss"], claims["cnf"]) == (world.service.settings.issuer, {"jkt": ours_dpop.jkt})
    theirs = world.provider.token("police", theirs_dpop)
    for token, dpop, who, client in (
        (ours, ours_dpop, principal, "both-svc"),
        (theirs, theirs_dpop, world.police, world.police),
        (ours, ours_dpop, principal, "both-svc"),  # one after the other, either order
    ):
        r = lookup(world, token, dpop)
        assert r.status_code == 200, r.text
        entry = last_entry(world.service)
        assert (entry["principal"], entry["client"], entry["outcome"]) == (who, client, "allowed")
    # Still sender-bound: our token with another key's proof is refused.
    assert_refused(lookup(world, ours, DPoPClient(world.clock)))


def test_a_token_signed_by_one_issuer_and_naming_the_other_is_refused(world: World) -> None:
    dpop = DPoPClient(world.clock)
    _, theirs = decoded(world.provider.token("police", dpop))
    # The provider's claims as they are (its `iss`), signed by our key: its keys only.
    problem = assert_refused(lookup(world, signed_by_us(world, theirs), dpop))
    assert problem["detail"] == "access token not valid for the configured issuer"
    entry = last_entry(world.service)
    assert (entry["kind"], entry["outcome"]) == ("security", "refused")
    _, key = our_service_account(world, "crossed-svc")
    _, ours = decoded(our_token(world, "crossed-svc", key, dpop))
    # Our claims as they are (our `iss`), signed by the provider's key: our keys (and our
    # one algorithm, EdDSA, where the provider signs ES256) only.
    problem = assert_refused(lookup(world, world.provider.sign(ours), dpop))
    assert problem["detail"] == "access token signature invalid"
    # The provider's test endpoint signs tokens the provider's verifier takes: what failed
    # above is the key the named issuer does not hold, nothing else.
    assert lookup(world, world.provider.sign(theirs), dpop).status_code == 200


def test_a_token_naming_an_issuer_not_trusted_here_is_refused(world: World) -> None:
    dpop = DPoPClient(world.clock)
    _, key = our_service_account(world, "stranger-svc")
    _, claims = decoded(our_token(world, "stranger-svc", key, dpop))
    journal = world.service.journal
    journal.flush()
    before = journal.size()
    for token in (
        signed_by_us(world, claims | {"iss": "https://stranger.example"}),
        signed_by_us(world, {k: v for k, v in claims.items() if k != "iss"}),
        "not.a.jws",
    ):
        problem = assert_refused(lookup(world, token, dpop))
        assert problem["reason"] == "invalid_token"
        assert problem["type"] == "/problems/unauthorized"
    journal.flush()
    refusals = [journal.entry(i) for i in range(before, journal.size())]
    assert [(e["kind"], e["outcome"]) for e in refusals] == [("security", "refused")] * 3


def test_the_console_signs_in_at_our_server_with_the_external_issuer_configured(
    world: World, tmp_path: Path
) -> None:
    """The security console is a client of OUR authorization server and calls /v1 with
    its DPoP-bound tokens; a provider named in config.toml leaves it working."""
    s = console_setup(tmp_path / "home")
    s.dep.client.close()
    s.dep.service.close()
    service, http = trusting(s.dep.home, world.provider.url, s.dep.clock)
    http.close()
    try:
        assert isinstance(service.resource_server.tokens, TrustedIssuers)
        service.admin.register_client(
            "console",
            public=True,
            redirect_uris=[service.authorization_server.public_url + "/console/callback"],
        )
        both = dataclasses.replace(s, dep=dataclasses.replace(s.dep, service=service))
        browser = console_sign_in(both, both.admin)
        page = browser.get("/console/containments")
        assert page.status_code == 200, page.text
        assert s.containment in page.text
        service.journal.flush()
        entry = service.journal.entry(service.journal.size() - 1)
        assert (entry["principal"], entry["outcome"]) == (s.admin.principal, "allowed")
    finally:
        service.close()
