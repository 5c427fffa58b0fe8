"""An erased person over HTTP (issue 25), on SQLite and PostgreSQL: reads answer exactly as
for a record that never existed, searches no longer find them, the auditor's investigation
shows the subject erased with when, and the journal still verifies."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from strongroom.registry.erasure import own_keys
from strongroom.registry.models import Person
from tests.deployment import Deployment

REASON = "GDPR Art. 17: retention period elapsed"
# Fields of a problem that name the request rather than the answer.
PER_REQUEST = {"instance", "request_id", "trace_id"}


def _problem(r: Any) -> dict[str, Any]:
    return {k: v for k, v in r.json().items() if k not in PER_REQUEST}


def test_an_erased_person_reads_as_missing_and_investigations_say_erased(
    deployment: Deployment,
) -> None:
    f, client, svc = deployment.fixtures, deployment.client, deployment.service
    owner = f["owner_id"]
    case = deployment.case("prefecture", owner)
    agent = deployment.headers("prefecture", case=case)
    before = client.get(f"/v1/persons/{owner}", headers=agent)
    assert before.status_code == 200, before.text
    assert f["family_name"] in before.text
    search = {"family_name": f["family_name"], "birth_date": f["birth_date"]}
    found = client.post("/v1/persons/search", headers=deployment.headers("police"), json=search)
    assert owner in found.text

    out = svc.admin.erase_person(owner, REASON)
    assert out["data_keys_destroyed"] == 2
    with svc.registry.session() as s:
        # The tombstone keeps its public ID; its keys are gone.
        pk = s.execute(select(Person.id).where(Person.public_id == owner)).scalar_one()
        assert own_keys(s, pk) == {}

    erased = client.get(f"/v1/persons/{owner}", headers=agent)
    never = client.get(f"/v1/persons/{uuid.uuid4()}", headers=agent)
    assert erased.status_code == never.status_code == 404
    assert erased.headers["content-type"] == never.headers["content-type"]
    assert _problem(erased) == _problem(never)
    assert f["family_name"] not in erased.text

    again = client.post("/v1/persons/search", headers=deployment.headers("police"), json=search)
    assert again.status_code in (200, 404), again.text
    assert owner not in again.text

    report = client.get(
        f"/v1/investigations/subjects/{owner}", headers=deployment.headers("auditor")
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["erased"]["when"] and body["erased"]["why"] == REASON
    # The accesses before the erasure are still listed, pseudonymous.
    assert any(a["endpoint"] == "GET /v1/persons/{id}" for a in body["accesses"])
    assert f["family_name"].lower() not in report.text.lower()
    assert svc.journal.verify().ok
