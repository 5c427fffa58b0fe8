"""A recorded sale names its buyer as the dealer's ledger does (issue 21): the per-dealer
pseudonym, never the registry ID a stolen answer could be joined on."""

from __future__ import annotations

from tests.deployment import Deployment, sale_body


def test_a_sale_answer_carries_the_ledgers_pseudonym(deployment: Deployment) -> None:
    f = deployment.fixtures
    body = sale_body(f)
    sale = deployment.client.post("/v1/sales", json=body, headers=deployment.headers("dealer"))
    assert sale.status_code == 201, sale.text
    answer = sale.json()
    assert f["owner_id"] not in sale.text
    ledger = deployment.client.get(
        "/v1/ledger", headers=deployment.headers("dealer", purpose="ledger_keeping")
    )
    assert ledger.status_code == 200, ledger.text
    rows = [r for r in ledger.json()["items"] if r["id"] == answer["sale_id"]]
    assert len(rows) == 1
    assert answer["person_id"] and answer["person_id"] == rows[0]["person_id"]
