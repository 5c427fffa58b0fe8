"""The resource-server check: bearer and DPoP-bound tokens mapped to a Caller, and the
DPoP and revocation attacks refused with the right RFC 6750 / RFC 9449 challenge."""

from __future__ import annotations

import pytest
from auth_testkit import API_URL, DPoPClient
from joserfc import jwt
from joserfc.jwk import ECKey

from strongroom.auth.resource_server import InMemoryRevocations, ResourceServer
from strongroom.auth.rfc9068 import TokenService
from strongroom.clock import FakeClock
from strongroom.errors import Unauthorized


def _auth(
    rs: ResourceServer,
    authorization: str | None,
    dpop: str | None = None,
    method: str = "POST",
    url: str = API_URL,
):
    return rs.authenticate(
        authorization=authorization,
        dpop=dpop,
        method=method,
        url=url,
        ip="192.0.2.7",
        user_agent="pytest",
    )


def _refused(rs: ResourceServer, *args, **kw) -> Unauthorized:
    with pytest.raises(Unauthorized) as info:
        _auth(rs, *args, **kw)
    return info.value


def test_bearer_token_maps_to_caller(resource_server: ResourceServer, tokens: TokenService) -> None:
    token = tokens.issue_access_token(
        subject="p-1",
        role="prefecture",
        scopes=["registry:read", "registry:write"],
        purpose="case_work",
        case="C-9",
        departement="69",
        session_id="s-1",
        acr="mfa",
        auth_time=1_767_225_000,
        justification="file 12",
    )
    caller = _auth(resource_server, f"Bearer {token}")
    assert caller.principal_id == "p-1" and caller.role == "prefecture"
    assert caller.scopes == frozenset({"registry:read", "registry:write"})
    assert (caller.purpose, caller.case, caller.justification) == ("case_work", "C-9", "file 12")
    assert caller.departement == "69" and caller.session_id == "s-1"
    assert caller.client_id == "strongroom-cli" and caller.token_id
    assert caller.acr == "mfa" and caller.auth_time == 1_767_225_000
    assert caller.ip == "192.0.2.7" and caller.user_agent == "pytest"


def test_missing_credentials_get_both_challenges(resource_server: ResourceServer) -> None:
    err = _refused(resource_server, None)
    challenge = err.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="strongroom"') and "DPoP" in challenge
    assert "error=" not in challenge  # RFC 6750 §3.1: no error code without credentials
    assert _refused(resource_server, "Basic dXNlcjpwYXNz").status == 401


def test_dpop_bound_token_requires_matching_proof(
    resource_server: ResourceServer, tokens: TokenService, dpop_client: DPoPClient, clock: FakeClock
) -> None:
    token = tokens.issue_access_token(
        subject="p-2", role="police", scopes=["registry:read"], jkt=dpop_client.jkt
    )
    proof = dpop_client.proof("POST", API_URL, access_token=token)
    assert _auth(resource_server, f"DPoP {token}", proof).principal_id == "p-2"

    # Query and fragment are not part of htu; default port and case normalize away.
    proof = dpop_client.proof(
        "GET", "HTTPS://API.strongroom.test:443/v1/persons/search", access_token=token
    )
    assert (
        _auth(resource_server, f"DPoP {token}", proof, method="GET", url=API_URL + "?page=2").role
        == "police"
    )

    # Downgrade: the bound token as a plain bearer token.
    err = _refused(resource_server, f"Bearer {token}")
    assert err.headers["WWW-Authenticate"].startswith("DPoP ")
    # No proof.
    err = _refused(resource_server, f"DPoP {token}")
    assert 'error="invalid_dpop_proof"' in err.headers["WWW-Authenticate"]


def test_replayed_dpop_proof_rejected(
    resource_server: ResourceServer, tokens: TokenService, dpop_client: DPoPClient
) -> None:
    token = tokens.issue_access_token(subject="p", role="police", scopes=["s"], jkt=dpop_client.jkt)
    proof = dpop_client.proof("POST", API_URL, access_token=token)
    _auth(resource_server, f"DPoP {token}", proof)
    err = _refused(resource_server, f"DPoP {token}", proof)
    assert err.reason == "invalid_dpop_proof" and "replayed" in err.detail


