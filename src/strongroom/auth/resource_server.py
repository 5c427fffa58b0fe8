"""The resource-server check run on every /v1 request: RFC 6750 bearer and RFC 9449 DPoP.

`ResourceServer.authenticate(...)` takes the raw `Authorization` and `DPoP` headers and
returns a `Caller`, or raises `Unauthorized` with an RFC 6750 §3 / RFC 9449 §7.1 challenge:

- no credentials: a bare challenge for both schemes (RFC 6750 §3.1: no error code);
- a token bound to a key (`cnf.jkt`) must come with the `DPoP` scheme and a valid proof for
  this method and URI whose key has that thumbprint and whose `ath` hashes the token; a bound
  token presented as `Bearer` is refused (downgrade), as is an unbound token as `DPoP`;
- with `require_bound_tokens` (production mode) an unbound token is refused outright: a
  bearer token copied from a log, a proxy or a laptop then opens nothing;
- then revocation (token, session, principal) and the session's idle timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol

from strongroom.auth.rfc9068 import bearer_challenge, invalid_token, purpose_detail
from strongroom.auth.rfc9449_dpop import (
    ALGS,
    DPoPVerifier,
    InMemoryReplayCache,
    ReplayCache,
    dpop_error,
)
from strongroom.clock import SYSTEM_CLOCK, Clock
from strongroom.context import Caller
from strongroom.errors import Unauthorized


class RevocationList(Protocol):
    def is_revoked(self, claims: Mapping[str, Any]) -> bool:
        """True if this token, its session or its principal has been revoked."""
        ...


class AccessTokenVerifier(Protocol):
    """`TokenService` (our issuer), `ExternalIssuer` (an OIDC provider), or `TrustedIssuers`
    (both, each token to the verifier of the issuer it names)."""

    def verify_access_token(self, token: str) -> dict[str, Any]: ...


class SessionActivity(Protocol):
    def touch(self, session_id: str, now: float) -> bool:
        """Record activity; False if the session is idle-expired, ended or unknown."""
        ...


class InMemoryRevocations:
    """Revocations of one process (tests, the embedded single-worker default)."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self._tokens: dict[str, float] = {}
        self._sessions: set[str] = set()
        self._principals: dict[str, float] = {}
        self._lock = threading.Lock()

    def revoke_token(self, jti: str, expires_at: float) -> None:
        with self._lock:
            self._tokens[jti] = expires_at

    def revoke_session(self, session_id: str) -> None:
        with self._lock:
            self._sessions.add(session_id)

    def revoke_principal(self, principal_id: str) -> None:
        """Every token of the principal issued up to now stops working."""
        with self._lock:
            self._principals[principal_id] = self.clock.now()

    def is_revoked(self, claims: Mapping[str, Any]) -> bool:
        if claims.get("jti") in self._tokens:
            return True
        sid = claims.get("sid")
        if sid is not None and sid in self._sessions:
            return True
        cutoff = self._principals.get(str(claims.get("sub")))
        return cutoff is not None and float(claims.get("iat", 0)) <= cutoff


def no_credentials() -> Unauthorized:
    challenge = ", ".join(
        [
            bearer_challenge(),
            bearer_challenge(scheme="DPoP", extra={"algs": " ".join(ALGS)}),
        ]
    )
    return Unauthorized(
        "access token required", reason="missing_token", headers={"WWW-Authenticate": challenge}
    )


def unbound_token() -> Unauthorized:
    description = "this deployment accepts only DPoP-bound access tokens"
    return Unauthorized(
        description,
        reason="unbound_token",
        headers={
            "WWW-Authenticate": bearer_challenge(
                "invalid_token", description, scheme="DPoP", extra={"algs": " ".join(ALGS)}
            )
        },
    )


class ResourceServer:
    def __init__(
        self,
        token_service: AccessTokenVerifier,
        *,
        revocations: RevocationList,
        clock: Clock = SYSTEM_CLOCK,
        dpop_replay_cache: ReplayCache | None = None,
        sessions: SessionActivity | None = None,
        dpop_max_age_seconds: int = 60,
        require_bound_tokens: bool = False,
    ) -> None:
        self.tokens = token_service
        self.require_bound_tokens = require_bound_tokens
        self.revocations = revocations
        self.clock = clock
        self.sessions = sessions
        # One worker's memory by default; several workers need RedisReplayCache.
        cache = dpop_replay_cache if dpop_replay_cache is not None else InMemoryReplayCache(clock)
        self.dpop = DPoPVerifier(cache, clock=clock, max_age_seconds=dpop_max_age_seconds)

    def authenticate(
        self,
        *,
        authorization: str | None,
        dpop: str | None,
        method: str,
        url: str,
        ip: str | None,
        user_agent: str | None,
    ) -> Caller:
        if not authorization:
            raise no_credentials()
        scheme, _, token = authorization.strip().partition(" ")
        scheme, token = scheme.lower(), token.strip()
        if scheme not in ("bearer", "dpop") or not token:
            raise no_credentials()
        challenge_scheme = "DPoP" if scheme == "dpop" else "Bearer"
        claims = self.tokens.verify_access_token(token)
        cnf = claims.get("cnf")
        bound = cnf.get("jkt") if isinstance(cnf, dict) else None
        if bound is not None:
            if scheme != "dpop":
                raise invalid_token("DPoP-bound token presented as a bearer token", scheme="DPoP")
            proof = self.dpop.verify(dpop, method=method, url=url, access_token=token)
            if proof.jkt != bound:
                raise dpop_error("DPoP proof key does not match the token binding")
        elif scheme == "dpop":
            raise invalid_token("token is not DPoP-bound", scheme="DPoP")
        elif self.require_bound_tokens:
            raise unbound_token()
        if self.revocations.is_revoked(claims):
            raise invalid_token("access token revoked", scheme=challenge_scheme)
        sid = claims.get("sid")
        if self.sessions is not None and sid is not None:
            if not self.sessions.touch(str(sid), self.clock.now()):
                raise invalid_token("session expired", scheme=challenge_scheme)
        return caller_from_claims(claims, ip=ip, user_agent=user_agent)


def caller_from_claims(
    claims: Mapping[str, Any], *, ip: str | None, user_agent: str | None
) -> Caller:
    roles = claims.get("roles")
    role = roles[0] if isinstance(roles, list) and roles else claims.get("role")
    if not isinstance(role, str):
        raise invalid_token("access token carries no role")
    detail = purpose_detail(claims)
    scope = claims.get("scope", "")
    auth_time = claims.get("auth_time")
    return Caller(
        principal_id=str(claims["sub"]),
        role=role,
        scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
        purpose=detail.get("purpose"),
        case=detail.get("case"),
        justification=detail.get("justification"),
        departement=claims.get("departement"),
        dealer_id=claims.get("dealer_id"),
        session_id=claims.get("sid"),
        client_id=claims.get("client_id"),
        token_id=claims.get("jti"),
        ip=ip,
        user_agent=user_agent,
        acr=claims.get("acr"),
        auth_time=float(auth_time) if isinstance(auth_time, int | float) else None,
    )
