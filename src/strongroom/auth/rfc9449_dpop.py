"""RFC 9449: OAuth 2.0 Demonstrating Proof of Possession (DPoP) proof checks.

`DPoPVerifier.verify(...)` runs the §4.3 checks on one `DPoP` header: a single compact JWS
(1-2) with `typ: dpop+jwt` (4), an asymmetric `alg` we allow (5), a public `jwk` only (7),
signed by that key (6), `htm` equal to the method (8), `htu` equal to the request URI
without query and fragment after RFC 3986 §6.2 normalization (9), `iat` inside a short
window (11), `ath` = base64url(SHA-256(access token)) when a token is presented (§4.3 12,
§7.1), `nonce` when the server demands one (10, §8), and a `jti` never seen before within the
window (11.1). It returns the RFC 7638 thumbprint of the proof key (`jkt`).

Signatures and thumbprints come from joserfc; only the checks are ours.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, GuestProtocol, Key, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from strongroom.auth.rfc9068 import bearer_challenge
from strongroom.clock import SYSTEM_CLOCK, Clock
from strongroom.errors import BadRequest, Unauthorized, Unavailable

TYP = "dpop+jwt"
# FAPI 2.0 §5.4 algorithms, plus RFC 9864's fully specified Ed25519. No HMAC, no none.
ALGS: tuple[str, ...] = ("ES256", "ES384", "PS256", "PS384", "EdDSA", "Ed25519")
_REGISTRY = JWSRegistry(algorithms=list(ALGS))
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


class ReplayCache(Protocol):
    """Remembers DPoP proof identifiers for `ttl` seconds."""

    def add(self, key: str, ttl: int) -> bool:
        """True if `key` was not present (and is now stored); False on a replay."""
        ...


class InMemoryReplayCache:
    """One process's replay cache. For several workers use `RedisReplayCache`."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK, max_entries: int = 200_000) -> None:
        self.clock = clock
        self.max_entries = max_entries
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, key: str, ttl: int) -> bool:
        now = self.clock.now()
        with self._lock:
            expiry = self._seen.get(key)
            if expiry is not None and expiry > now:
                return False
            if len(self._seen) >= self.max_entries:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
                if len(self._seen) >= self.max_entries:
                    # Fail closed: a full cache cannot prove a proof is fresh.
                    raise Unavailable("DPoP replay cache full")
            self._seen[key] = now + ttl
            return True


class RedisReplayCache:
    """SET NX EX in Redis: one atomic check-and-store shared by every worker."""

    def __init__(self, client: Any, prefix: str = "strongroom:dpop:") -> None:
        self.client = client
        self.prefix = prefix

    def add(self, key: str, ttl: int) -> bool:
        try:
            return bool(self.client.set(self.prefix + key, b"1", nx=True, ex=max(1, ttl)))
        except Exception as exc:  # noqa: BLE001 - any Redis failure: fail closed
            raise Unavailable("DPoP replay cache unreachable") from exc


@dataclass(frozen=True)
class DPoPProof:
    jkt: str
    jti: str
    iat: int
    claims: Mapping[str, Any]


