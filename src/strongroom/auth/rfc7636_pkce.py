"""RFC 7636: Proof Key for Code Exchange, S256 only (FAPI 2.0 §5.3.2.2; `plain` refused).

The challenge is computed by Authlib's `create_s256_code_challenge`; we only check shapes
(§4.1: 43-128 unreserved characters) and compare in constant time.
"""

from __future__ import annotations

import hmac
import re

from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7636 import create_s256_code_challenge

_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")


def check_challenge(challenge: str | None, method: str | None) -> str:
    if method != "S256":
        raise InvalidRequestError("code_challenge_method must be S256")
    if not challenge or not _CHALLENGE.fullmatch(challenge):
        raise InvalidRequestError("code_challenge must be a base64url SHA-256 digest")
    return challenge


def verify(verifier: str | None, challenge: str) -> None:
    if not verifier or not _VERIFIER.fullmatch(verifier):
        raise InvalidGrantError("code_verifier missing or malformed")
    if not hmac.compare_digest(create_s256_code_challenge(verifier), challenge):
        raise InvalidGrantError("code_verifier does not match the code_challenge")
