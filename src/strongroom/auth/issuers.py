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
        # Keyed without a trailing slash: providers differ on it and operators copy either
        # form. The verifier then holds the token to its issuer's exact name.
        self.verifiers = {issuer.rstrip("/"): v for issuer, v in verifiers.items()}
        # A client sends the same token with every request until it expires: its route is
        # read once. Bounded like the verifiers' own caches; holds only routed tokens.
        self._routes: dict[str, AccessTokenVerifier] = {}
        self._routes_max = 10_000

    def verify_access_token(self, token: str) -> dict[str, Any]:
        verifier = self._routes.get(token) if isinstance(token, str) else None
        if verifier is None:
            verifier = self.verifiers.get(claimed_issuer(token).rstrip("/"))
            if verifier is None:
                raise invalid_token("access token from an issuer not trusted here")
            if len(self._routes) >= self._routes_max:
                self._routes.clear()
            self._routes[token] = verifier
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
