"""The export routes over HTTP against a real deployment (seeded home, Service, tokens):
request, four eyes, download once, problem+json refusals."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deployment import Deployment, build_deployment

CASE = "CASE-2026-0042"
WHY = "Renewal letters for the département, semester 1"
FIELDS = ["ref.permit_id", "permit.expires", "permit.kind"]


@pytest.fixture(scope="module")
def dep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    d = build_deployment(tmp_path_factory.mktemp("home"), persons=300)
    svc = d.service
    yield d
    d.client.close()
    svc.close()


def requester(dep: Deployment) -> dict[str, str]:
    return dep.headers("prefecture", case=CASE, justification=WHY)


def create(
    dep: Deployment, fields: list[str] = FIELDS, headers: dict[str, str] | None = None
) -> str:
    r = dep.client.post(
        "/v1/exports",
        headers=headers or requester(dep),
        json={
            "dataset": "departement_permits_expiring",
            "fields": fields,
            "justification": WHY,
            "format": "csv",
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_request_approve_download_once(dep: Deployment) -> None:
    export_id = create(dep)
    assert (
        dep.client.get(f"/v1/exports/{export_id}/download", headers=requester(dep)).json()["reason"]
        == "not_approved"
    )
    queue = dep.client.get("/v1/exports/queue", headers=dep.headers("admin")).json()
    assert export_id in [i["id"] for i in queue["items"]]
    r = dep.client.post(
        f"/v1/exports/{export_id}/approve",
        headers=dep.headers("admin"),
        json={"note": "ok for the campaign"},
    )
    assert r.status_code == 200 and r.json()["status"] == "approved"

    r = dep.client.get(f"/v1/exports/{export_id}/download", headers=requester(dep))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    digest = base64.b64encode(hashlib.sha256(r.content).digest()).decode()
    assert r.headers["repr-digest"] == f"sha-256=:{digest}:"
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows and set(rows[0]) == set(FIELDS)
    assert int(r.headers["x-export-rows"]) == len(rows)
    assert list(Path(dep.home.exports_dir).glob("*")) == []

    again = dep.client.get(f"/v1/exports/{export_id}/download", headers=requester(dep))
    assert again.status_code == 409 and again.json()["reason"] == "already_downloaded"
    mine = dep.client.get("/v1/exports", headers=requester(dep)).json()["items"]
    assert {i["id"]: i["status"] for i in mine}[export_id] == "downloaded"


def test_refusals_are_problems(dep: Deployment) -> None:
    r = dep.client.post(
        "/v1/exports",
        headers=requester(dep),
        json={
            "dataset": "departement_permits_expiring",
            "justification": WHY,
            "fields": ["ref.permit_id", "identity.family_name"],
        },
    )
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["reason"] == "fields_not_allowed"

    export_id = create(dep)
    r = dep.client.post(f"/v1/exports/{export_id}/approve", headers=requester(dep))
    assert r.status_code == 403 and r.json()["reason"] == "role_not_allowed"
    r = dep.client.post(
        f"/v1/exports/{export_id}/reject",
        headers=dep.headers("admin"),
        json={"note": "no case behind this"},
    )
    assert r.json()["status"] == "rejected"
    r = dep.client.get(f"/v1/exports/{export_id}/download", headers=requester(dep))
    assert r.status_code == 409 and r.json()["reason"] == "not_approved"
    r = dep.client.get(f"/v1/exports/{export_id}/download", headers=dep.headers("police"))
    assert r.status_code == 403


def _approve(dep: Deployment, export_id: str) -> None:
    r = dep.client.post(
        f"/v1/exports/{export_id}/approve", headers=dep.headers("admin"), json={"note": "ok"}
    )
    assert r.status_code == 200, r.text


def test_a_row_export_without_an_id_column_is_refused(dep: Deployment) -> None:
    """Its watermark is carried by the IDs: a list of dates and permit kinds alone could
    never be traced back to whoever leaked it. Refused with the reason, journaled."""
    journal = dep.service.journal
    before = journal.size()
    r = dep.client.post(
        "/v1/exports",
        headers=requester(dep),
        json={
            "dataset": "departement_permits_expiring",
            "fields": ["permit.expires", "permit.kind", "permit.categories"],
            "justification": WHY,
        },
    )
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["reason"] == "untraceable_export"
    assert "ref.permit_id" in body["id_fields"]
    journal.flush()
    (entry,) = [
        journal.entry(i)
        for i in range(before, journal.size())
        if journal.entry(i).get("endpoint") == "POST /v1/exports"
    ]
    assert (entry["outcome"], entry["reason"]) == ("refused", "untraceable_export")
    queue = dep.client.get("/v1/exports/queue", headers=dep.headers("admin")).json()
    assert all(
        i["fields"] != ["permit.categories", "permit.expires", "permit.kind"]
        for i in queue["items"]
    )


def test_an_export_is_handed_out_only_under_its_own_case(dep: Deployment) -> None:
    export_id = create(dep)
    _approve(dep, export_id)
    other = dep.headers("prefecture", case="CASE-2026-9999", justification=WHY)
    r = dep.client.get(f"/v1/exports/{export_id}/download", headers=other)
    assert r.status_code == 404 and r.json()["reason"] == "not_found"
    r = dep.client.get(f"/v1/exports/{export_id}/download", headers=requester(dep))
    assert r.status_code == 200, r.text


def test_an_export_of_a_closed_case_is_not_handed_out(dep: Deployment) -> None:
    case_id = dep.case("prefecture")
    headers = dep.headers("prefecture", case=case_id, justification=WHY)
    export_id = create(dep, headers=headers)
    _approve(dep, export_id)
    closing = dep.headers("prefecture", purpose="case_management")
    closed = dep.client.post(f"/v1/cases/{case_id}/close", headers=closing)
    assert closed.status_code == 200, closed.text
    r = dep.client.get(f"/v1/exports/{export_id}/download", headers=headers)
    assert r.status_code == 409 and r.json()["reason"] == "case_closed"


def test_an_approved_lists_rows_are_not_reads_for_the_volume_detectors(dep: Deployment) -> None:
    """A renewal list a second person approved is downloaded in one request, its rows
    all at once: the journal keeps how many, but velocity and the peer baseline do not
    count them as records an agent read (a simulated month suspended 86 prefecture agents
    for their renewal lists when they did)."""
    from strongroom.detect.table import FAMILY_INDEX

    agent = dep.service.admin.add_principal(
        role="prefecture", departement=dep.fixtures["departement"], label="renewals"
    )
    headers = dep.headers("prefecture", agent, case=CASE, justification=WHY)
    export_id = create(dep, headers=headers)
    _approve(dep, export_id)
    r = dep.client.get(f"/v1/exports/{export_id}/download", headers=headers)
    assert r.status_code == 200
    rows = int(r.headers["x-export-rows"])
    assert rows > 0
    state = dep.service.detector.states[agent]
    assert state.records_day == 0
    assert state.fam_value[FAMILY_INDEX["volume"]] == 0
    journal = dep.service.journal
    journal.flush()
    last = [journal.entry(i) for i in range(journal.size() - 5, journal.size())]
    (download,) = [
        e
        for e in last
        if e.get("endpoint") == "GET /v1/exports/{id}/download" and e["principal"] == agent
    ]
    assert download["records"] == rows
