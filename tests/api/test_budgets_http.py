"""Budgets as the caller sees them: RateLimit headers on every protected answer, and a
429 problem naming the budget, with Retry-After, when a pull outruns human work."""

from __future__ import annotations

from tests.deployment import Deployment


def test_protected_answers_carry_ratelimit_headers(deployment: Deployment) -> None:
    f = deployment.fixtures
    r = deployment.client.post(
        "/v1/weapons/lookup",
        json={"serial": f["weapon_serial"]},
        headers=deployment.headers("police"),
    )
    assert r.status_code == 200, r.text
    assert "RateLimit-Policy" in r.headers and "RateLimit" in r.headers
    assert r.headers["Cache-Control"] == "no-store"


def test_record_budget_stops_a_steady_pull(deployment: Deployment) -> None:
    officer = deployment.service.admin.add_principal(role="police", label="steady puller")
    headers = deployment.headers("police", officer)
    serial = deployment.fixtures["weapon_serial"]
    statuses = []
    last = None
    for _ in range(200):
        deployment.clock.advance(2.5)  # 24 requests a minute: under the request rate
        last = deployment.client.post(
            "/v1/weapons/lookup", json={"serial": serial}, headers=headers
        )
        statuses.append(last.status_code)
        if last.status_code != 200:
            break
    assert last is not None and last.status_code in (429, 403), statuses
    assert len(statuses) <= 61
    if last.status_code == 429:
        body = last.json()
        assert last.headers["content-type"].startswith("application/problem+json")
        assert body["budget"]
        assert int(last.headers["Retry-After"]) > 0
    else:
        assert last.json()["reason"] == "contained"


def test_admin_reads_a_principals_budget_state(deployment: Deployment) -> None:
    officer = deployment.principals["police"]
    serial = deployment.fixtures["weapon_serial"]
    assert (
        deployment.client.post(
            "/v1/weapons/lookup", json={"serial": serial}, headers=deployment.headers("police")
        ).status_code
        == 200
    )
    r = deployment.client.get(f"/v1/budgets/{officer}", headers=deployment.headers("admin"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["principal"] == officer
    text = r.text
    assert "principal_requests_minute" in text and "police_records_hour" in text
    refused = deployment.client.get(f"/v1/budgets/{officer}", headers=deployment.headers("police"))
    assert refused.status_code == 403
