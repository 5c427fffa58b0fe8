"""Each role's task works over real HTTP through the ASGI app, and each role is refused the
others'. Real SQLite, real crypto, real tokens."""

from __future__ import annotations

import pytest

from tests.deployment import Deployment

PROBLEM = "application/problem+json"


def test_owner_reads_own_record(deployment: Deployment) -> None:
    owner = deployment.fixtures["owner_id"]
    r = deployment.client.get("/v1/me", headers=deployment.headers("owner", owner))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == owner
    assert body["identity"]["family_name"]
    assert body["address"]["street"]
    assert isinstance(body["permits"], list) and isinstance(body["weapons"], list)


def test_dealer_verifies_permit_without_address(deployment: Deployment) -> None:
    f = deployment.fixtures
    r = deployment.client.post(
        "/v1/permits/verify",
        headers=deployment.headers("dealer"),
        json={
            "permit_number": f["permit_number"],
            "family_name": f["family_name"],
            "birth_date": f["birth_date"],
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"valid", "categories", "expires", "banned"}
    assert body["valid"] is True
    assert isinstance(body["banned"], bool)
    text = r.text.lower()
    assert "street" not in text and "address" not in text


def test_dealer_verification_across_case_and_accents(deployment: Deployment) -> None:
    f = deployment.fixtures
    r = deployment.client.post(
        "/v1/permits/verify",
        headers=deployment.headers("dealer"),
        json={
            "permit_number": f["permit_number"],
            "family_name": f["family_name"].upper(),
            "birth_date": f["birth_date"],
        },
    )
    assert r.json()["valid"] is True


def test_dealer_wrong_birth_date_learns_nothing(deployment: Deployment) -> None:
    f = deployment.fixtures
    wrong = f["birth_date"][:3] + str((int(f["birth_date"][3]) + 1) % 10) + f["birth_date"][4:]
    bad = deployment.client.post(
        "/v1/permits/verify",
        headers=deployment.headers("dealer"),
        json={
            "permit_number": f["permit_number"],
            "family_name": f["family_name"],
            "birth_date": wrong,
        },
    )
    absent = deployment.client.post(
        "/v1/permits/verify",
        headers=deployment.headers("dealer"),
        json={
            "permit_number": "FR-00-00000000",
            "family_name": f["family_name"],
            "birth_date": f["birth_date"],
        },
    )
    assert bad.status_code == absent.status_code == 200
    assert (
        bad.json()
        == absent.json()
        == {"valid": False, "categories": [], "expires": None, "banned": None}
    )


def test_police_weapon_lookup(deployment: Deployment) -> None:
    serial = deployment.fixtures["weapon_serial"]
    r = deployment.client.post(
        "/v1/weapons/lookup", json={"serial": serial}, headers=deployment.headers("police")
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["category"] in {"A", "B", "C"}
    assert body["status"] in {"registered", "stolen", "seized", "for_sale"}
    assert "holder_permit_valid" in body
    assert "family_name" not in r.text


def test_police_search_exact(deployment: Deployment) -> None:
    f = deployment.fixtures
    r = deployment.client.post(
        "/v1/persons/search",
        headers=deployment.headers("police"),
        json={"family_name": f["family_name"], "birth_date": f["birth_date"]},
    )
    assert r.status_code == 200, r.text
    ids = [i["id"] for i in r.json()["items"]]
    assert f["owner_id"] in ids
    assert "total" not in r.json()


@pytest.mark.parametrize("name", ["{}*", "{}%", "{prefix}", "{}?"])
def test_police_search_refuses_wildcards_and_prefixes(deployment: Deployment, name: str) -> None:
    f = deployment.fixtures
    value = name.format(f["family_name"], prefix=f["family_name"][:3])
    r = deployment.client.post(
        "/v1/persons/search",
        headers=deployment.headers("police"),
        json={"family_name": value, "birth_date": f["birth_date"]},
    )
    if name == "{prefix}":
        # A prefix is a legal exact value that matches nothing: no prefix search exists.
        assert r.status_code == 200 and r.json()["items"] == []
    else:
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith(PROBLEM)
        assert r.json()["reason"] == "insufficient_specificity"


def test_prefecture_reads_own_departement(deployment: Deployment) -> None:
    person = deployment.fixtures["owner_id"]
    case = deployment.case("prefecture", person)
    r = deployment.client.get(
        f"/v1/persons/{person}", headers=deployment.headers("prefecture", case=case)
    )
    assert r.status_code == 200, r.text
    assert r.json()["id"] == person


def test_prefecture_other_departement_looks_absent(deployment: Deployment) -> None:
    other = deployment.fixtures["person_elsewhere"]
    r = deployment.client.get(f"/v1/persons/{other}", headers=deployment.headers("prefecture"))
    missing = deployment.client.get(
        "/v1/persons/00000000-0000-4000-8000-000000000000", headers=deployment.headers("prefecture")
    )
    assert r.status_code == missing.status_code == 404
    assert r.json()["type"] == missing.json()["type"]
    assert r.json()["detail"] == missing.json()["detail"]


ROUTES = {
    "owner": ("GET", "/v1/me", None),
    "dealer": ("POST", "/v1/permits/verify", "verify"),
    "police": ("POST", "/v1/persons/search", "search"),
    "prefecture": ("GET", "/v1/persons/{person}", None),
}


def route_allowed(role: str, route_role: str) -> bool:
    # Prefecture agents also search persons, within their own département (policy).
    return role == route_role or (role, route_role) == ("prefecture", "police")


@pytest.mark.parametrize("route_role", sorted(ROUTES))
@pytest.mark.parametrize("role", ["owner", "dealer", "police", "prefecture", "auditor", "admin"])
def test_each_role_is_refused_the_others_tasks(
    deployment: Deployment, route_role: str, role: str
) -> None:
    if route_allowed(role, route_role):
        return
    f = deployment.fixtures
    method, path, kind = ROUTES[route_role]
    path = path.format(person=f["owner_id"])
    body = None
    if kind == "verify":
        body = {
            "permit_number": f["permit_number"],
            "family_name": f["family_name"],
            "birth_date": f["birth_date"],
        }
    elif kind == "search":
        body = {"family_name": f["family_name"], "birth_date": f["birth_date"]}
    subject = f["owner_id"] if role == "owner" else None
    r = deployment.client.request(
        method, path, json=body, headers=deployment.headers(role, subject)
    )
    assert r.status_code in (403, 404), (role, route_role, r.status_code, r.text)
    assert r.headers["content-type"].startswith(PROBLEM)
    assert f["family_name"].lower() not in r.text.lower()


def test_no_token_is_401_problem(deployment: Deployment) -> None:
    r = deployment.client.get("/v1/me")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith(PROBLEM)
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer") and "DPoP" in challenge
    assert r.json()["reason"] == "missing_token"
    # refused at the door, and journaled as a security event all the same
    journal = deployment.service.journal
    journal.flush()
    entry = journal.entry(journal.size() - 1)
    assert (entry["kind"], entry["endpoint"], entry["reason"]) == (
        "security",
        "GET /v1/me",
        "missing_token",
    )
    # a malformed header still reaches the resource server, which says why
    bad = deployment.client.get("/v1/me", headers={"Authorization": "Basic abc"})
    assert bad.status_code == 401 and bad.json()["reason"] == "missing_token"


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        b'{"permit_number": 5}',
        b'{"permit_number": "x", "family_name": "y", '
        b'"birth_date": "1970-01-01", "sort": "family_name"}',
        b'{"birth_date": "31/12/1999"}',
    ],
)
def test_bad_input_is_400_problem_never_500(deployment: Deployment, payload: bytes) -> None:
    r = deployment.client.post(
        "/v1/permits/verify",
        content=payload,
        headers={**deployment.headers("dealer"), "Content-Type": "application/json"},
    )
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert "Traceback" not in r.text
