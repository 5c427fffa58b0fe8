"""The drill's HTTP side: one account's credentials and the requests it sends.

Two ways in, as a real extractor would have: a stolen bearer token (`--token`), or a
service account's key (`--client-id` + `--client-key`, a private JWK file) used for the
client credentials grant with `private_key_jwt` (RFC 7523 §2.2) and a DPoP-bound token
(RFC 9449): every request then carries a fresh DPoP proof signed with the drill's own EC
P-256 key. JOSE is joserfc's; nothing here parses or signs by hand.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from strongroom.auth.rfc9068 import PURPOSE_DETAIL_TYPE
from strongroom.auth.rfc9449_dpop import access_token_hash
from strongroom.clock import Clock
from strongroom.errors import BadRequest, Unauthorized

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class ClientKey:
    """A confidential client's id and its private signing key (a JWK)."""

    client_id: str
    jwk: dict[str, Any]

    @classmethod
    def from_file(cls, client_id: str, path: str | Path) -> ClientKey:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BadRequest(f"cannot read client key {path}: {type(exc).__name__}") from exc
        if isinstance(doc, dict) and "keys" in doc:
            doc = doc["keys"][0] if doc["keys"] else {}
        if not isinstance(doc, dict) or "d" not in doc:
            raise BadRequest(f"{path}: not a private JWK")
        return cls(client_id, doc)


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a stolen token, read without checking its signature (as its thief
    can): who it is for, its purpose and its case. {} for a token that is no JWT."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def purpose_and_case(token: str) -> tuple[str | None, str | None]:
    for detail in token_claims(token).get("authorization_details") or ():
        if isinstance(detail, dict) and detail.get("type") == PURPOSE_DETAIL_TYPE:
            purpose, case = detail.get("purpose"), detail.get("case")
            return (
                str(purpose) if purpose else None,
                str(case) if case else None,
            )
    return None, None


class Account:
    """One attacker identity: sends requests with its tokens (and DPoP proofs when a token
    is sender-constrained). Several tokens of one principal are its tokens for several
    purposes (a ledger token and a verification token, a case token and a case-management
    token): each request goes with the token for its purpose, else the first."""

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        clock: Clock,
        *,
        token: str | None = None,
        client_key: ClientKey | None = None,
        label: str = "",
        tokens: tuple[str, ...] = (),
    ) -> None:
        tokens = tuple(tokens) or ((token,) if token is not None else ())
        if bool(tokens) == (client_key is not None):
            raise BadRequest("an account needs a token or a client key, not both")
        self.http = http
        self.base = base_url.rstrip("/")
        self.clock = clock
        self.label = label
        self.token = tokens[0] if tokens else None
        self.by_purpose: dict[str, str] = {}
        self.case: str | None = None
        for t in tokens:
            purpose, case = purpose_and_case(t)
            if purpose:
                self.by_purpose.setdefault(purpose, t)
            self.case = self.case or case
        self.client_key = client_key
        self.dpop_key: ECKey | None = None

    def _proof(self, method: str, url: str, token: str | None = None) -> str:
        key = self.dpop_key
        if key is None:
            raise BadRequest("no DPoP key")
        parts = urlsplit(url)
        htu = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        claims: dict[str, Any] = {
            "jti": uuid.uuid4().hex,
            "htm": method,
            "htu": htu,
            "iat": int(self.clock.now()),
        }
        if token is not None:
            claims["ath"] = access_token_hash(token)
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
        return jwt.encode(header, claims, key, algorithms=["ES256"])

    def login(self, details: list[dict[str, Any]] | None = None) -> None:
        """Client credentials with private_key_jwt; the token comes back DPoP-bound.
        `details`: RFC 9396 authorization details (the task's purpose and case)."""
        if self.client_key is None or self.token is not None:
            return
        self.dpop_key = ECKey.generate_key("P-256")
        issuer = self.base
        meta = self.http.get(self.base + "/.well-known/oauth-authorization-server")
        if meta.status_code == 200:
            issuer = str(meta.json().get("issuer") or issuer)
        signing = KeySet.import_key_set({"keys": [self.client_key.jwk]}).keys[0]
        alg = "ES256" if signing.key_type == "EC" else "EdDSA"
        now = int(self.clock.now())
        assertion = jwt.encode(
            {"alg": alg, **({"kid": signing.kid} if signing.kid else {})},
            {
                "iss": self.client_key.client_id,
                "sub": self.client_key.client_id,
                "aud": issuer,
                "iat": now,
                "exp": now + 60,
                "jti": uuid.uuid4().hex,
            },
            signing,
            algorithms=[alg],
        )
        url = self.base + "/oauth/token"
        r = self.http.post(
            url,
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_key.client_id,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion,
                **({"authorization_details": json.dumps(details)} if details else {}),
            },
            headers={"DPoP": self._proof("POST", url)},
        )
        if r.status_code != 200:
            raise Unauthorized(
                f"client credentials refused: HTTP {r.status_code} "
                f"{r.json().get('error', '') if r.content else ''}"
            )
        self.token = str(r.json()["access_token"])

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        purpose: str | None = None,
    ) -> httpx.Response:
        url = self.base + path
        token = self.by_purpose.get(purpose or "", self.token)
        headers = {"Accept": "application/json"}
        if self.dpop_key is not None:
            headers["Authorization"] = f"DPoP {token}"
            headers["DPoP"] = self._proof(method, url, token)
        else:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, url, json=body, headers=headers)
