"""Revocations are checked against a copy re-read every REVOCATION_BOUND_SECONDS
(auth/revocation_snapshot.py): one made by this worker bites on the next request, one made
by another worker (its own SqlSessions on the same registry database) at the latest on the
first request after the bound. Over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

from strongroom.auth.revocation_snapshot import REVOCATION_BOUND_SECONDS
from strongroom.auth.sessions import SqlSessions
from tests.deployment import Deployment


def _reading_owner(dep: Deployment) -> tuple[str, dict[str, str]]:
    """An owner whose first read passes, and its headers."""
    owner = dep.fixtures["owner_id"]
    headers = dep.headers("owner", owner)
    assert dep.client.get("/v1/me", headers=headers).status_code == 200
    return owner, headers


def _reads_until_the_bound(dep: Deployment, headers: dict[str, str], since: float) -> list[int]:
    statuses = []
    while time.monotonic() - since < REVOCATION_BOUND_SECONDS:
        statuses.append(dep.client.get("/v1/me", headers=headers).status_code)
        time.sleep(REVOCATION_BOUND_SECONDS / 8)
    return statuses


def test_another_workers_principal_revocation_bites_within_the_bound(
    deployment: Deployment,
) -> None:
    owner, headers = _reading_owner(deployment)
    other_worker = SqlSessions(deployment.service.registry.engine, clock=deployment.clock)
    other_worker.revoke_principal(owner)
    revoked_at = time.monotonic()
    within = _reads_until_the_bound(deployment, headers, revoked_at)
    assert set(within) <= {200, 401}
    after = deployment.client.get("/v1/me", headers=headers)
    assert after.status_code == 401, after.text
    assert "invalid_token" in after.headers["WWW-Authenticate"]
    # and stays refused
    assert deployment.client.get("/v1/me", headers=headers).status_code == 401


def test_another_workers_token_revocation_bites_within_the_bound(deployment: Deployment) -> None:
    owner = deployment.fixtures["owner_id"]
    token = deployment.token("owner", owner)
    kept = deployment.headers("owner", owner)  # another token of the same owner
    headers = {"Authorization": f"Bearer {token}"}
    assert deployment.client.get("/v1/me", headers=headers).status_code == 200
    claims = deployment.service.resource_server.tokens.verify_access_token(token)
    other_worker = SqlSessions(deployment.service.registry.engine, clock=deployment.clock)
    other_worker.revoke_token(str(claims["jti"]), float(claims["exp"]))
    _reads_until_the_bound(deployment, headers, time.monotonic())
    assert deployment.client.get("/v1/me", headers=headers).status_code == 401
    assert deployment.client.get("/v1/me", headers=kept).status_code == 200


def test_this_workers_revocation_bites_on_the_next_request(deployment: Deployment) -> None:
    owner, headers = _reading_owner(deployment)
    deployment.service.sessions.revoke_principal(owner)
    assert deployment.client.get("/v1/me", headers=headers).status_code == 401
