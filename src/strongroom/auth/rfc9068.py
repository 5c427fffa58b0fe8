"""RFC 9068: JWT profile for OAuth 2.0 access tokens, signed with our Ed25519 keys.

Issued tokens carry `typ: at+jwt` (§2.1), the §2.2 claims (iss, exp, aud, sub, client_id,
iat, jti), `scope` (§2.2.3), `roles` (§2.2.3.1), the task as RFC 9396
`authorization_details` of type `strongroom_purpose`, and `cnf.jkt` (RFC 9449 §6.1) when the
token is bound to a DPoP key.

Verification (§4) accepts only `EdDSA` signatures by a key of OUR set, named by a `kid` that
looks like an RFC 7638 thumbprint: `alg: none`, HMAC with the public key as secret, a `kid`
with path characters, and `jku`/`x5u`/`jwk` headers all end in the same 401. Header URLs are
never dereferenced: keys come from the local set only.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import GuestProtocol, OKPKey
from joserfc.jws import JWSRegistry
from joserfc.jwt import JWTClaimsRegistry

from strongroom.auth.keys import SigningKeys
from strongroom.clock import SYSTEM_CLOCK, Clock
from strongroom.errors import BadRequest, Unauthorized

# joserfc >= 1.3 flags "EdDSA" as superseded by RFC 9864's "Ed25519"; same signature scheme,
# and "EdDSA" is what verifiers (Keycloak, most gateways) accept today.
warnings.filterwarnings("ignore", message="EdDSA is deprecated", category=SecurityWarning)

ALG = "EdDSA"
TYP = "at+jwt"
PURPOSE_DETAIL_TYPE = "strongroom_purpose"
LEEWAY_SECONDS = 30
MAX_LIFETIME_SECONDS = 3600
_REGISTRY = JWSRegistry(algorithms=[ALG])


def bearer_challenge(
    error: str | None = None,
    description: str | None = None,
    *,
    scheme: str = "Bearer",
    extra: Mapping[str, str] | None = None,
) -> str:
    """An RFC 6750 §3 / RFC 9449 §7.1 challenge. Descriptions are ours, never user input."""
    params = {"realm": "strongroom"}
    if error:
        params["error"] = error
    if description:
        params["error_description"] = description
    params.update(extra or {})
    return scheme + " " + ", ".join(f'{k}="{v}"' for k, v in params.items())


def invalid_token(description: str, *, scheme: str = "Bearer") -> Unauthorized:
    return Unauthorized(
        description,
        reason="invalid_token",
        headers={"WWW-Authenticate": bearer_challenge("invalid_token", description, scheme=scheme)},
    )


class _KeyRejectedError(Exception):
    pass


class TokenService:
    """Issues and verifies RFC 9068 access tokens for one issuer and one audience."""

    def __init__(
        self,
        keys_dir: Path | SigningKeys,
        *,
        issuer: str,
        audience: str,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.keys = (
            keys_dir
            if isinstance(keys_dir, SigningKeys)
            else SigningKeys(Path(keys_dir), clock=clock)
        )
        self.issuer = issuer
        self.audience = audience
        self.clock = clock
        # Tokens already verified, signature and claims: the same bytes under the same key
        # set verify the same way, so only the time claims need checking again. Bounded so
        # a flood of tokens cannot grow it.
        self._verified: dict[str, tuple[str | None, dict[str, Any]]] = {}
        self._cache_size = 10_000
        self._claims = JWTClaimsRegistry(
            now=lambda: int(self.clock.now()),
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            jti={"essential": True},
            client_id={"essential": True},
        )

    def issue_access_token(
        self,
        *,
        subject: str,
        role: str,
        scopes: Iterable[str],
        purpose: str | None = None,
        case: str | None = None,
        departement: str | None = None,
        dealer_id: str | None = None,
        lifetime: int = 300,
        session_id: str | None = None,
        client_id: str = "strongroom-cli",
        jkt: str | None = None,
        acr: str | None = None,
        amr: Iterable[str] | None = None,
        auth_time: float | None = None,
        justification: str | None = None,
    ) -> str:
        if not subject or not role:
            raise BadRequest("an access token needs a subject and a role")
        if not 1 <= int(lifetime) <= MAX_LIFETIME_SECONDS:
            raise BadRequest(f"token lifetime must be 1..{MAX_LIFETIME_SECONDS} seconds")
        now = int(self.clock.now())
        scope_list = sorted(set(scopes))
        for s in scope_list:
            if not s or " " in s:
                raise BadRequest("a scope is one non-empty token without spaces")
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "client_id": client_id,
            "iat": now,
            "nbf": now,
            "exp": now + int(lifetime),
            "jti": str(uuid.uuid4()),
            "scope": " ".join(scope_list),
            "roles": [role],
        }
        detail: dict[str, Any] = {"type": PURPOSE_DETAIL_TYPE, "purpose": purpose}
        if case is not None:
            detail["case"] = case
        if justification is not None:
            detail["justification"] = justification
        claims["authorization_details"] = [detail]
        optional = {
            "departement": departement,
            "dealer_id": dealer_id,
            "sid": session_id,
            "acr": acr,
            # RFC 8176 method names, for the resource's logs; step-up decides on `acr`.
            "amr": list(amr) if amr else None,
            "auth_time": int(auth_time) if auth_time is not None else None,
        }
        claims.update({k: v for k, v in optional.items() if v is not None})
        if jkt is not None:
            claims["cnf"] = {"jkt": jkt}
        key = self.keys.active_key()
        header = {"alg": ALG, "typ": TYP, "kid": key.kid}
        return jwt.encode(header, claims, key, algorithms=[ALG], registry=_REGISTRY)

    def verify_access_token(self, token: str) -> dict[str, Any]:
        """The claims of a valid token of ours; `Unauthorized` (invalid_token) otherwise."""
        if not isinstance(token, str) or token.count(".") != 2 or len(token) > 8192:
            raise invalid_token("malformed access token")
        cached = self._verified.get(token)
        try:
            if cached is not None and self.keys.verification_key(str(cached[0])) is not None:
                claims = cached[1]
                self._claims.validate_exp(claims["exp"])
                self._claims.validate_iat(claims["iat"])
                if "nbf" in claims:
                    self._claims.validate_nbf(claims["nbf"])
                return dict(claims)
            kid, claims = self._verify_signature(token)
            self._claims.validate(claims)
        except JoseError as exc:
            raise invalid_token(f"access token rejected ({exc.error})") from exc
        if len(self._verified) >= self._cache_size:
            self._verified.clear()
        self._verified[token] = (kid, claims)
        return dict(claims)

    def _verify_signature(self, token: str) -> tuple[str | None, dict[str, Any]]:
        try:
            decoded = jwt.decode(token, self._resolve_key, algorithms=[ALG], registry=_REGISTRY)
        except _KeyRejectedError as exc:
            raise invalid_token("access token not signed by this issuer") from exc
        except (JoseError, ValueError, TypeError) as exc:
            raise invalid_token("access token signature invalid") from exc
        header, claims = decoded.header, decoded.claims
        if str(header.get("typ", "")).lower() not in (TYP, "application/" + TYP):
            raise invalid_token("not an access token (typ)")
        return header.get("kid"), claims

    def _resolve_key(self, obj: GuestProtocol) -> OKPKey:
        header = obj.headers()
        if header.get("alg") != ALG:
            raise _KeyRejectedError("alg")
        key = self.keys.verification_key(header.get("kid"))  # type: ignore[arg-type]
        if key is None:
            raise _KeyRejectedError("kid")
        return key


def purpose_detail(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The `strongroom_purpose` entry of the token's authorization_details, or {}."""
    details = claims.get("authorization_details")
    if not isinstance(details, list):
        return {}
    for d in details:
        if isinstance(d, dict) and d.get("type") == PURPOSE_DETAIL_TYPE:
            return d
    return {}
