"""A dealer's day (verify, sell, ledger) and masking that holds: fields the policy masks
are never decrypted, counted on the real vault."""

from __future__ import annotations

from tests.deployment import Deployment, sale_body


def test_sale_then_ledger_pseudonymous_and_minimal(deployment: Deployment) -> None:
    f = deployment.fixtures
    sale = deployment.client.post(
        "/v1/sales", headers=deployment.headers("dealer"), json=sale_body(f)
    )
    assert sale.status_code == 201, sale.text
    again = deployment.client.post(
        "/v1/sales", headers=deployment.headers("dealer"), json=sale_body(f)
    )
    assert again.status_code == 404 and again.json()["reason"] == "not_in_stock"

    vault = deployment.service.vault
    before = vault.decrypt_count
    ledger = deployment.client.get(
        "/v1/ledger", headers=deployment.headers("dealer", purpose="ledger_keeping")
    )
    assert ledger.status_code == 200, ledger.text
    items = ledger.json()["items"]
    assert items, ledger.text
    mine = [i for i in items if i["id"] == sale.json()["sale_id"]]
    assert len(mine) == 1
    row = mine[0]
    assert row["weapon"]["serial"] == f["stock_serial"]
    # The buyer is a per-dealer pseudonym, never the registry ID; names are partial.
    assert row["person_id"] != f["owner_id"]
    assert row["identity"]["family_name"].startswith(f["family_name"][0].upper()) or row[
        "identity"
    ]["family_name"].startswith(f["family_name"][0])
    assert "*" in row["identity"]["family_name"]
    assert "address" not in row and "street" not in ledger.text
    # Per item: two identity fields and one serial decrypted; never an address field.
    assert vault.decrypt_count - before == 3 * len(items)


def test_verification_decrypts_nothing(deployment: Deployment) -> None:
    f = deployment.fixtures
    vault = deployment.service.vault
    before = vault.decrypt_count
    r = deployment.client.post(
        "/v1/permits/verify",
        headers=deployment.headers("dealer"),
        json={
            "permit_number": f["permit_number"],
            "family_name": f["family_name"],
            "birth_date": f["birth_date"],
        },
    )
    assert r.status_code == 200
    assert vault.decrypt_count == before


def test_ledger_is_only_the_dealers_own(deployment: Deployment) -> None:
    from sqlalchemy import select

    from strongroom.registry.models import Dealer

    with deployment.service.registry.session() as s:
        other_dealer = s.execute(
            select(Dealer.public_id)
            .where(Dealer.public_id != deployment.fixtures["dealer_id"])
            .limit(1)
        ).scalar_one()
    other = deployment.service.admin.add_principal(
        role="dealer", dealer=other_dealer, label="other shop"
    )
    mine = deployment.client.get(
        "/v1/ledger", headers=deployment.headers("dealer", purpose="ledger_keeping")
    ).json()["items"]
    theirs = deployment.client.get(
        "/v1/ledger", headers=deployment.headers("dealer", other, purpose="ledger_keeping")
    ).json()["items"]
    assert not {i["id"] for i in mine} & {i["id"] for i in theirs}


def test_ledger_cannot_be_sorted_or_filtered_on_masked_fields(deployment: Deployment) -> None:
    r = deployment.client.get(
        "/v1/ledger?sort=family_name&limit=10000",
        headers=deployment.headers("dealer", purpose="ledger_keeping"),
    )
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
