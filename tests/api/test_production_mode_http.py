"""No side doors in production mode, over real HTTP: an unbound bearer token minted out of
band with the home's own signing keys is a 401 problem+json (journaled); the same kind of
token is accepted in demo mode; the operator's `issue_token` mints only DPoP-bound tokens,
journaled, and those work with their proofs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.errors import BadRequest
from tests.auth.auth_testkit import BoundSession, DPoPClient
from tests.deployment import Deployment, build_deployment

LOOKUP = "http://testserver/v1/weapons/lookup"


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    dep = build_deployment(tmp_path_factory.mktemp("production"), persons=60, mode="production")
    yield dep
    dep.client.close()
    dep.service.close()


def out_of_band(dep: Deployment, role: str = "police", jkt: str | None = None) -> str:
    """A token signed with the home's keys by hand, as a leaked script or a copied
    `token issue` would have it: no sign-in, no journal entry."""
    return dep.service.tokens.issue_access_token(
        subject=dep.principals[role],
        role=role,
        scopes={"weapons:lookup"},
        purpose=dep.service.policy.policy.roles[role].default_purpose,
        jkt=jkt,
    )


def test_an_unbound_token_is_refused_in_production(production: Deployment) -> None:
    dep = production
    body = {"serial": dep.fixtures["weapon_serial"]}
    r = dep.client.post(LOOKUP, json=body, headers={"Authorization": f"Bearer {out_of_band(dep)}"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert (problem["status"], problem["reason"]) == (401, "unbound_token")
    assert r.headers["www-authenticate"].startswith("DPoP ")
    journal = dep.service.journal
    journal.flush()
    entry = journal.entry(journal.size() - 1)
    assert (entry["kind"], entry["reason"]) == ("security", "unbound_token")


def test_a_bound_token_with_its_proof_is_served_in_production(production: Deployment) -> None:
    dep = production
    dpop = DPoPClient(dep.clock)
    token = out_of_band(dep, jkt=dpop.jkt)
    r = BoundSession(dep.client, dpop, token).call(
        "POST", LOOKUP, json={"serial": dep.fixtures["weapon_serial"]}
    )
    assert r.status_code == 200, r.text


def test_the_operator_issues_only_bound_tokens_and_the_journal_knows(
    production: Deployment,
) -> None:
    dep, svc = production, production.service
    police = dep.principals["police"]
    with pytest.raises(BadRequest, match="DPoP-bound"):
        svc.token_issuer.issue(role="police", subject=police)
    dpop = DPoPClient(dep.clock)
    token = svc.admin.issue_token(role="police", subject=police, jkt=dpop.jkt)
    entry = svc.journal.entry(svc.journal.size() - 1)
    assert (entry["kind"], entry["reason"]) == ("admin", "token_issued")
    assert entry["detail"]["jkt"] == dpop.jkt and entry["detail"]["subject"] == police
    assert token not in str(entry)  # the credential itself is never journaled
    r = BoundSession(dep.client, dpop, token).call(
        "POST", LOOKUP, json={"serial": dep.fixtures["weapon_serial"]}
    )
    assert r.status_code == 200, r.text
    stripped = dep.client.post(
        LOOKUP,
        json={"serial": dep.fixtures["weapon_serial"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert stripped.status_code == 401


def test_the_same_unbound_token_is_accepted_in_demo_mode(tmp_path: Path) -> None:
    dep = build_deployment(tmp_path / "demo", persons=60)
    try:
        assert not dep.service.settings.production
        r = dep.client.post(
            LOOKUP,
            json={"serial": dep.fixtures["weapon_serial"]},
            headers={"Authorization": f"Bearer {out_of_band(dep)}"},
        )
        assert r.status_code == 200, r.text
    finally:
        dep.client.close()
        dep.service.close()
