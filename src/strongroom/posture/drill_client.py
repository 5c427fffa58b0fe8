"""The drill's HTTP side: one account's credentials and the requests it sends.

Two ways in, as a real extractor would have: a stolen bearer token (`--token`), or a
service account's key (`--client-id` + `--client-key`, a private JWK file) used for the
client credentials grant with `private_key_jwt` (RFC 7523 §2.2) and a DPoP-bound token
(RFC 9449): every request then carries a fresh DPoP proof signed with the drill's own EC
P-256 key. JOSE is joserfc's; nothing here parses or signs by hand.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

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


class Account:
    """One attacker identity: sends requests with its token (and DPoP proofs when the
    token is sender-constrained)."""

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        clock: Clock,
        *,
        token: str | None = None,
        client_key: ClientKey | None = None,
        label: str = "",
    ) -> None:
        if (token is None) == (client_key is None):
            raise BadRequest("an account needs a token or a client key, not both")
        self.http = http
        self.base = base_url.rstrip("/")
        self.clock = clock
        self.label = label
        self.token = token
        self.client_key = client_key
        self.dpop_key: ECKey | None = None

    def _proof(self, method: str, url: str) -> str:
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
        if self.token is not None:
            claims["ath"] = access_token_hash(self.token)
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

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        url = self.base + path
        headers = {"Accept": "application/json"}
        if self.dpop_key is not None:
            headers["Authorization"] = f"DPoP {self.token}"
            headers["DPoP"] = self._proof(method, url)
        else:
            headers["Authorization"] = f"Bearer {self.token}"
        return self.http.request(method, url, json=body, headers=headers)
