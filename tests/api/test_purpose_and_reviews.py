"""Purpose binding, break-glass reviews and revocation, over HTTP."""

from __future__ import annotations

from tests.deployment import Deployment

PROBLEM = "application/problem+json"


def test_case_work_needs_a_case_and_justification(deployment: Deployment) -> None:
    person = deployment.fixtures["owner_id"]
    r = deployment.client.get(
        f"/v1/persons/{person}",
        headers=deployment.headers("prefecture", case=None, justification=None),
    )
    assert r.status_code == 403
    assert r.json()["reason"] in {"case_required", "justification_required"}


def test_undeclared_purpose_is_refused(deployment: Deployment) -> None:
    f = deployment.fixtures
    r = deployment.client.post(
        "/v1/persons/search",
        headers=deployment.headers("police", purpose="audit"),
        json={"family_name": f["family_name"], "birth_date": f["birth_date"]},
    )
    assert r.status_code in (400, 403)
    assert r.headers["content-type"].startswith(PROBLEM)


def test_break_glass_needs_step_up(deployment: Deployment) -> None:
    other = deployment.fixtures["person_elsewhere"]
    r = deployment.client.get(
        f"/v1/persons/{other}",
        headers=deployment.headers(
            "prefecture",
            purpose="break_glass",
            justification="Urgent: the holder moved yesterday and a suspension is pending now",
        ),
    )
    assert r.status_code == 401
    assert "insufficient_user_authentication" in r.headers.get("WWW-Authenticate", "")


def test_break_glass_widens_for_a_while_and_creates_a_review(deployment: Deployment) -> None:
    other = deployment.fixtures["person_elsewhere"]
    case = deployment.case("prefecture", other)
    headers = deployment.headers(
        "prefecture",
        purpose="break_glass",
        case=case,
        acr="urn:strongroom:acr:phr",
        auth_time=deployment.clock.now(),
        justification="Urgent: the holder moved yesterday and a suspension is pending now",
    )
    r = deployment.client.get(f"/v1/persons/{other}", headers=headers)
    assert r.status_code == 200, r.text
    reviews = deployment.client.get("/v1/reviews", headers=deployment.headers("auditor"))
    assert reviews.status_code == 200, reviews.text
    mine = [
        i for i in reviews.json()["items"] if i["principal"] == deployment.principals["prefecture"]
    ]
    assert mine and mine[0]["status"] == "pending"
    decided = deployment.client.post(
        f"/v1/reviews/{mine[0]['id']}/decision",
        headers=deployment.headers("auditor"),
        json={"decision": "approved", "note": "Suspension file checked"},
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "approved"
    again = deployment.client.post(
        f"/v1/reviews/{mine[0]['id']}/decision",
        headers=deployment.headers("auditor"),
        json={"decision": "rejected", "note": "changed my mind"},
    )
    assert again.status_code == 409


def test_revoked_principal_is_refused_on_next_request(deployment: Deployment) -> None:
    victim = deployment.service.admin.add_principal(role="police", label="to revoke")
    headers = deployment.headers("police", victim)
    f = deployment.fixtures
    ok = deployment.client.post(
        "/v1/weapons/lookup", json={"serial": f["weapon_serial"]}, headers=headers
    )
    assert ok.status_code == 200, ok.text
    r = deployment.client.post(
        f"/v1/principals/{victim}/revoke",
        headers=deployment.headers("admin"),
        json={"why": "account reported stolen"},
    )
    assert r.status_code == 200, r.text
    refused = deployment.client.post(
        "/v1/weapons/lookup", json={"serial": f["weapon_serial"]}, headers=headers
    )
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith(PROBLEM)
