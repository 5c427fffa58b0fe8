"""A small, real deployment for tests: a home folder in tmp, a seeded registry, one
principal per staff role, and the ASGI app behind a TestClient (real HTTP semantics,
in process). Shared by the API, posture and export suites."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from strongroom.clock import FakeClock
from strongroom.compose import Service, compose
from strongroom.config import Home
from strongroom.initialize import initialize


@dataclass
class Deployment:
    home: Home
    service: Service
    client: TestClient
    fixtures: dict[str, Any]
    principals: dict[str, str]
    clock: FakeClock

    @property
    def app(self) -> Any:
        return self.client.app

    def token(self, role: str, subject: str | None = None, **claims: Any) -> str:
        from strongroom.cli.demo import DEMO_CASE, DEMO_JUSTIFICATION

        subject = subject or self.principals[role]
        if role == "prefecture":
            # Case work names its case and says why, as the policy requires.
            claims.setdefault("case", DEMO_CASE)
            claims.setdefault("justification", DEMO_JUSTIFICATION)
        return self.service.token_issuer.issue(role=role, subject=subject, **claims)

    def headers(self, role: str, subject: str | None = None, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, subject, **claims)}"}

    def case(self, role: str, *subjects: str, kind: str | None = None) -> str:
        """Open a case for the role's principal over HTTP and link `subjects` to it: the
        path every full-record read takes (need to know). Returns the case ID."""
        kind = kind or ("investigation" if role == "police" else "renewal")
        headers = self.headers(role, purpose="case_management")
        r = self.client.post(
            "/v1/cases", json={"kind": kind, "reference": "TEST-2026-0001"}, headers=headers
        )
        assert r.status_code == 201, r.text
        case_id = str(r.json()["id"])
        for subject in subjects:
            r = self.client.post(
                f"/v1/cases/{case_id}/subjects",
                json={"subject_id": subject, "reason": "named in the test's case file"},
                headers=headers,
            )
            assert r.status_code == 201, r.text
        return case_id


def build_deployment(
    path: Path,
    *,
    persons: int = 300,
    registry_url: str | None = None,
    journal_url: str | None = None,
    policy_text: str | None = None,
    clock: FakeClock | None = None,
    seed: int = 7,
    mode: str | None = None,
) -> Deployment:
    from strongroom.cli.demo import create_demo_principals
    from strongroom.cli.seeding import seed_home

    home = Home(path)
    initialize(home, registry_url=registry_url, journal_url=journal_url, mode=mode)
    if policy_text is not None:
        home.policy_path.write_text(policy_text, encoding="utf-8")
    clock = clock or FakeClock()
    report = seed_home(home, persons=persons, seed=seed)
    service = compose(home, clock=clock)
    fixtures = dict(report.fixtures)
    fixtures["person_elsewhere"] = person_outside(service, fixtures["departement"])
    principals = create_demo_principals(service, fixtures)
    from strongroom.api.app import create_app

    client = TestClient(create_app(service), raise_server_exceptions=False)
    return Deployment(
        home=home,
        service=service,
        client=client,
        fixtures=fixtures,
        principals=principals,
        clock=clock,
    )


def person_outside(service: Service, departement: str) -> str:
    """A person of another département: test set-up reads the registry directly."""
    from sqlalchemy import select

    from strongroom.registry.models import Person

    with service.registry.session() as s:
        return s.execute(
            select(Person.public_id).where(Person.departement != departement).limit(1)
        ).scalar_one()


def sale_body(fixtures: dict[str, Any]) -> dict[str, str]:
    """The demo dealer's sale of its stock weapon to the demo owner (POST /v1/sales)."""
    return {
        "weapon_serial": fixtures["stock_serial"],
        "permit_number": fixtures["permit_number"],
        "family_name": fixtures["family_name"],
        "birth_date": fixtures["birth_date"],
    }


def searchable_people(service: Service, limit: int) -> list[tuple[str, str, str]]:
    """(public ID, family name, birth date) of up to `limit` real persons (no honey
    record), decrypted by the service's vault: what an exact search is made of."""
    from sqlalchemy import select

    from strongroom.registry.models import Identity, Person

    with service.engine.connect() as conn:
        rows = conn.execute(
            select(Person.public_id, Identity.family_name_ct, Identity.birth_date_ct)
            .join(Identity, Identity.person_id == Person.id)
            .order_by(Person.id)
            .limit(4 * limit)
        ).all()
    v = service.vault
    return [
        (
            pid,
            v.decrypt("identity", pid, "family_name", name) or "",
            v.decrypt("identity", pid, "birth_date", dob) or "",
        )
        for pid, name, dob in rows
        if not service.canaries.contains(pid)
    ][:limit]
