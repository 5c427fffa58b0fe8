"""Passkeys over real HTTP against the composed app: a police officer enrolls one with
a password + TOTP session, signs in with it, and reaches an investigation that the TOTP
session could not (the downgrade attack of issue 19); replayed, cloned and phished
answers are refused and journaled like other failed sign-ins."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import Response

from strongroom.auth.acr import ACR_MFA, ACR_PHR
from tests.api.test_sign_in_attacks_http import (
    PASSWORD,
    REDIRECT,
    alerts,
    attempt,
    code_at,
    enroll,
)
from tests.auth.auth_testkit import BoundSession, push_authorization
from tests.auth.auth_testkit import redeem as kit_redeem
from tests.auth.webauthn_testkit import SoftAuthenticator
from tests.deployment import Deployment

WHY = "Judicial investigation: theft of a registered rifle, case file attached"
PASSKEY_SIGN_IN = "POST /oauth/webauthn/authenticate/verify"


def push(dep: Deployment, case: str) -> tuple[str, str]:
    """A pushed request for an investigation of `case`: (request_uri, code_verifier)."""
    detail = {"type": "strongroom_purpose", "purpose": "investigation", "case": case}
    return push_authorization(
        dep.client, scope="persons:read", details=[{**detail, "justification": WHY}]
    )


def redeem(dep: Deployment, location: str, verifier: str) -> BoundSession:
    token_endpoint = dep.service.authorization_server.token_endpoint
    return kit_redeem(dep.client, dep.clock, token_endpoint, location, verifier)


def totp_session(dep: Deployment, username: str, secret: str, case: str) -> BoundSession:
    uri, verifier = push(dep, case)
    login = attempt(dep.client, username, PASSWORD, code_at(dep, secret), uri)
    assert login.status_code == 303, login.text
    return redeem(dep, login.headers["location"], verifier)


def passkey_answer(dep: Deployment, device: SoftAuthenticator, uri: str, **kw: Any) -> Response:
    http = dep.client
    options = http.post(
        "/oauth/webauthn/authenticate/options",
        json={"client_id": "console", "request_uri": uri},
    )
    assert options.status_code == 200, options.text
    return http.post(
        "/oauth/webauthn/authenticate/verify",
        json={
            "client_id": "console",
            "request_uri": uri,
            "credential": device.get(options.json(), **kw),
        },
    )


def passkey_session(dep: Deployment, device: SoftAuthenticator, case: str) -> BoundSession:
    uri, verifier = push(dep, case)
    r = passkey_answer(dep, device, uri)
    assert r.status_code == 200, r.text
    return redeem(dep, r.json()["redirect_to"], verifier)


def register(session: BoundSession, device: SoftAuthenticator, name: str = "phone") -> Response:
    options = session.call("POST", "/oauth/webauthn/register/options")
    assert options.status_code == 200, options.text
    return session.call(
        "POST",
        "/oauth/webauthn/register/verify",
        json={"credential": device.create(options.json()), "name": name},
    )


def setup(dep: Deployment) -> tuple[str, str, str, str, SoftAuthenticator]:
    officer = dep.principals["police"]
    username, secret = enroll(dep, officer)
    owner = dep.fixtures["owner_id"]
    case = dep.case("police", owner)
    device = SoftAuthenticator(dep.service.authorization_server.passkeys.origin)
    return officer, username, secret, case, device


def passkey_security(dep: Deployment, since: int) -> list[dict[str, Any]]:
    journal = dep.service.journal
    journal.flush()
    return [
        e
        for e in (journal.entry(i) for i in range(since, journal.size()))
        if e.get("kind") == "security" and e.get("endpoint") == PASSKEY_SIGN_IN
    ]


def test_a_totp_session_cannot_pass_a_passkey_step_up_but_a_passkey_sign_in_does(
    deployment: Deployment,
) -> None:
    dep = deployment
    officer, username, secret, case, device = setup(dep)
    owner = dep.fixtures["owner_id"]

    totp = totp_session(dep, username, secret, case)
    assert totp.claims()["acr"] == ACR_MFA and totp.claims()["amr"] == ["pwd", "otp", "mfa"]
    refused = totp.call("GET", f"/v1/persons/{owner}")
    assert refused.status_code == 401, refused.text
    assert refused.json()["reason"] == "insufficient_user_authentication"
    challenge = refused.headers["WWW-Authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert f'acr_values="{ACR_PHR}"' in challenge and 'max_age="3600"' in challenge

    # The first passkey is enrolled with the TOTP session (and alerts); then the passkey
    # sign-in carries acr phr and passes.
    added = register(totp, device)
    assert added.status_code == 201, added.text
    assert added.json()["credential_id"] == device.id
    added_alerts = [a for a in alerts(dep) if a["actor"]["user"]["uid"] == officer]
    assert (
        added_alerts[-1]["finding_info"]["desc"] == "a passkey was added to a professional account"
    )
    dep.clock.advance(31)
    strong = passkey_session(dep, device, case)
    claims = strong.claims()
    assert claims["acr"] == ACR_PHR and claims["amr"] == ["hwk", "user"]
    assert claims["sub"] == officer
    ok = strong.call("GET", f"/v1/persons/{owner}")
    assert ok.status_code == 200, ok.text


def test_once_a_passkey_exists_a_totp_session_cannot_add_or_remove_one(
    deployment: Deployment,
) -> None:
    """Otherwise a phished password and code would enroll the attacker's own key."""
    dep = deployment
    _, username, secret, case, device = setup(dep)
    assert register(totp_session(dep, username, secret, case), device).status_code == 201
    dep.clock.advance(31)
    totp = totp_session(dep, username, secret, case)
    attacker = SoftAuthenticator(device.origin)
    options = totp.call("POST", "/oauth/webauthn/register/options")
    assert options.status_code == 401
    assert f'acr_values="{ACR_PHR}"' in options.headers["WWW-Authenticate"]
    removed = totp.call("DELETE", f"/oauth/webauthn/credentials/{device.id}")
    assert removed.status_code == 401

    strong = passkey_session(dep, device, case)
    assert register(strong, attacker, "laptop").status_code == 201
    listed = strong.call("GET", "/oauth/webauthn/credentials").json()["items"]
    assert [(p["name"], p["sign_count"]) for p in listed] == [("phone", 1), ("laptop", 0)]
    assert strong.call("DELETE", f"/oauth/webauthn/credentials/{attacker.id}").status_code == 204
    assert strong.call("DELETE", f"/oauth/webauthn/credentials/{attacker.id}").status_code == 404
    left = strong.call("GET", "/oauth/webauthn/credentials").json()["items"]
    assert [p["credential_id"] for p in left] == [device.id]