def normalize_htu(url: str) -> str:
    """RFC 3986 §6.2.2-6.2.3 normalization, query and fragment dropped (RFC 9449 §4.3 9)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def access_token_hash(token: str) -> str:
    digest = hashlib.sha256(token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def dpop_error(
    description: str, *, error: str = "invalid_dpop_proof", nonce: str | None = None
) -> Unauthorized:
    headers = {
        "WWW-Authenticate": bearer_challenge(
            error, description, scheme="DPoP", extra={"algs": " ".join(ALGS)}
        )
    }
    if nonce is not None:
        headers["DPoP-Nonce"] = nonce
    return Unauthorized(description, reason=error, headers=headers)


class _ProofKeyRejectedError(Exception):
    pass


class DPoPVerifier:
    def __init__(
        self,
        replay_cache: ReplayCache,
        *,
        clock: Clock = SYSTEM_CLOCK,
        max_age_seconds: int = 60,
        leeway_seconds: int = 5,
        nonce_check: Callable[[str | None], str | None] | None = None,
    ) -> None:
        """`nonce_check(nonce)` returns None if the nonce is acceptable, or the fresh nonce
        to hand the client (RFC 9449 §8) when it is missing or stale."""
        self.replay_cache = replay_cache
        self.clock = clock
        self.max_age_seconds = max_age_seconds
        self.leeway_seconds = leeway_seconds
        self.nonce_check = nonce_check

    def verify(
        self, proof: str | None, *, method: str, url: str, access_token: str | None = None
    ) -> DPoPProof:
        if not proof or not isinstance(proof, str):
            raise dpop_error("DPoP proof required")
        if "," in proof or proof.count(".") != 2 or len(proof) > 4096:
            raise dpop_error("exactly one compact DPoP proof expected")
        try:
            decoded = jwt.decode(proof, _proof_key, algorithms=list(ALGS), registry=_REGISTRY)
        except _ProofKeyRejectedError as exc:
            raise dpop_error(f"DPoP proof key rejected ({exc})") from exc
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise dpop_error("DPoP proof signature invalid") from exc
        header, claims = decoded.header, decoded.claims
        if header.get("typ") != TYP:
            raise dpop_error("DPoP proof typ must be dpop+jwt")
        jti, iat = claims.get("jti"), claims.get("iat")
        if not isinstance(jti, str) or not 8 <= len(jti) <= 256:
            raise dpop_error("DPoP proof jti missing")
        if not isinstance(iat, int | float) or isinstance(iat, bool):
            raise dpop_error("DPoP proof iat missing")
        if claims.get("htm") != method.upper():
            raise dpop_error("DPoP proof htm does not match the request method")
        htu = claims.get("htu")
        if not isinstance(htu, str) or normalize_htu(htu) != normalize_htu(url):
            raise dpop_error("DPoP proof htu does not match the request URI")
        now = self.clock.now()
        if iat > now + self.leeway_seconds or iat < now - self.max_age_seconds:
            raise dpop_error("DPoP proof iat outside the accepted window")
        if access_token is not None:
            if claims.get("ath") != access_token_hash(access_token):
                raise dpop_error("DPoP proof ath does not match the access token")
        if self.nonce_check is not None:
            fresh = self.nonce_check(claims.get("nonce"))
            if fresh is not None:
                raise dpop_error("DPoP nonce required", error="use_dpop_nonce", nonce=fresh)
        jkt = _thumbprint(header["jwk"])
        ttl = self.max_age_seconds + 2 * self.leeway_seconds
        if not self.replay_cache.add(hashlib.sha256(f"{jkt}:{jti}".encode()).hexdigest(), ttl):
            raise dpop_error("DPoP proof replayed")
        return DPoPProof(jkt=jkt, jti=jti, iat=int(iat), claims=claims)


_KEY_TYPES: dict[str, type[Key]] = {"EC": ECKey, "OKP": OKPKey, "RSA": RSAKey}


def _import_public(jwk: object) -> Key:
    if not isinstance(jwk, dict):
        raise _ProofKeyRejectedError("jwk header missing")
    if _PRIVATE_MEMBERS & jwk.keys():
        raise _ProofKeyRejectedError("jwk must be a public key")
    cls = _KEY_TYPES.get(str(jwk.get("kty")))
    if cls is None:
        raise _ProofKeyRejectedError("jwk key type not asymmetric")
    try:
        return cls.import_key(jwk)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise _ProofKeyRejectedError("jwk unreadable") from exc


@lru_cache(maxsize=4096)
def _cached_public(members: tuple[tuple[str, str], ...]) -> tuple[Key, str]:
    # Clients sign every proof with the same key: import and thumbprint it once.
    key = _import_public(dict(members))
    return key, key.thumbprint()


def _public_and_thumbprint(jwk: object) -> tuple[Key, str]:
    if not isinstance(jwk, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in jwk.items()
    ):
        key = _import_public(jwk)  # not cacheable (lists, numbers): import each time
        return key, key.thumbprint()
    return _cached_public(tuple(sorted(jwk.items())))


def _proof_key(obj: GuestProtocol) -> Key:
    return _public_and_thumbprint(obj.headers().get("jwk"))[0]


def _thumbprint(jwk: dict[str, Any]) -> str:
    return _public_and_thumbprint(jwk)[1]


# An RFC 7638 SHA-256 thumbprint: 32 bytes, base64url without padding.
_JKT = re.compile(r"[A-Za-z0-9_-]{43}")


def key_thumbprint(jwk: object) -> str:
    """The thumbprint (`jkt`) of a public JWK an operator hands us to bind a token to."""
    try:
        return _import_public(jwk).thumbprint()
    except _ProofKeyRejectedError as exc:
        raise BadRequest(f"not a public key a DPoP client can use: {exc}") from None


def check_thumbprint(jkt: str) -> str:
    if not _JKT.fullmatch(jkt):
        raise BadRequest(
            "a DPoP key thumbprint is 43 base64url characters (RFC 7638, SHA-256)",
            reason="invalid_input",
        )
    return jkt
