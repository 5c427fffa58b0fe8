"""RFC 9068 access tokens: what a valid token carries, and the forged or stale ones that
must all end in 401 invalid_token. Malicious tokens are built with joserfc/cryptography."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from auth_testkit import AUDIENCE, ISSUER
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jwt
from joserfc.jwk import OctKey, OKPKey
from joserfc.jws import JWSRegistry

from strongroom.auth.rfc9068 import TokenService
from strongroom.clock import FakeClock
from strongroom.errors import BadRequest, Unauthorized


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _parts(token: str) -> tuple[dict, dict, str]:
    h, p, s = token.split(".")
    pad = lambda x: x + "=" * (-len(x) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(h))),
        json.loads(base64.urlsafe_b64decode(pad(p))),
        s,
    )


def _rejected(tokens: TokenService, token: str) -> Unauthorized:
    with pytest.raises(Unauthorized) as info:
        tokens.verify_access_token(token)
    err = info.value
    assert err.status == 401
    assert 'error="invalid_token"' in err.headers["WWW-Authenticate"]
    return err


def _issue(tokens: TokenService, **kw: object) -> str:
    args: dict = dict(
        subject="p-1", role="police", scopes=["registry:read"], purpose="investigation", case="C-42"
    )
    args.update(kw)
    return tokens.issue_access_token(**args)


def _claims(tokens: TokenService, clock: FakeClock, **over: object) -> dict:
    now = int(clock.now())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "p-1",
        "client_id": "c",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": "j-1",
        "scope": "registry:read",
        "roles": ["police"],
    }
    claims.update(over)
    return claims


def _our_key(tokens: TokenService) -> OKPKey:
    return tokens.keys.active_key()


def test_issued_token_carries_rfc9068_and_rfc9396_claims(tokens: TokenService) -> None:
    token = _issue(
        tokens,
        jkt="thumb",
        session_id="s-1",
        acr="mfa",
        auth_time=1.0,
        departement="75",
        justification="warrant 7",
    )
    header, _, _ = _parts(token)
    assert header == {"typ": "at+jwt", "alg": "EdDSA", "kid": _our_key(tokens).kid}
    claims = tokens.verify_access_token(token)
    assert claims["iss"] == ISSUER and claims["aud"] == AUDIENCE
    assert claims["sub"] == "p-1" and claims["client_id"] == "strongroom-cli"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["scope"] == "registry:read" and claims["roles"] == ["police"]
    assert claims["authorization_details"] == [
        {
            "type": "strongroom_purpose",
            "purpose": "investigation",
            "case": "C-42",
            "justification": "warrant 7",
        }
    ]
    assert claims["cnf"] == {"jkt": "thumb"} and claims["sid"] == "s-1"
    assert claims["departement"] == "75" and claims["acr"] == "mfa"


def test_lifetime_is_bounded(tokens: TokenService) -> None:
    with pytest.raises(BadRequest):
        _issue(tokens, lifetime=3601)
    with pytest.raises(BadRequest):
        _issue(tokens, lifetime=0)


def test_alg_none_rejected(tokens: TokenService, clock: FakeClock) -> None:
    header = {"alg": "none", "typ": "at+jwt", "kid": _our_key(tokens).kid}
    token = (
        _b64(json.dumps(header).encode())
        + "."
        + _b64(json.dumps(_claims(tokens, clock)).encode())
        + "."
    )
    _rejected(tokens, token)


def test_hs256_key_confusion_rejected(tokens: TokenService, clock: FakeClock) -> None:
    public = json.dumps(_our_key(tokens).as_dict(private=False)).encode()
    for secret in (public, _our_key(tokens).as_dict()["x"].encode()):
        forged = jwt.encode(
            {"alg": "HS256", "typ": "at+jwt", "kid": _our_key(tokens).kid},
            _claims(tokens, clock),
            OctKey.import_key(secret),
            algorithms=["HS256"],
            registry=JWSRegistry(algorithms=["HS256"]),
        )
        _rejected(tokens, forged)


def _attacker_key() -> OKPKey:
    return OKPKey.import_key(Ed25519PrivateKey.generate())


@pytest.mark.parametrize(
    "kid", ["../../../../etc/passwd", "/dev/null", "x' OR '1'='1", "..%2F..%2Fkeys", "", "a" * 300]
)
def test_kid_injection_and_path_traversal_rejected(
    tokens: TokenService, clock: FakeClock, kid: str, keys_dir: Path
) -> None:
    _our_key(tokens)
    forged = jwt.encode(
        {"alg": "EdDSA", "typ": "at+jwt", "kid": kid},
        _claims(tokens, clock),
        _attacker_key(),
        algorithms=["EdDSA"],
    )
    _rejected(tokens, forged)


def test_attacker_key_with_our_kid_rejected(tokens: TokenService, clock: FakeClock) -> None:
    forged = jwt.encode(
        {"alg": "EdDSA", "typ": "at+jwt", "kid": _our_key(tokens).kid},
        _claims(tokens, clock),
        _attacker_key(),
        algorithms=["EdDSA"],
    )
    _rejected(tokens, forged)


def test_jku_x5u_and_embedded_jwk_are_ignored(tokens: TokenService, clock: FakeClock) -> None:
    attacker = _attacker_key()
    for extra in (
        {"jku": "http://127.0.0.1:1/jwks.json"},
        {"x5u": "http://127.0.0.1:1/cert.pem"},
        {"jwk": attacker.as_dict(private=False)},
    ):
        header = {"alg": "EdDSA", "typ": "at+jwt", "kid": attacker.thumbprint(), **extra}
        forged = jwt.encode(header, _claims(tokens, clock), attacker, algorithms=["EdDSA"])
        _rejected(tokens, forged)


def test_expired_and_not_yet_valid_rejected(tokens: TokenService, clock: FakeClock) -> None:
    token = _issue(tokens, lifetime=60)
    clock.advance(60 + 31)  # past exp and the 30 s leeway
    _rejected(tokens, token)
    key = _our_key(tokens)
    now = int(clock.now())
    future = jwt.encode(
        {"alg": "EdDSA", "typ": "at+jwt", "kid": key.kid},
        _claims(tokens, clock, nbf=now + 600, iat=now),
        key,
        algorithms=["EdDSA"],
    )
    _rejected(tokens, future)
    iat_future = jwt.encode(
        {"alg": "EdDSA", "typ": "at+jwt", "kid": key.kid},
        _claims(tokens, clock, iat=now + 600, nbf=now),
        key,
        algorithms=["EdDSA"],
    )
    _rejected(tokens, iat_future)


def test_wrong_issuer_or_audience_rejected(
    tokens: TokenService, keys_dir: Path, clock: FakeClock
) -> None:
    other_aud = TokenService(keys_dir, issuer=ISSUER, audience="payroll-api", clock=clock)
    other_iss = TokenService(keys_dir, issuer="https://evil.test", audience=AUDIENCE, clock=clock)
    for token in (_issue(other_aud), _issue(other_iss)):  # same keys, another aud / iss
        _rejected(tokens, token)
        _rejected(tokens, token)  # a valid signature is not remembered as a valid token


def test_missing_typ_or_essential_claims_rejected(tokens: TokenService, clock: FakeClock) -> None:
    key = _our_key(tokens)
    id_token_like = jwt.encode(
        {"alg": "EdDSA", "typ": "JWT", "kid": key.kid},
        _claims(tokens, clock),
        key,
        algorithms=["EdDSA"],
    )
    _rejected(tokens, id_token_like)
    no_exp = _claims(tokens, clock)
    del no_exp["exp"]
    _rejected(
        tokens,
        jwt.encode(
            {"alg": "EdDSA", "typ": "at+jwt", "kid": key.kid}, no_exp, key, algorithms=["EdDSA"]
        ),
    )


def test_tampered_payload_and_stripped_signature_rejected(tokens: TokenService) -> None:
    token = _issue(tokens)
    h, p, s = token.split(".")
    _, claims, _ = _parts(token)
    claims["roles"] = ["admin"]
    tampered = f"{h}.{_b64(json.dumps(claims).encode())}.{s}"
    _rejected(tokens, tampered)
    _rejected(tokens, f"{h}.{p}.")
    _rejected(tokens, f"{h}.{p}")
    _rejected(tokens, "not a token")


def test_verified_token_cache_still_checks_time_and_keys(
    tokens: TokenService, clock: FakeClock
) -> None:
    token = _issue(tokens, lifetime=60)
    assert tokens.verify_access_token(token)["sub"] == "p-1"  # now cached
    assert tokens.verify_access_token(token)["sub"] == "p-1"
    clock.advance(91)
    _rejected(tokens, token)  # a cached signature does not outlive exp


def test_cached_token_refused_once_its_key_is_gone(tokens: TokenService, clock: FakeClock) -> None:
    tokens.keys.retention_seconds = 10
    token = _issue(tokens, lifetime=3600)
    tokens.verify_access_token(token)
    tokens.keys.rotate()
    clock.advance(11)
    tokens.keys.rotate()  # prunes the first key
    _rejected(tokens, token)