def test_replayed_phished_and_cloned_answers_are_refused_and_journaled(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    dep = deployment
    officer, username, secret, case, device = setup(dep)
    assert register(totp_session(dep, username, secret, case), device).status_code == 201
    since = dep.service.journal.size()
    http = dep.client
    raised: list[dict[str, Any]] = []
    srv = dep.service.authorization_server
    monkeypatch.setattr(srv, "on_alert", lambda event: raised.append(event))

    # Replay: an answer captured from one sign-in, sent to complete another.
    uri, _ = push(dep, case)
    options = http.post(
        "/oauth/webauthn/authenticate/options", json={"client_id": "console", "request_uri": uri}
    ).json()
    answer = device.get(options)
    first = http.post(
        "/oauth/webauthn/authenticate/verify",
        json={"client_id": "console", "request_uri": uri, "credential": answer},
    )
    assert first.status_code == 200, first.text
    uri2, _ = push(dep, case)
    replayed = http.post(
        "/oauth/webauthn/authenticate/verify",
        json={"client_id": "console", "request_uri": uri2, "credential": answer},
    )
    assert replayed.status_code == 401 and replayed.json()["error"] == "access_denied"

    # Phished: a look-alike site relayed our challenge; the browser wrote its origin.
    uri3, _ = push(dep, case)
    phished = passkey_answer(dep, device, uri3, origin="https://strongroom.example.evil")
    assert phished.status_code == 401
    assert phished.json() == replayed.json(), "every refusal answers alike"

    # Cloned: a valid signature with a count the key already used.
    uri4, _ = push(dep, case)
    cloned = passkey_answer(dep, device, uri4, sign_count=1)
    assert cloned.status_code == 401

    entries = passkey_security(dep, since)
    assert [e["reason"] for e in entries] == [
        "unknown_challenge",
        "wrong_origin",
        "sign_count_regressed",
    ]
    assert entries[-1]["principal"] == officer
    # The detector folds this account's alerts into one finding, so the alert is read
    # where the server raises it.
    assert [a["principal_id"] for a in raised if a["type"] == "passkey_cloned"] == [officer]
    # Flagged: the genuine key is refused too until the officer removes it.
    uri5, _ = push(dep, case)
    assert passkey_answer(dep, device, uri5).status_code == 401


def test_owners_cannot_register_passkeys_and_metadata_lists_phr(deployment: Deployment) -> None:
    dep = deployment
    meta = dep.client.get("/.well-known/oauth-authorization-server").json()
    assert ACR_PHR in meta["acr_values_supported"]
    anonymous = dep.client.post("/oauth/webauthn/register/options")
    assert anonymous.status_code == 401
    owner = dep.fixtures["owner_id"]
    fresh = {"acr": ACR_MFA, "auth_time": dep.clock.now()}
    as_owner = dep.client.post(
        "/oauth/webauthn/register/options", headers=dep.headers("owner", owner, **fresh)
    )
    assert as_owner.status_code == 403, as_owner.text
    # An owner has no principal row of a professional account at all.
    assert as_owner.json()["reason"] in {"principal_inactive", "role_not_allowed"}


def test_the_sign_in_page_offers_a_passkey_with_only_its_own_script(
    deployment: Deployment,
) -> None:
    dep = deployment
    dep.service.admin.register_client("console", public=True, redirect_uris=[REDIRECT])
    uri, _ = push(dep, "no-case")
    page = dep.client.get("/oauth/authorize", params={"client_id": "console", "request_uri": uri})
    assert page.status_code == 200, page.text
    assert '<script src="/oauth/webauthn/passkey.js" defer></script>' in page.text
    assert "<script>" not in page.text  # nothing inline: the CSP would refuse it anyway
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    script = dep.client.get("/oauth/webauthn/passkey.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "/oauth/webauthn/authenticate/verify" in script.text
