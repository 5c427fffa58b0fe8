"""Several trusted issuers side by side: each access token goes to the verifier of the
issuer its `iss` names, and only that one verifies it (signature with that issuer's keys,
audience, expiry, binding). Our own authorization server is always one of them: the
console, `strongroom call` and service accounts hold its tokens even where staff also sign
in at an external OpenID Connect provider.

The `iss` read here is unverified and picks a verifier, nothing more: a token signed by one
issuer's key and naming the other is checked against the named issuer's keys and fails.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from joserfc.errors import JoseError
from joserfc.jws import extract_compact

from strongroom.auth.resource_server import AccessTokenVerifier
from strongroom.auth.rfc9068 import invalid_token

MAX_TOKEN_LENGTH = 16384  # the larger of the two verifiers' own limits


class TrustedIssuers:
    """An `AccessTokenVerifier` routing each token by its `iss` to one of `verifiers`
    ({issuer: verifier}); a token naming none of them is refused like any bad token."""

    def __init__(self, verifiers: Mapping[str, AccessTokenVerifier]) -> None:
        self.verifiers = dict(verifiers)

    def verify_access_token(self, token: str) -> dict[str, Any]:
        verifier = self.verifiers.get(claimed_issuer(token))
        if verifier is None:
            raise invalid_token("access token from an issuer not trusted here")
        return verifier.verify_access_token(token)


def claimed_issuer(token: str) -> str:
    """The `iss` a compact JWS claims, unverified, read by joserfc's parser of the
    compact serialization; `invalid_token` for anything that is no such JWS."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise invalid_token("malformed access token")
    try:
        # The same JSON reading joserfc's own jwt.decode applies to a verified payload.
        claims = json.loads(extract_compact(token.encode("ascii")).payload)
    except (JoseError, ValueError, TypeError, UnicodeError) as exc:
        raise invalid_token("malformed access token") from exc
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    if not isinstance(issuer, str):
        raise invalid_token("access token names no issuer")
    return issuer
