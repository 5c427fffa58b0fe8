"""Owners see their own permit numbers (issue 21): sealed by the vault in the registry,
shown to the holder by the policy's owner view, to nobody else's view that does not
reveal them."""

from __future__ import annotations

from sqlalchemy import select

from strongroom.registry.models import Permit
from tests.deployment import Deployment


def _numbers(body: dict) -> list[str]:  # type: ignore[type-arg]
    return [p["number"] for p in body["permits"] if "number" in p]


def test_an_owner_sees_their_permit_numbers(deployment: Deployment) -> None:
    f = deployment.fixtures
    owner = deployment.headers("owner", f["owner_id"])
    r = deployment.client.get("/v1/me", headers=owner)
    assert r.status_code == 200, r.text
    assert f["permit_number"] in _numbers(r.json())


def test_a_dealer_verifying_it_is_not_shown_the_number(deployment: Deployment) -> None:
    f = deployment.fixtures
    r = deployment.client.post(
        "/v1/permits/verify",
        json={
            "permit_number": f["permit_number"],
            "family_name": f["family_name"],
            "birth_date": f["birth_date"],
        },
        headers=deployment.headers("dealer"),
    )
    assert r.status_code == 200, r.text
    assert f["permit_number"] not in r.text


def test_the_number_is_not_stored_in_the_clear(deployment: Deployment) -> None:
    number = deployment.fixtures["permit_number"].encode()
    with deployment.service.registry.session() as s:
        sealed = [ct for ct in s.execute(select(Permit.number_ct)).scalars() if ct]
    assert sealed, "permits keep their sealed number"
    assert not any(number in bytes(ct) for ct in sealed)
