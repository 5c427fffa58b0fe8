"""An owner sees who looked at their record, over HTTP: organisation, role, purpose, case
kind and field categories, never the agent; covert investigations only once closed."""

from __future__ import annotations

from tests.deployment import Deployment

INVESTIGATION_WHY = "Judicial investigation: theft of a registered rifle, case file attached"


def accesses(dep: Deployment, owner: str, **params: object) -> dict:
    r = dep.client.get("/v1/me/accesses", params=params, headers=dep.headers("owner", owner))
    assert r.status_code == 200, r.text
    return r.json()


def test_an_owner_sees_the_prefecture_read_and_not_the_agent(deployment: Deployment) -> None:
    dep = deployment
    owner = dep.fixtures["owner_id"]
    assert dep.client.get("/v1/me", headers=dep.headers("owner", owner)).status_code == 200
    case = dep.case("prefecture", owner)
    r = dep.client.get(f"/v1/persons/{owner}", headers=dep.headers("prefecture", case=case))
    assert r.status_code == 200, r.text
    page = accesses(dep, owner)
    mine = [a for a in page["items"] if a["role"] == "prefecture"]
    assert mine, page
    latest = mine[0]
    assert latest["organisation"] == f"prefecture of département {dep.fixtures['departement']}"
    assert latest["purpose"] == "case_work" and latest["case_kind"] == "renewal"
    assert {"identity", "address"} <= set(latest["categories"])
    # never the agent, never the owner's own reads
    text = str(page)
    assert dep.principals["prefecture"] not in text
    assert all(a["role"] != "owner" for a in page["items"])
    assert "not shown yet" in page["note"]
    # the page itself is journaled
    journal = dep.service.journal
    journal.flush()
    last = journal.entry(journal.size() - 1)
    assert (last["endpoint"], last["principal"]) == ("GET /v1/me/accesses", owner)


def test_a_covert_investigation_shows_once_closed(deployment: Deployment) -> None:
    dep = deployment
    owner = dep.fixtures["owner_id"]
    before = len(accesses(dep, owner)["items"])
    case = dep.case("police", owner)
    headers = dep.headers(
        "police",
        purpose="investigation",
        case=case,
        justification=INVESTIGATION_WHY,
        acr="urn:strongroom:acr:phr",
        auth_time=dep.clock.now(),
    )
    r = dep.client.get(f"/v1/persons/{owner}", headers=headers)
    assert r.status_code == 200, r.text
    assert len(accesses(dep, owner)["items"]) == before  # withheld while open
    closed = dep.client.post(
        f"/v1/cases/{case}/close", headers=dep.headers("police", purpose="case_management")
    )
    assert closed.status_code == 200, closed.text
    items = accesses(dep, owner)["items"]
    assert len(items) == before + 1
    assert items[0]["role"] == "police" and items[0]["case_kind"] == "investigation"


def test_another_owner_sees_nothing_of_it_and_pages_newest_first(deployment: Deployment) -> None:
    dep = deployment
    owner = dep.fixtures["owner_id"]
    case = dep.case("prefecture", owner)
    for _ in range(3):
        dep.clock.advance(5)
        r = dep.client.get(f"/v1/persons/{owner}", headers=dep.headers("prefecture", case=case))
        assert r.status_code == 200
    first = accesses(dep, owner, limit=2)
    assert len(first["items"]) == 2 and first["next_before"] is not None
    assert first["items"][0]["when"] >= first["items"][1]["when"]
    rest = accesses(dep, owner, limit=2, before=first["next_before"])
    assert rest["items"] and rest["items"][0]["when"] <= first["items"][1]["when"]
    other = dep.fixtures["person_elsewhere"]
    assert accesses(dep, other)["items"] == []


def test_an_owners_request_opens_its_case_at_its_prefecture(deployment: Deployment) -> None:
    dep = deployment
    owner = dep.fixtures["owner_id"]
    filed = dep.client.post(
        "/v1/me/requests", json={"kind": "renewal"}, headers=dep.headers("owner", owner)
    )
    assert filed.status_code == 201, filed.text
    case = filed.json()["case"]
    assert filed.json()["unit"] == f"prefecture:{dep.fixtures['departement']}"
    # The département's agent finds it and reads the owner's record through it.
    listed = dep.client.get(
        "/v1/cases", headers=dep.headers("prefecture", purpose="case_management")
    )
    assert case in {c["id"] for c in listed.json()["items"]}
    read = dep.client.get(f"/v1/persons/{owner}", headers=dep.headers("prefecture", case=case))
    assert read.status_code == 200, read.text
    # An agent of another département can neither see it nor read through it.
    other = "13" if dep.fixtures["departement"] != "13" else "2A"
    outsider = dep.service.admin.add_principal(role="prefecture", departement=other)
    theirs = dep.client.get(
        "/v1/cases", headers=dep.headers("prefecture", outsider, purpose="case_management")
    )
    assert case not in {c["id"] for c in theirs.json()["items"]}
    refused = dep.client.get(
        f"/v1/persons/{owner}", headers=dep.headers("prefecture", outsider, case=case)
    )
    assert refused.status_code == 404


def test_an_owner_files_only_what_owners_may_and_a_few_a_day(deployment: Deployment) -> None:
    dep = deployment
    owner = dep.fixtures["owner_id"]
    headers = dep.headers("owner", owner)
    seizure = dep.client.post("/v1/me/requests", json={"kind": "seizure"}, headers=headers)
    assert seizure.status_code == 400 and seizure.json()["reason"] == "invalid_case_kind"
    statuses = [
        dep.client.post("/v1/me/requests", json={"kind": "renewal"}, headers=headers).status_code
        for _ in range(4)
    ]
    assert statuses[-1] == 429 and statuses.count(201) <= 3
