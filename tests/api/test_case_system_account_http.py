"""The normal production path of cases (issue 18): the case-management system that feeds
the registry is a service account (client credentials, private_key_jwt, DPoP-bound token)
of the unit; it opens a case and links its subject over HTTP, and the unit's agent then
reads the subject through that case, while another unit's cannot."""

from __future__ import annotations

from fastapi.testclient import TestClient
from joserfc.jwk import ECKey

from strongroom.posture.drill_client import Account, ClientKey
from tests.deployment import Deployment

URL = "http://127.0.0.1:8000"  # the deployment's issuer: the token endpoint's address


def test_the_case_system_opens_and_links_and_the_agent_reads(deployment: Deployment) -> None:
    f = deployment.fixtures
    svc = deployment.service
    system = svc.admin.add_principal(
        role="prefecture", departement=f["departement"], label="case-management system"
    )
    key = ECKey.generate_key("P-256", auto_kid=True)
    svc.admin.register_client(
        "case-system",
        public=False,
        grant_types=["client_credentials"],
        jwks={"keys": [key.as_dict(private=False)]},
        service_principal_id=system,
    )
    with TestClient(deployment.app, base_url=URL, raise_server_exceptions=False) as http:
        account = Account(
            http, URL, deployment.clock, client_key=ClientKey("case-system", key.as_dict(True))
        )
        account.login([{"type": "strongroom_purpose", "purpose": "case_management"}])
        opened = account.request(
            "POST", "/v1/cases", {"kind": "renewal", "reference": "GED-2026-000731"}
        )
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["id"]
        linked = account.request(
            "POST",
            f"/v1/cases/{case_id}/subjects",
            {"subject_id": f["owner_id"], "reason": "renewal file received by post"},
        )
        assert linked.status_code == 201, linked.text

    agent = deployment.headers("prefecture", case=case_id)
    read = deployment.client.get(f"/v1/persons/{f['owner_id']}", headers=agent)
    assert read.status_code == 200, read.text
    elsewhere = svc.admin.add_principal(role="prefecture", departement="2A", label="other")
    other = deployment.headers("prefecture", elsewhere, case=case_id)
    refused = deployment.client.get(f"/v1/persons/{f['owner_id']}", headers=other)
    assert refused.status_code == 404
