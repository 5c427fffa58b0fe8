"""RFC 7523 §2.2 / OIDC Core §9 `private_key_jwt` client authentication.

The client signs a short JWT (iss = sub = client_id, aud = our issuer or token endpoint,
exp, jti) with a key registered in its JWKS; signatures are checked by joserfc with the
client's keys only, and each `jti` is accepted once (replay cache).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidClientError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from joserfc.jwt import JWTClaimsRegistry

from strongroom.auth.rfc9449_dpop import ReplayCache
from strongroom.clock import Clock

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGS = ["ES256", "PS256", "EdDSA", "Ed25519"]
_REGISTRY = JWSRegistry(algorithms=ALGS)
MAX_ASSERTION_LIFETIME = 300


def verify_client_assertion(
    assertion: str,
    *,
    client_id: str,
    jwks: dict[str, Any],
    audiences: Iterable[str],
    clock: Clock,
    replay_cache: ReplayCache,
) -> None:
    if not jwks or not jwks.get("keys"):
        raise InvalidClientError(description="client has no registered keys")
    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        token = jwt.decode(assertion, keys, algorithms=ALGS, registry=_REGISTRY)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise InvalidClientError(description="client assertion signature invalid") from exc
    claims = token.claims
    now = int(clock.now())
    registry = JWTClaimsRegistry(
        now=now,
        leeway=5,
        iss={"essential": True, "value": client_id},
        sub={"essential": True, "value": client_id},
        aud={"essential": True, "values": list(audiences)},
        exp={"essential": True},
        jti={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise InvalidClientError(description=f"client assertion rejected ({exc.error})") from exc
    if claims["exp"] - claims.get("iat", now) > MAX_ASSERTION_LIFETIME:
        raise InvalidClientError(description="client assertion lives too long")
    key = hashlib.sha256(f"{client_id}:{claims['jti']}".encode()).hexdigest()
    if not replay_cache.add("ca:" + key, MAX_ASSERTION_LIFETIME + 10):
        raise InvalidClientError(description="client assertion replayed")
