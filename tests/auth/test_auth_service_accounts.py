"""Service accounts: client credentials with private_key_jwt (RFC 7523), introspection for
confidential clients only (RFC 7662), step-up (RFC 9470), and the session/revocation store
on every backend (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from auth_testkit import ISSUER, DPoPClient, client_assertion
from fastapi.testclient import TestClient
from joserfc.jwk import ECKey

from strongroom.auth.login import ACR_MFA, ACR_PASSWORD
from strongroom.auth.rfc9470_step_up import require_step_up
from strongroom.auth.sessions import SqlSessions
from strongroom.auth.store import metadata
from strongroom.clock import FakeClock
from strongroom.context import Caller
from strongroom.errors import Unauthorized

TOKEN_URL = ISSUER + "/oauth/token"


@pytest.fixture
def svc_key(auth_server) -> ECKey:
    key = ECKey.generate_key("P-256", auto_kid=True)
    auth_server.clients.register(
        "svc",
        public=False,
        grant_types=["client_credentials"],
        jwks={"keys": [key.as_dict(private=False)]},
        service_principal_id="p-svc",
    )
    return key


def _cc(http: TestClient, key: ECKey, clock: FakeClock, dpop: DPoPClient, **extra: str):
    form = {
        "grant_type": "client_credentials",
        "client_id": "svc",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": client_assertion(key, "svc", TOKEN_URL, clock),
    }
    form.update(extra)
    return http.post("/oauth/token", data=form, headers={"DPoP": dpop.proof("POST", TOKEN_URL)})


def test_client_credentials_with_private_key_jwt(
    http, auth_server, clock, svc_key, dpop_client
) -> None:
    r = _cc(http, svc_key, clock, dpop_client)
    assert r.status_code == 200, r.text
    body = r.json()
    assert "refresh_token" not in body
    claims = auth_server.tokens.verify_access_token(body["access_token"])
    assert claims["sub"] == "p-svc" and claims["roles"] == ["auditor"]
    assert claims["cnf"]["jkt"] == dpop_client.jkt


def test_client_credentials_refusals(http, clock, svc_key, dpop_client) -> None:
    assert _cc(http, svc_key, clock, dpop_client, scope="admin").json()["error"] == "invalid_scope"
    intruder = ECKey.generate_key("P-256", auto_kid=True)
    r = _cc(http, intruder, clock, dpop_client)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "svc"},
        headers={"DPoP": dpop_client.proof("POST", TOKEN_URL)},
    )
    assert r.status_code == 401
    # A public client may not use client credentials; password grant does not exist.
    r = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "cli"},
        headers={"DPoP": dpop_client.proof("POST", TOKEN_URL)},
    )
    assert r.json()["error"] == "unauthorized_client"
    r = http.post(
        "/oauth/token",
        data={"grant_type": "password", "client_id": "cli", "username": "a", "password": "b"},
    )
    assert r.json()["error"] == "unsupported_grant_type"


def test_client_assertion_replay_refused(http, clock, svc_key, dpop_client) -> None:
    assertion = client_assertion(svc_key, "svc", TOKEN_URL, clock)
    form = {
        "grant_type": "client_credentials",
        "client_id": "svc",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    ok = http.post(
        "/oauth/token", data=form, headers={"DPoP": dpop_client.proof("POST", TOKEN_URL)}
    )
    assert ok.status_code == 200
    again = http.post(
        "/oauth/token", data=form, headers={"DPoP": dpop_client.proof("POST", TOKEN_URL)}
    )
    assert again.status_code == 401


def test_introspection_for_confidential_clients_only(
    http, auth_server, clock, svc_key, dpop_client
) -> None:
    access = _cc(http, svc_key, clock, dpop_client).json()["access_token"]
    r = http.post("/oauth/introspect", data={"client_id": "cli", "token": access})
    assert r.status_code == 401
    form = {
        "client_id": "svc",
        "token": access,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": client_assertion(svc_key, "svc", ISSUER, clock),
    }
    body = http.post("/oauth/introspect", data=form).json()
    assert body["active"] is True and body["sub"] == "p-svc" and body["token_type"] == "DPoP"
    form["client_assertion"] = client_assertion(svc_key, "svc", ISSUER, clock)
    form["token"] = access[:-4] + "AAAA"
    assert http.post("/oauth/introspect", data=form).json() == {"active": False}


def test_require_step_up(clock: FakeClock) -> None:
    now = clock.now()
    fresh = Caller("p", "police", acr=ACR_MFA, auth_time=now - 60)
    require_step_up(fresh, 300, clock=clock)
    for caller in (
        Caller("p", "police", acr=ACR_MFA, auth_time=now - 301),
        Caller("p", "police", acr=ACR_PASSWORD, auth_time=now),
        Caller("p", "police"),
    ):
        with pytest.raises(Unauthorized) as info:
            require_step_up(caller, 300, clock=clock)
        challenge = info.value.headers["WWW-Authenticate"]
        assert 'error="insufficient_user_authentication"' in challenge
        assert 'max_age="300"' in challenge and ACR_MFA in challenge


def test_session_store_contract(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    metadata.create_all(engine)
    clock = FakeClock()
    store = SqlSessions(engine, clock=clock, idle_timeout=60, absolute_lifetime=300)
    other_worker = SqlSessions(engine, clock=clock, idle_timeout=60, absolute_lifetime=300)
    sid = store.create(principal_id="p", client_id="c", acr=None, auth_time=None)
    claims = {"jti": "j1", "sub": "p", "iat": clock.now(), "sid": sid}
    assert other_worker.touch(sid, clock.now()) and not other_worker.is_revoked(claims)
    clock.advance(50)
    assert store.touch(sid, clock.now())
    clock.advance(50)  # 50 s since the last activity: still alive
    assert store.touch(sid, clock.now())
    clock.advance(61)
    assert not other_worker.touch(sid, clock.now())  # idle
    sid2 = store.create(principal_id="p", client_id="c", acr=None, auth_time=None)
    for _ in range(6):
        clock.advance(55)
        alive = store.touch(sid2, clock.now())
    assert not alive  # absolute lifetime of 300 s
    store.revoke_token("j9", clock.now() + 60)
    store.revoke_token("j9", clock.now() + 60)  # idempotent
    assert other_worker.is_revoked({"jti": "j9", "sub": "q", "iat": clock.now()})
    store.revoke_principal("q")
    assert other_worker.is_revoked({"jti": "j10", "sub": "q", "iat": clock.now()})
    clock.advance(1)
    assert not other_worker.is_revoked({"jti": "j11", "sub": "q", "iat": clock.now()})
    engine.dispose()
