"""Credentials the resource server refused are refused again at the door, for
REVOCATION_BOUND_SECONDS, by the same request (Authorization, DPoP, method, URL): the same
answer, journaled alike, without a token check. Anything else is the resource server's
to decide, and once the bound has passed so is the same request again."""

from __future__ import annotations

import time
from typing import Any

import httpx

from strongroom.api.deps import RefusedCredentials
from strongroom.auth.revocation_snapshot import REVOCATION_BOUND_SECONDS
from strongroom.errors import Unauthorized
from tests.deployment import Deployment

DAY = 86_400.0


def journaled(dep: Deployment, answers: list[httpx.Response]) -> list[dict[str, Any]]:
    """The journal entries of these answers, by their request IDs."""
    dep.service.journal.flush()
    size = dep.service.journal.size()
    ids = {a.headers["x-request-id"] for a in answers}
    entries = (dep.service.journal.entry(i) for i in range(max(0, size - 200), size))
    return [e for e in entries if e.get("detail", {}).get("request_id") in ids]


def test_an_expired_token_is_refused_at_the_door_until_the_bound(deployment: Deployment) -> None:
    """The token expires (the service's clock moves on a day), is refused, and the clock
    comes back: the resource server would take the token again, but the door holds its
    refusal of that very request until the bound has passed, and no other."""
    dep = deployment
    owner = dep.fixtures["owner_id"]
    headers = dep.headers("owner", owner)
    other = dep.headers("owner", owner)  # another token of the same owner
    assert dep.client.get("/v1/me", headers=headers).status_code == 200
    now = dep.clock.now()
    dep.clock.set(now + DAY)
    first = dep.client.get("/v1/me", headers=headers)
    assert first.status_code == 401 and first.json()["reason"] == "invalid_token"
    dep.clock.set(now)  # the token is valid again, as the resource server judges it
    refused_at = time.monotonic()
    again = [dep.client.get("/v1/me", headers=headers) for _ in range(5)]
    held = time.monotonic() - refused_at < REVOCATION_BOUND_SECONDS
    assert held, "the machine took the whole bound for five requests"
    for answer in again:
        assert answer.status_code == 401
        assert answer.json() == first.json()
        assert answer.headers["www-authenticate"] == first.headers["www-authenticate"]
    # the held refusal binds that request only: another token, another URL
    assert dep.client.get("/v1/me", headers=other).status_code == 200
    # (past authentication, an unknown parameter is refused: 400, not 401)
    assert dep.client.get("/v1/me?page=2", headers=headers).status_code == 400
    entries = journaled(dep, [first, *again])
    assert len(entries) == 6
    assert {(e["reason"], e["kind"], e["outcome"], e["endpoint"]) for e in entries} == {
        ("invalid_token", "security", "refused", "GET /v1/me")
    }
    time.sleep(max(0.0, refused_at + REVOCATION_BOUND_SECONDS - time.monotonic()) + 0.05)
    assert dep.client.get("/v1/me", headers=headers).status_code == 200


def test_a_request_refused_by_the_gate_is_not_held(deployment: Deployment) -> None:
    """Only authentication's refusals are held: a refusal by the policy after it (a scope
    the token lacks) is the gate's to make each time, and is."""
    dep = deployment
    owner = dep.fixtures["owner_id"]
    headers = dep.headers("owner", owner)
    answers = [dep.client.get("/v1/cases", headers=headers) for _ in range(3)]
    assert {a.status_code for a in answers} == {403}
    reasons = {e["reason"] for e in journaled(dep, answers)}
    assert "invalid_token" not in reasons and reasons


def test_the_held_refusals_are_bounded() -> None:
    """A flood of ever new credentials holds at most MAX refusals at once."""
    refused = RefusedCredentials(limit=4)
    err = Unauthorized("malformed access token", reason="invalid_token")
    for i in range(50):
        scope = {"method": "GET", "path": "/v1/me", "headers": [(b"authorization", b"x%d" % i)]}
        refused.hold(RefusedCredentials.key(scope), err)
        assert refused.refusal(RefusedCredentials.key(scope)) is err
        assert len(refused) <= 4
