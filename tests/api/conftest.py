"""The API suite's deployments: one seeded stack per module and backend, fresh principals
per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import pg_database
from tests.deployment import Deployment, build_deployment


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """One contract, every backend: the whole API suite runs on the embedded SQLite files
    and on PostgreSQL (registry and journal each in their own database)."""
    if request.param == "sqlite":
        dep = build_deployment(tmp_path_factory.mktemp("home"))
        yield dep
    else:
        with pg_database() as registry_url, pg_database() as journal_url:
            dep = build_deployment(
                tmp_path_factory.mktemp("home"), registry_url=registry_url, journal_url=journal_url
            )
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
    principals = {
        role: stack.service.admin.add_principal(role=role, label=f"test {role}", **extra)
        for role, extra in wanted_principals(stack.fixtures).items()
    }
    return replace(stack, principals=principals)
