"""An external OpenID Connect issuer (Keycloak, ...) as the source of access tokens.

Discovery (OIDC Discovery 1.0 §4 / RFC 8414 §3): the document's `issuer` must equal the
configured one (§4.3, mix-up defence), a trailing slash aside; tokens must then name the
issuer exactly as the document spells it. The JWKS is cached and fetched again when a token
names an unknown `kid` (key rotation at the provider), at most once per `min_refetch`
seconds so forged kids cannot make us hammer the provider. Verification is joserfc's, with
asymmetric algorithms only; the provider's claims are mapped to ours (`roles`, `scope`,
`authorization_details`) so `ResourceServer` treats both issuers alike. A token whose roles
map to none of ours is refused.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import GuestProtocol, Key, KeySet
from joserfc.jws import JWSRegistry
from joserfc.jwt import JWTClaimsRegistry

from strongroom.auth.rfc9068 import PURPOSE_DETAIL_TYPE, invalid_token
from strongroom.auth.role_grants import RoleGrant
from strongroom.clock import SYSTEM_CLOCK, Clock
from strongroom.errors import Unavailable

ALGS = ("RS256", "PS256", "ES256", "ES384", "EdDSA", "Ed25519")
log = logging.getLogger("strongroom.auth.oidc_external")


class IssuerMismatch(Unavailable):
    """The provider's discovery names another issuer: a configuration error, not an outage."""


