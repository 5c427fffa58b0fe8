"""A professional signs in through the embedded authorization server of the real app (PAR,
PKCE, password + TOTP), gets a DPoP-bound token for a narrow task, and reads through the
gate with it; the same token without its proof, or after the principal is revoked, is
refused."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pyotp

from tests.auth.auth_testkit import DPoPClient, pkce_pair
from tests.deployment import Deployment

REDIRECT = "http://127.0.0.1:8765/callback"
PASSWORD = "a long and boring passphrase"


def sign_in(dep: Deployment, username: str, secret: str, dpop: DPoPClient) -> dict:
    svc, http = dep.service, dep.client
    verifier, challenge = pkce_pair()
    par = http.post(
        "/oauth/par",
        data={
            "client_id": "console",
            "response_type": "code",
            "redirect_uri": REDIRECT,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": "s1",
            "scope": "weapons:lookup",
        },
    )
    assert par.status_code == 201, par.text
    otp = pyotp.TOTP(secret).at(int(dep.clock.now()))
    login = http.post(
        "/oauth/authorize",
        data={
            "client_id": "console",
            "request_uri": par.json()["request_uri"],
            "username": username,
            "password": PASSWORD,
            "otp": otp,
            "action": "login",
        },
        follow_redirects=False,
    )
    assert login.status_code == 303, login.text
    query = parse_qs(urlsplit(login.headers["location"]).query)
    assert query["iss"] == [svc.settings.issuer]
    token_url = svc.authorization_server.token_endpoint
    r = http.post(
        "/oauth/token",
        data={
            "client_id": "console",
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        headers={"DPoP": dpop.proof("POST", token_url)},
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_sign_in_then_read_through_the_gate(deployment: Deployment) -> None:
    svc = deployment.service
    officer = deployment.principals["police"]
    svc.admin.set_password(officer, f"officer-{officer[:8]}", PASSWORD)
    uri = svc.authorization_server.credentials.begin_totp_enrollment(officer)
    secret = pyotp.parse_uri(uri).secret
    svc.authorization_server.credentials.confirm_totp_enrollment(
        officer, pyotp.TOTP(secret).at(int(deployment.clock.now()))
    )
    svc.admin.register_client("console", public=True, redirect_uris=[REDIRECT])
    deployment.clock.advance(31)  # the next TOTP step: a code is never used twice

    dpop = DPoPClient(deployment.clock)
    tokens = sign_in(deployment, f"officer-{officer[:8]}", secret, dpop)
    assert tokens["token_type"] == "DPoP" and tokens["scope"] == "weapons:lookup"
    access = tokens["access_token"]
    url = "http://testserver/v1/weapons/lookup"
    body = {"serial": deployment.fixtures["weapon_serial"]}
    ok = deployment.client.post(
        url,
        json=body,
        headers={
            "Authorization": f"DPoP {access}",
            "DPoP": dpop.proof("POST", url, access_token=access),
        },
    )
    assert ok.status_code == 200, ok.text

    stripped = deployment.client.post(url, json=body, headers={"Authorization": f"Bearer {access}"})
    assert stripped.status_code == 401
    search = deployment.client.post(
        "http://testserver/v1/persons/search",
        json={"family_name": "X", "birth_date": "1970-01-01"},
        headers={
            "Authorization": f"DPoP {access}",
            "DPoP": dpop.proof("POST", "http://testserver/v1/persons/search", access_token=access),
        },
    )
    assert search.status_code == 403 and search.json()["reason"] == "scope_missing"

    svc.admin.revoke_principal(svc.admin.operator(), officer, "test: account reported stolen")
    revoked = deployment.client.post(
        url,
        json=body,
        headers={
            "Authorization": f"DPoP {access}",
            "DPoP": dpop.proof("POST", url, access_token=access),
        },
    )
    assert revoked.status_code == 401
