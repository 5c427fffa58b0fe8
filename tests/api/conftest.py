"""A small, real deployment for HTTP tests: a home folder in tmp, a seeded registry, one
principal per staff role, the ASGI app served through httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from strongroom.clock import FakeClock
from strongroom.config import Home
from strongroom.service import Service, initialize
from tests.conftest import pg_database


@dataclass
class Deployment:
    home: Home
    service: Service
    client: TestClient
    fixtures: dict[str, Any]
    principals: dict[str, str]
    clock: FakeClock

    def token(self, role: str, subject: str | None = None, **claims: Any) -> str:
        from strongroom.cli.demo import DEMO_CASE, DEMO_JUSTIFICATION

        subject = subject or self.principals[role]
        if role == "prefecture":
            # Case work names its case and says why, as the policy requires.
            claims.setdefault("case", DEMO_CASE)
            claims.setdefault("justification", DEMO_JUSTIFICATION)
        return self.service.issue_demo_token(role=role, subject=subject, **claims)

    def headers(self, role: str, subject: str | None = None, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, subject, **claims)}"}


def build_deployment(path: Path, *, persons: int = 300, registry_url: str | None = None,
                     journal_url: str | None = None) -> Deployment:
    from strongroom.cli.demo import create_demo_principals
    from strongroom.cli.seeding import seed_home

    home = Home(path)
    initialize(home, registry_url=registry_url, journal_url=journal_url)
    clock = FakeClock()
    report = seed_home(home, persons=persons, seed=7)
    service = Service(home, clock=clock)
    fixtures = dict(report.fixtures)
    fixtures["person_elsewhere"] = person_outside(service, fixtures["departement"])
    principals = create_demo_principals(service, fixtures)
    from strongroom.api.app import create_app

    client = TestClient(create_app(service), raise_server_exceptions=False)
    return Deployment(home=home, service=service, client=client, fixtures=fixtures,
                      principals=principals, clock=clock)


def person_outside(service: Service, departement: str) -> str:
    """A person of another département: test set-up reads the registry directly."""
    from sqlalchemy import select

    from strongroom.registry.models import Person

    with service.registry.session() as s:
        return s.execute(select(Person.public_id).where(Person.departement != departement)
                         .limit(1)).scalar_one()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One contract, every backend: the whole API suite runs on the embedded SQLite files
    and on PostgreSQL (registry and journal each in their own database)."""
    if request.param == "sqlite":
        dep = build_deployment(tmp_path_factory.mktemp("home"))
        yield dep
    else:
        with pg_database() as registry_url, pg_database() as journal_url:
            dep = build_deployment(tmp_path_factory.mktemp("home"),
                                   registry_url=registry_url, journal_url=journal_url)
            yield dep
            dep.client.close()
            dep.service.close()
        return
    dep.client.close()
    dep.service.close()


@pytest.fixture
def deployment(stack: Deployment) -> Deployment:
    """The module's seeded stack with fresh principals for each test, an hour later: the
    detectors and budgets judge each test's requests on their own, as a new person's."""
    from dataclasses import replace

    from strongroom.cli.demo import wanted_principals

    stack.clock.advance(3600)
    principals = {role: stack.service.add_principal(role=role, label=f"test {role}", **extra)
                  for role, extra in wanted_principals(stack.fixtures).items()}
    return replace(stack, principals=principals)