class ExternalIssuer:
    def __init__(
        self,
        issuer: str,
        *,
        audience: str,
        role_map: Mapping[str, str],
        role_claim: str = "realm_access.roles",
        purpose_claim: str = "purpose",
        role_grants: Callable[[str], RoleGrant] | None = None,
        clock: Clock = SYSTEM_CLOCK,
        http: httpx.Client | None = None,
        algorithms: Sequence[str] = ALGS,
        leeway: int = 30,
        min_refetch: float = 10.0,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        # What the provider calls itself, as its discovery spells it (the slash included):
        # the `iss` its tokens must carry, exactly.
        self.named_issuer = self.issuer
        self.audience = audience
        self.role_map = dict(role_map)
        self.role_claim = role_claim
        self.purpose_claim = purpose_claim
        self.role_grants = role_grants
        self.clock = clock
        self.http = http or httpx.Client(timeout=5.0)
        self.algorithms = list(algorithms)
        self._registry = JWSRegistry(algorithms=self.algorithms)
        self.leeway = leeway
        self.min_refetch = min_refetch
        self._jwks_uri: str | None = None
        self._keys: dict[str, Key] = {}
        self._fetched_at = float("-inf")  # the last try, failed or not
        self._failure: str | None = None
        self._lock = threading.Lock()

    def discover(self) -> dict[str, Any]:
        url = self.issuer + "/.well-known/openid-configuration"
        doc = self._get_json(url)
        named = str(doc.get("issuer", ""))
        if named.rstrip("/") != self.issuer:
            raise IssuerMismatch(
                f"OIDC discovery at {url} names the issuer {named.rstrip('/')!r}, not the "
                f"configured {self.issuer!r}: its tokens are not trusted"
            )
        if not isinstance(doc.get("jwks_uri"), str):
            raise Unavailable(f"OIDC discovery at {url} has no jwks_uri")
        self._jwks_uri = doc["jwks_uri"]
        self.named_issuer = named
        return doc

    def refresh_keys(self) -> None:
        with self._lock:
            self._fetched_at = self.clock.now()
            try:
                if self._jwks_uri is None:
                    self.discover()
                jwks = self._get_json(str(self._jwks_uri))
                try:
                    keyset = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
                except (JoseError, ValueError, TypeError, KeyError) as exc:
                    raise Unavailable("OIDC provider JWKS unreadable") from exc
            except Unavailable as exc:
                # Tokens arriving before the next try get the same answer, not a fetch each.
                self._failure = exc.detail
                log.error("external issuer: %s", exc.detail)
                raise
            self._failure = None
            self._keys = {k.kid: k for k in keyset if k.kid}

    def check_at_start(self) -> None:
        """A server starting reads discovery and keys once: a discovery naming another
        issuer stops it (IssuerMismatch); a provider not answering yet is only logged, and
        the first token tries again."""
        try:
            self.refresh_keys()
        except IssuerMismatch:
            raise
        except Unavailable:
            self._fetched_at = float("-inf")  # logged by refresh_keys; retried on first use

    def verify_access_token(self, token: str) -> dict[str, Any]:
        if not isinstance(token, str) or token.count(".") != 2 or len(token) > 16384:
            raise invalid_token("malformed access token")
        try:
            decoded = jwt.decode(
                token, self._resolve_key, algorithms=self.algorithms, registry=self._registry
            )
        except (JoseError, ValueError, TypeError, LookupError) as exc:
            raise invalid_token("access token not valid for the configured issuer") from exc
        claims = decoded.claims
        registry = JWTClaimsRegistry(
            now=int(self.clock.now()),
            leeway=self.leeway,
            iss={"essential": True, "value": self.named_issuer},
            aud={"essential": True, "value": self.audience},
            sub={"essential": True},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            # The claim's name tells the client's developer which of aud, iss, exp is wrong.
            claim = getattr(exc, "claim", None)
            named = f": {claim}" if isinstance(claim, str) else ""
            raise invalid_token(f"access token rejected ({exc.error}{named})") from exc
        return self.map_claims(claims)

    def map_claims(self, claims: Mapping[str, Any]) -> dict[str, Any]:
        external = _path(claims, self.role_claim)
        names = external if isinstance(external, list) else [external]
        roles = [self.role_map[n] for n in names if isinstance(n, str) and n in self.role_map]
        if not roles:
            raise invalid_token("token carries no role known here")
        role = roles[0]
        scopes = set(str(claims.get("scope", "")).split())
        if self.role_grants is not None:
            scopes &= set(self.role_grants(role).scopes)  # never more than the role has
        # Not `sid`: that is the provider's session, unknown to ours, which would take it
        # for an ended one. Revocation still bites by principal (`sub`) and token (`jti`).
        out = {
            k: claims[k]
            for k in (
                "iss",
                "aud",
                "sub",
                "exp",
                "iat",
                "nbf",
                "jti",
                "acr",
                "auth_time",
                "cnf",
            )
            if k in claims
        }
        out["jti"] = str(claims.get("jti") or f"{claims['sub']}:{claims.get('iat')}")
        out["client_id"] = claims.get("client_id") or claims.get("azp")
        out["roles"] = [role]
        out["scope"] = " ".join(sorted(scopes))
        detail: dict[str, Any] = {
            "type": PURPOSE_DETAIL_TYPE,
            "purpose": claims.get(self.purpose_claim),
        }
        for d in claims.get("authorization_details") or []:
            if isinstance(d, dict) and d.get("type") == PURPOSE_DETAIL_TYPE:
                detail = dict(d)
        out["authorization_details"] = [detail]
        for k in ("departement", "dealer_id"):
            if isinstance(claims.get(k), str):
                out[k] = claims[k]
        return out

    def _resolve_key(self, obj: GuestProtocol) -> Key:
        kid = obj.headers().get("kid")
        if not isinstance(kid, str) or len(kid) > 256:
            raise LookupError("kid")
        key = self._keys.get(kid)
        if key is None and self.clock.now() - self._fetched_at >= self.min_refetch:
            self.refresh_keys()  # the provider may have rotated
            key = self._keys.get(kid)
        elif key is None and self._failure is not None:
            raise Unavailable(self._failure)
        if key is None:
            raise LookupError("unknown kid")
        return key

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            r = self.http.get(url)
            r.raise_for_status()
            doc = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unavailable("OIDC provider unreachable") from exc
        if not isinstance(doc, dict):
            raise Unavailable("OIDC provider answered with no JSON object")
        return doc


def _path(claims: Mapping[str, Any], dotted: str) -> Any:
    value: Any = claims
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value