def test_dpop_proof_mismatches_rejected(
    resource_server: ResourceServer, tokens: TokenService, dpop_client: DPoPClient, clock: FakeClock
) -> None:
    token = tokens.issue_access_token(subject="p", role="police", scopes=["s"], jkt=dpop_client.jkt)
    auth = f"DPoP {token}"
    other = DPoPClient(clock)
    other_token = tokens.issue_access_token(subject="p", role="police", scopes=["s"])
    cases = {
        "wrong htm": dpop_client.proof("GET", API_URL, access_token=token),
        "wrong htu": dpop_client.proof(
            "POST", "https://api.strongroom.test/v1/export", access_token=token
        ),
        "other host": dpop_client.proof(
            "POST", "https://evil.test/v1/persons/search", access_token=token
        ),
        "different key": other.proof("POST", API_URL, access_token=token),
        "no ath": dpop_client.proof("POST", API_URL),
        "ath of another token": dpop_client.proof("POST", API_URL, access_token=other_token),
        "stale iat": dpop_client.proof("POST", API_URL, access_token=token, iat=clock.now() - 120),
        "future iat": dpop_client.proof("POST", API_URL, access_token=token, iat=clock.now() + 60),
        "wrong typ": dpop_client.proof("POST", API_URL, access_token=token, header={"typ": "JWT"}),
        "private jwk": dpop_client.proof(
            "POST",
            API_URL,
            access_token=token,
            header={"jwk": dpop_client.key.as_dict(private=True)},
        ),
    }
    for name, proof in cases.items():
        err = _refused(resource_server, auth, proof)
        assert err.status == 401, name
        assert err.reason == "invalid_dpop_proof", name


def test_dpop_proof_with_symmetric_or_mismatched_key_rejected(
    resource_server: ResourceServer, tokens: TokenService, dpop_client: DPoPClient, clock: FakeClock
) -> None:
    token = tokens.issue_access_token(subject="p", role="police", scopes=["s"], jkt=dpop_client.jkt)
    # Header carries the bound public key, but the proof is signed by another key.
    intruder = ECKey.generate_key("P-256")
    body = {"jti": "j" * 16, "htm": "POST", "htu": API_URL, "iat": int(clock.now())}
    forged = jwt.encode(
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": dpop_client.key.as_dict(private=False)},
        body,
        intruder,
    )
    assert _refused(resource_server, f"DPoP {token}", forged).reason == "invalid_dpop_proof"


def test_unbound_token_with_dpop_scheme_rejected(
    resource_server: ResourceServer, tokens: TokenService, dpop_client: DPoPClient
) -> None:
    token = tokens.issue_access_token(subject="p", role="police", scopes=["s"])
    proof = dpop_client.proof("POST", API_URL, access_token=token)
    assert _refused(resource_server, f"DPoP {token}", proof).reason == "invalid_token"


def test_revoked_token_session_and_principal(
    resource_server: ResourceServer,
    tokens: TokenService,
    revocations: InMemoryRevocations,
    clock: FakeClock,
) -> None:
    t1 = tokens.issue_access_token(subject="a", role="police", scopes=["s"])
    t2 = tokens.issue_access_token(subject="b", role="police", scopes=["s"], session_id="s-b")
    t3 = tokens.issue_access_token(subject="c", role="police", scopes=["s"])
    for t in (t1, t2, t3):
        _auth(resource_server, f"Bearer {t}")
    revocations.revoke_token(tokens.verify_access_token(t1)["jti"], clock.now() + 300)
    revocations.revoke_session("s-b")
    revocations.revoke_principal("c")
    for t in (t1, t2, t3):
        err = _refused(resource_server, f"Bearer {t}")
        assert 'error="invalid_token"' in err.headers["WWW-Authenticate"]
    clock.advance(2)
    fresh = tokens.issue_access_token(subject="c", role="police", scopes=["s"])
    assert _auth(resource_server, f"Bearer {fresh}").principal_id == "c"
