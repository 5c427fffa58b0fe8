"""Test kit shared by the auth tests (a module, not conftest, so tests can import it)."""

from __future__ import annotations

import uuid
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey

from strongroom.auth.rfc9449_dpop import access_token_hash
from strongroom.clock import FakeClock

ISSUER = "https://as.strongroom.test"
AUDIENCE = "strongroom-api"
API_URL = "https://api.strongroom.test/v1/persons/search"


class DPoPClient:
    """Holds one EC P-256 key and signs RFC 9449 proofs with it."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.key = ECKey.generate_key("P-256")
        self.jkt = self.key.thumbprint()

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        iat: float | None = None,
        header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        body: dict[str, Any] = {
            "jti": uuid.uuid4().hex,
            "htm": method,
            "htu": url,
            "iat": int(self.clock.now() if iat is None else iat),
        }
        if access_token is not None:
            body["ath"] = access_token_hash(access_token)
        if nonce is not None:
            body["nonce"] = nonce
        body.update(claims)
        hdr = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.key.as_dict(private=False)}
        hdr.update(header or {})
        return jwt.encode(hdr, body, self.key, algorithms=[hdr["alg"]])


REDIRECT = "http://127.0.0.1:8765/callback"
PASSWORD = "correct horse battery staple"


def pkce_pair() -> tuple[str, str]:
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    verifier = uuid.uuid4().hex + uuid.uuid4().hex
    return verifier, create_s256_code_challenge(verifier)


def push_authorization(
    http: Any,
    *,
    scope: str | None = None,
    details: list[dict[str, Any]] | None = None,
    state: str | None = None,
) -> tuple[str, str]:
    """A pushed authorization request (RFC 9126) of the public `console` client with PKCE:
    (request_uri, code_verifier)."""
    import json

    verifier, challenge = pkce_pair()
    data = {
        "client_id": "console",
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if scope is not None:
        data["scope"] = scope
    if details is not None:
        data["authorization_details"] = json.dumps(details)
    if state is not None:
        data["state"] = state
    r = http.post("/oauth/par", data=data)
    assert r.status_code == 201, r.text
    return str(r.json()["request_uri"]), verifier


class BoundSession:
    """A client holding a DPoP-bound access token and the key it is bound to."""

    def __init__(self, http: Any, dpop: DPoPClient, access: str) -> None:
        self.http, self.dpop, self.access = http, dpop, access

    def call(self, method: str, path: str, **kw: Any) -> Any:
        url = path if path.startswith("http") else f"http://testserver{path}"
        headers = {
            "Authorization": f"DPoP {self.access}",
            "DPoP": self.dpop.proof(method, url, access_token=self.access),
        }
        return self.http.request(method, url, headers=headers, **kw)

    def claims(self) -> dict[str, Any]:
        import base64
        import json

        payload = self.access.split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def redeem(
    http: Any, clock: FakeClock, token_endpoint: str, location: str, verifier: str
) -> BoundSession:
    """Trade the code of a sign-in's redirect `location` for a DPoP-bound access token of
    the public `console` client."""
    from urllib.parse import parse_qs, urlsplit

    code = parse_qs(urlsplit(location).query)["code"][0]
    dpop = DPoPClient(clock)
    r = http.post(
        "/oauth/token",
        data={
            "client_id": "console",
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        headers={"DPoP": dpop.proof("POST", token_endpoint)},
    )
    assert r.status_code == 200, r.text
    return BoundSession(http, dpop, str(r.json()["access_token"]))


def totp_now(secret: str, clock: FakeClock) -> str:
    import pyotp

    return pyotp.TOTP(secret).at(int(clock.now()))


def client_assertion(key: Any, client_id: str, audience: str, clock: FakeClock) -> str:
    now = int(clock.now())
    return jwt.encode(
        {"alg": "ES256", "kid": key.kid},
        {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
        },
        key,
    )
