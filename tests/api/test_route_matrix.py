"""Every /v1 route × every role. The table below is the only place a route's audience is
written in the tests: a route added to the API without a row here fails the suite, and
every role outside a route's row is refused (never a 2xx, never a 500)."""

from __future__ import annotations

import pytest

from tests.deployment import Deployment

ROLES = ("owner", "dealer", "police", "prefecture", "auditor", "admin")
NIL = "00000000-0000-4000-8000-000000000000"

# route -> (roles allowed with their default token, a request body or None)
TABLE: dict[str, tuple[frozenset[str], dict | None]] = {
    "GET /v1/me": (frozenset({"owner"}), None),
    "GET /v1/me/accesses": (frozenset({"owner"}), None),
    "POST /v1/me/requests": (frozenset({"owner"}), {"kind": "renewal"}),
    "POST /v1/permits/verify": (
        frozenset({"dealer"}),
        {"permit_number": "FR-00-00000000", "family_name": "X", "birth_date": "1970-01-01"},
    ),
    "POST /v1/sales": (
        frozenset({"dealer"}),
        {
            "permit_number": "FR-00-00000000",
            "family_name": "X",
            "birth_date": "1970-01-01",
            "weapon_serial": "NONE",
        },
    ),
    "GET /v1/ledger": (frozenset(), None),  # ledger_keeping purpose only, not the default
    "POST /v1/weapons/lookup": (frozenset({"police", "prefecture"}), {"serial": "NOSUCHSERIAL"}),
    "POST /v1/persons/search": (
        frozenset({"police", "prefecture"}),
        {"family_name": "X", "birth_date": "1970-01-01"},
    ),
    "GET /v1/persons/{id}": (frozenset({"prefecture"}), None),
    # case management purpose only, not the default
    "POST /v1/cases": (frozenset(), {"kind": "renewal", "reference": "ARR-2026-1"}),
    "GET /v1/cases": (frozenset(), None),
    "POST /v1/cases/{id}/subjects": (frozenset(), {"subject_id": NIL, "reason": "a reason"}),
    "POST /v1/cases/{id}/subjects/{subject}/approve": (frozenset(), None),
    "POST /v1/cases/{id}/subjects/{subject}/reject": (frozenset(), {"note": "not this one"}),
    "GET /v1/cases/pending-links": (frozenset(), None),
    "POST /v1/cases/{id}/close": (frozenset(), None),
    "GET /v1/journal/checkpoint": (frozenset({"auditor"}), None),
    "GET /v1/journal/proof/inclusion": (frozenset({"auditor"}), None),
    "GET /v1/journal/proof/consistency": (frozenset({"auditor"}), None),
    "GET /v1/journal/verification": (frozenset({"auditor"}), None),
    "POST /v1/journal/verification": (frozenset({"auditor"}), None),
    "GET /v1/investigations/principals/{id}": (frozenset({"auditor"}), None),
    "GET /v1/investigations/subjects/{id}": (frozenset({"auditor"}), None),
    "POST /v1/investigations/breach": (frozenset({"auditor"}), {"principals": [NIL]}),
    "GET /v1/reviews": (frozenset({"auditor"}), None),
    "POST /v1/reviews/{id}/decision": (
        frozenset({"auditor"}),
        {"decision": "approved", "note": "looked at it"},
    ),
    "GET /v1/reviews/case-links": (frozenset({"auditor", "admin"}), None),
    "GET /v1/alerts": (frozenset({"auditor", "admin"}), None),
    "GET /v1/activity": (frozenset({"auditor", "admin"}), None),
    "GET /v1/principals": (frozenset({"admin"}), None),
    "POST /v1/sessions/{id}/end": (frozenset({"admin"}), {"why": "testing refusal"}),
    "GET /v1/budgets/{principal}": (frozenset({"admin"}), None),
    "GET /v1/containments": (frozenset({"admin"}), None),
    "POST /v1/containments/{id}/lift": (
        frozenset({"admin"}),
        {"why": "reviewed, false positive"},
    ),
    "POST /v1/containments/{id}/approve": (frozenset({"admin"}), {"note": "seen"}),
    "POST /v1/principals/{id}/revoke": (frozenset({"admin"}), {"why": "testing refusal"}),
    "POST /v1/exports": (
        frozenset({"prefecture"}),
        {
            "dataset": "departement_permits_expiring",
            "fields": ["ref.permit_id", "permit.expires"],
            "justification": "Renewal letters for the semester, checking",
        },
    ),
    "GET /v1/exports": (frozenset({"prefecture"}), None),
    "GET /v1/exports/queue": (frozenset({"admin"}), None),
    "POST /v1/exports/{id}/approve": (frozenset({"admin"}), {"note": "fine"}),
    "POST /v1/exports/{id}/reject": (frozenset({"admin"}), {"note": "not needed"}),
    "GET /v1/exports/{id}/download": (frozenset({"prefecture"}), None),
}
QUERY = {
    "GET /v1/journal/proof/inclusion": "?index=0&size=1",
    "GET /v1/journal/proof/consistency": "?first=1&second=1",
}


def api_routes(deployment: Deployment) -> list[str]:
    # The OpenAPI document lists every route the application serves, included routers too.
    paths = deployment.client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return [
        f"{m.upper()} {path}" for path, ops in paths.items() if path.startswith("/v1/") for m in ops
    ]


def test_every_route_has_a_row(deployment: Deployment) -> None:
    routes = set(api_routes(deployment))
    missing = sorted(routes - set(TABLE))
    assert not missing, f"routes without an authorization row in this table: {missing}"
    assert routes == set(TABLE), f"rows without a route: {sorted(set(TABLE) - routes)}"


@pytest.mark.parametrize("route", sorted(TABLE))
@pytest.mark.parametrize("role", ROLES)
def test_role_outside_the_row_is_refused(deployment: Deployment, route: str, role: str) -> None:
    allowed, body = TABLE[route]
    if role in allowed:
        return
    method, path = route.split(" ", 1)
    path = (
        path.replace("{serial}", "NOSUCHSERIAL")
        .replace("{id}", NIL)
        .replace("{principal}", NIL)
        .replace("{subject}", NIL)
    )
    subject = deployment.fixtures["owner_id"] if role == "owner" else None
    r = deployment.client.request(
        method, path + QUERY.get(route, ""), json=body, headers=deployment.headers(role, subject)
    )
    assert r.status_code in (401, 403, 404), (route, role, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    if r.status_code == 403:
        assert r.json()["reason"] in {
            "role_not_allowed",
            "scope_missing",
            "purpose_not_allowed",
            "out_of_scope",
        }
