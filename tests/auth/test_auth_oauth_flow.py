"""The embedded authorization server over real HTTP (FastAPI TestClient on the router):
PAR → login with password and TOTP → code (with RFC 9207 iss) → DPoP-bound tokens →
resource-server check; refresh rotation and reuse detection; revocation; idle timeout."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

from auth_testkit import ISSUER, PASSWORD, REDIRECT, DPoPClient, pkce_pair, totp_now
from fastapi.testclient import TestClient

from strongroom.auth.login import ACR_MFA
from strongroom.auth.resource_server import ResourceServer
from strongroom.auth.rfc9449_dpop import InMemoryReplayCache
from strongroom.auth.server import AuthorizationServer
from strongroom.clock import FakeClock
from strongroom.errors import Unauthorized

TOKEN_URL = ISSUER + "/oauth/token"
API = "https://api.strongroom.test/v1/persons/search"


def _par(http: TestClient, challenge: str, **extra: str) -> str:
    form = {
        "client_id": "cli",
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "st-1",
    }
    form.update(extra)
    r = http.post("/oauth/par", data=form)
    assert r.status_code == 201, r.text
    assert r.json()["expires_in"] <= 60
    return r.json()["request_uri"]


def _login(http: TestClient, request_uri: str, otp: str | None) -> str:
    form = {
        "client_id": "cli",
        "request_uri": request_uri,
        "username": "alice",
        "password": PASSWORD,
        "action": "login",
    }
    if otp:
        form["otp"] = otp
    return http.post("/oauth/authorize", data=form)


def _code(http: TestClient, clock: FakeClock, secret: str, **par: str) -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    uri = _par(http, challenge, **par)
    r = _login(http, uri, totp_now(secret, clock))
    assert r.status_code == 303, r.text
    q = parse_qs(urlsplit(r.headers["location"]).query)
    assert q["iss"] == [ISSUER] and q["state"] == ["st-1"]
    return q["code"][0], verifier


def _token(http: TestClient, dpop: DPoPClient, **form: str):
    return http.post(
        "/oauth/token",
        data={"client_id": "cli", **form},
        headers={"DPoP": dpop.proof("POST", TOKEN_URL)},
    )


def _tokens(http: TestClient, clock: FakeClock, secret: str, dpop: DPoPClient, **par: str) -> dict:
    code, verifier = _code(http, clock, secret, **par)
    r = _token(
        http,
        dpop,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    return r.json()


def _rs(auth_server: AuthorizationServer, clock: FakeClock) -> ResourceServer:
    return ResourceServer(
        auth_server.tokens,
        revocations=auth_server.sessions,
        clock=clock,
        dpop_replay_cache=InMemoryReplayCache(clock),
        sessions=auth_server.sessions,
    )


def _call(rs: ResourceServer, dpop: DPoPClient, access: str):
    return rs.authenticate(
        authorization=f"DPoP {access}",
        dpop=dpop.proof("GET", API, access_token=access),
        method="GET",
        url=API,
        ip=None,
        user_agent=None,
    )


def test_full_flow_gives_dpop_bound_mfa_token(
    http: TestClient, auth_server, clock, alice_totp: str, dpop_client: DPoPClient
) -> None:
    page = http.get(
        "/oauth/authorize", params={"client_id": "cli", "request_uri": _par(http, pkce_pair()[1])}
    )
    assert page.status_code == 200 and "<form" in page.text
    assert page.headers["x-frame-options"] == "DENY"
    body = _tokens(
        http,
        clock,
        alice_totp,
        dpop_client,
        scope="persons:read",
        authorization_details='[{"type":"strongroom_purpose",'
        '"purpose":"investigation","case":"C-7"}]',
    )
    assert body["token_type"] == "DPoP" and body["refresh_token"]
    claims = auth_server.tokens.verify_access_token(body["access_token"])
    assert claims["cnf"] == {"jkt": dpop_client.jkt} and claims["acr"] == ACR_MFA
    caller = _call(_rs(auth_server, clock), dpop_client, body["access_token"])
    assert caller.principal_id == "p-alice" and caller.role == "police"
    assert (caller.purpose, caller.case) == ("investigation", "C-7")
    assert caller.session_id == claims["sid"]


def test_staff_login_requires_second_factor(
    http: TestClient, alice_totp: str, security_events: list
) -> None:
    # The right password without its code answers as a wrong one would.
    r = _login(http, _par(http, pkce_pair()[1]), otp=None)
    assert r.status_code == 401 and "Sign-in failed" in r.text
    assert security_events[-1]["type"] == "missing_code"
    r = _login(http, _par(http, pkce_pair()[1]), otp="000000")
    assert r.status_code == 401
    assert security_events[-1]["type"] == "wrong_code"


def test_staff_without_enrolled_factor_cannot_log_in(
    http: TestClient, auth_server, security_events: list
) -> None:
    auth_server.credentials.set_password("p-alice", "alice", PASSWORD)
    r = _login(http, _par(http, pkce_pair()[1]), otp=None)
    assert r.status_code == 401 and "enroll" not in r.text
    assert security_events[-1]["type"] == "second_factor_not_enrolled"
    assert security_events[-1]["principal_id"] == "p-alice"


def test_a_role_that_requires_passkeys_refuses_the_password_form(
    http: TestClient, auth_server, clock, alice_totp: str, security_events: list
) -> None:
    """Right password, right code: refused like any failure, and journaled."""
    police = auth_server.role_grants("police")
    auth_server.role_grants = lambda role: replace(police, passkey_required=True)
    r = _login(http, _par(http, pkce_pair()[1]), totp_now(alice_totp, clock))
    assert r.status_code == 401 and "Sign-in failed" in r.text
    assert security_events[-1]["type"] == "passkey_required"
    assert security_events[-1]["principal_id"] == "p-alice"


def test_totp_code_cannot_be_used_twice(http: TestClient, clock, alice_totp: str) -> None:
    otp = totp_now(alice_totp, clock)
    assert _login(http, _par(http, pkce_pair()[1]), otp).status_code == 303
    assert _login(http, _par(http, pkce_pair()[1]), otp).status_code == 401


def test_par_is_required_and_single_use(http: TestClient, clock, alice_totp: str) -> None:
    r = http.get(
        "/oauth/authorize",
        params={"client_id": "cli", "response_type": "code", "redirect_uri": REDIRECT},
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    uri = _par(http, pkce_pair()[1])
    assert _login(http, uri, totp_now(alice_totp, clock)).status_code == 303
    clock.advance(30)
    r = _login(http, uri, totp_now(alice_totp, clock))
    assert r.status_code == 400
    uri = _par(http, pkce_pair()[1])
    clock.advance(61)
    assert _login(http, uri, totp_now(alice_totp, clock)).status_code == 400


def test_par_refuses_plain_pkce_and_foreign_redirect(http: TestClient) -> None:
    verifier, _ = pkce_pair()
    form = {
        "client_id": "cli",
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "code_challenge": verifier[:43],
        "code_challenge_method": "plain",
    }
    assert http.post("/oauth/par", data=form).json()["error"] == "invalid_request"
    form.update(code_challenge_method="S256", redirect_uri="https://evil.test/cb")
    assert http.post("/oauth/par", data=form).status_code == 400
    form.update(redirect_uri=REDIRECT, response_type="token")
    assert http.post("/oauth/par", data=form).json()["error"] == "unsupported_response_type"


def test_code_single_use_short_lived_and_pkce_bound(
    http: TestClient, clock, alice_totp: str, dpop_client: DPoPClient, security_events: list
) -> None:
    code, verifier = _code(http, clock, alice_totp)
    r = _token(
        http,
        dpop_client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier="x" * 43,
    )
    assert r.json()["error"] == "invalid_grant"  # wrong verifier burns the code
    r = _token(
        http,
        dpop_client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert r.json()["error"] == "invalid_grant"
    assert security_events[-1]["type"] == "authorization_code_replay"
    clock.advance(30)
    code, verifier = _code(http, clock, alice_totp)
    clock.advance(61)
    r = _token(
        http,
        dpop_client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert r.json()["error"] == "invalid_grant"


def test_token_endpoint_requires_dpop(http: TestClient, clock, alice_totp: str) -> None:
    code, verifier = _code(http, clock, alice_totp)
    r = http.post(
        "/oauth/token",
        data={
            "client_id": "cli",
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_dpop_proof"


def test_scope_escalation_refused_at_token_endpoint(
    http: TestClient, clock, alice_totp: str, dpop_client: DPoPClient
) -> None:
    code, verifier = _code(http, clock, alice_totp, scope="persons:read admin")
    r = _token(
        http,
        dpop_client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    clock.advance(30)
    body = _tokens(http, clock, alice_totp, dpop_client)
    r = _token(
        http,
        dpop_client,
        grant_type="refresh_token",
        refresh_token=body["refresh_token"],
        scope="persons:read admin",
    )
    assert r.json()["error"] == "invalid_scope"


def test_refresh_rotates_and_reuse_revokes_family(
    http: TestClient,
    auth_server,
    clock,
    alice_totp: str,
    dpop_client: DPoPClient,
    security_events: list,
) -> None:
    first = _tokens(http, clock, alice_totp, dpop_client)
    r = _token(http, dpop_client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    rs = _rs(auth_server, clock)
    assert _call(rs, dpop_client, second["access_token"]).principal_id == "p-alice"

    # Another key cannot use the refresh token (DPoP binding).
    thief = DPoPClient(clock)
    r = _token(http, thief, grant_type="refresh_token", refresh_token=second["refresh_token"])
    assert r.json()["error"] == "invalid_grant"

    r = _token(http, dpop_client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert security_events[-1]["type"] == "refresh_token_reuse"
    assert security_events[-1]["principal_id"] == "p-alice"
    # The whole family and the session are gone.
    r = _token(http, dpop_client, grant_type="refresh_token", refresh_token=second["refresh_token"])
    assert r.json()["error"] == "invalid_grant"
    try:
        _call(rs, dpop_client, second["access_token"])
    except Unauthorized as exc:
        assert exc.reason == "invalid_token"
    else:
        raise AssertionError("access token of a revoked family still works")


def test_revocation_endpoint_and_revoke_principal(
    http: TestClient, auth_server, clock, alice_totp: str, dpop_client: DPoPClient
) -> None:
    rs = _rs(auth_server, clock)
    body = _tokens(http, clock, alice_totp, dpop_client)
    assert (
        http.post(
            "/oauth/revoke",
            data={
                "client_id": "cli",
                "token": body["access_token"],
                "token_type_hint": "access_token",
            },
        ).status_code
        == 200
    )
    try:
        _call(rs, dpop_client, body["access_token"])
        raise AssertionError("revoked access token accepted")
    except Unauthorized:
        pass
    assert (
        http.post("/oauth/revoke", data={"client_id": "cli", "token": "unknown"}).status_code == 200
    )
    clock.advance(30)
    body = _tokens(http, clock, alice_totp, dpop_client)
    assert _call(rs, dpop_client, body["access_token"]).role == "police"
    auth_server.revoke_principal("p-alice")
    try:
        _call(rs, dpop_client, body["access_token"])
        raise AssertionError("token of a revoked principal accepted")
    except Unauthorized:
        pass
    r = _token(http, dpop_client, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert r.json()["error"] == "invalid_grant"


def test_idle_timeout_and_logout(
    http: TestClient, auth_server, clock, alice_totp: str, dpop_client: DPoPClient
) -> None:
    rs = _rs(auth_server, clock)
    body = _tokens(http, clock, alice_totp, dpop_client)
    clock.advance(60)
    caller = _call(rs, dpop_client, body["access_token"])
    clock.advance(15 * 60 + 1)  # idle past the timeout (token itself lived 300 s anyway)
    r = _token(http, dpop_client, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert r.json()["error"] == "invalid_grant"
    assert auth_server.sessions.active(caller.session_id) is None

    body = _tokens(http, clock, alice_totp, dpop_client)
    claims = auth_server.tokens.verify_access_token(body["access_token"])
    auth_server.logout(claims["sid"])
    try:
        _call(rs, dpop_client, body["access_token"])
        raise AssertionError("token used after logout")
    except Unauthorized:
        pass


def test_metadata_and_jwks(http: TestClient) -> None:
    meta = http.get("/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == ISSUER
    assert meta["require_pushed_authorization_requests"] is True
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert "implicit" not in meta["grant_types_supported"]
    assert "password" not in meta["grant_types_supported"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    jwks = http.get("/oauth/jwks").json()
    assert jwks["keys"] and all("d" not in k for k in jwks["keys"])


def test_one_code_tried_at_once_from_many_places_signs_in_once(
    auth_server, clock, alice_totp: str
) -> None:
    """A phished code replayed in parallel with the victim's own try: one sign-in, the
    others refused (unread or as a replay), never two sessions from one code."""
    from concurrent.futures import ThreadPoolExecutor

    from strongroom.auth.login import LoginFailed

    code = totp_now(alice_totp, clock)

    def try_once(_: int) -> str:
        try:
            auth_server.credentials.authenticate(
                "alice", PASSWORD, code, mfa_required=lambda p: True
            )
        except LoginFailed as exc:
            return exc.reason
        return "signed_in"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(try_once, range(8)))
    assert outcomes.count("signed_in") == 1, outcomes
    assert set(outcomes) <= {"signed_in", "throttled", "replayed_code"}
