"""The joints between the layers, over real HTTP: one endpoint table for the router, the
policy and the journal; storage failures inside a task answered, journaled and settled."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from strongroom import endpoints
from strongroom.context import Caller
from strongroom.gate.scopes import OBJECT_SCOPES
from tests.deployment import Deployment, build_deployment, sale_body

NIL = "00000000-0000-4000-8000-000000000000"


def last_entry(dep: Deployment) -> dict:
    journal = dep.service.journal
    journal.flush()  # refusals are committed without their caller waiting
    return journal.entry(journal.size() - 1)


def test_routes_policy_and_endpoint_table_agree(deployment: Deployment) -> None:
    paths = deployment.client.app.openapi()["paths"]  # type: ignore[attr-defined]
    served = {
        (method.upper(), path)
        for path, ops in paths.items()
        if path.startswith("/v1/")
        for method in ops
    }
    declared = {(e.method, e.path) for e in endpoints.ALL}
    assert served == declared
    assert {e.id for e in endpoints.ALL} == set(deployment.service.policy.policy.endpoints)


@pytest.mark.parametrize(
    ("method", "path", "body", "endpoint"),
    [
        ("GET", f"/v1/persons/{NIL}?sort=family_name", None, "GET /v1/persons/{id}"),
        ("POST", "/v1/persons/search", {"family_name": "X"}, "POST /v1/persons/search"),
        ("POST", "/v1/weapons/lookup?limit=5000", {"serial": "ABC"}, "POST /v1/weapons/lookup"),
    ],
)
def test_malformed_requests_are_journaled_under_the_policy_name(
    deployment: Deployment, method: str, path: str, body: dict | None, endpoint: str
) -> None:
    before = deployment.service.journal.size()
    r = deployment.client.request(method, path, json=body, headers=deployment.headers("prefecture"))
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    entry = last_entry(deployment)
    assert deployment.service.journal.size() == before + 1
    assert entry["endpoint"] == endpoint
    assert entry["outcome"] == "refused"
    assert entry["principal"] == deployment.principals["prefecture"]


@pytest.fixture
def broken(tmp_path: Path) -> Deployment:
    dep = build_deployment(tmp_path / "home", persons=60)
    yield dep
    dep.client.close()
    dep.service.close()


def test_storage_error_inside_a_task_is_a_journaled_503_and_settles_the_budget(
    broken: Deployment,
) -> None:
    owner = broken.fixtures["owner_id"]
    headers = broken.headers("owner", owner)
    assert broken.client.get("/v1/me", headers=headers).status_code == 200
    used = {b["budget"]: b["used"] for b in broken.service.budgets.state(owner)["budgets"]}
    # A real storage failure under the task: the weapons table is gone.
    with broken.service.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE weapons RENAME TO weapons_moved"))
    r = broken.client.get("/v1/me", headers=headers)
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["retry-after"] == "1"
    problem = r.json()
    assert problem["reason"] == "storage_unavailable"
    assert "weapons" not in r.text and "Traceback" not in r.text
    entry = last_entry(broken)
    assert (entry["endpoint"], entry["outcome"], entry["reason"]) == (
        "GET /v1/me",
        "error",
        "storage_unavailable",
    )
    after = {b["budget"]: b for b in broken.service.budgets.state(owner)["budgets"]}
    for name, row in after.items():
        # The worst case reserved for the failed read was given back: only a request
        # budget counts the attempt.
        grew = row["used"] - used[name]
        assert grew == (1 if row["unit"] == "requests" else 0), (name, row)


def test_own_dealer_scope_is_the_dealers_buyers(deployment: Deployment) -> None:
    f = deployment.fixtures
    body = sale_body(f)
    sale = deployment.client.post("/v1/sales", json=body, headers=deployment.headers("dealer"))
    assert sale.status_code == 201, sale.text
    svc = deployment.service
    dealer = Caller(principal_id=deployment.principals["dealer"], role="dealer")
    dealer = svc.pipeline.bind_principal(dealer)  # its dealer comes from the registry
    assert dealer.dealer_id == f["dealer_id"]
    scope = OBJECT_SCOPES["own_dealer"]
    with svc.registry.session() as s:
        buyer = svc.registry.person_by_public_id(s, f["owner_id"])
        other = svc.registry.person_by_public_id(s, f["person_elsewhere"])
        assert buyer is not None and other is not None
        now = svc.clock.now()
        assert scope.allows(s, svc.registry, dealer, buyer, now)
        assert not scope.allows(s, svc.registry, dealer, other, now)


def test_a_role_whose_scope_needs_a_departement_is_refused_without_one(
    deployment: Deployment,
) -> None:
    from strongroom.errors import BadRequest

    with pytest.raises(BadRequest, match="departement"):
        deployment.service.admin.add_principal(role="prefecture", label="no département")


def test_the_old_weapon_route_is_gone_and_says_where_to(deployment: Deployment) -> None:
    serial = deployment.fixtures["weapon_serial"]
    r = deployment.client.get(f"/v1/weapons/{serial}", headers=deployment.headers("police"))
    assert r.status_code == 410
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "/v1/weapons/lookup" in r.json()["detail"] and "lookup" in r.headers["link"]
    entry = last_entry(deployment)
    assert (entry["outcome"], entry["reason"]) == ("refused", "moved")
    assert serial not in str(entry)  # the journal names the route, not the serial
