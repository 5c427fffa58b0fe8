"""The attack of issue 20: spend a budget, wait for the server to restart, spend it again.
The embedded deployment keeps its budgets in the home (budgets/state_file.py), so the
restarted server refuses what the old one would have, after a clean stop or a crash."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from strongroom.cli.seeding import seed_home
from strongroom.compose import compose
from strongroom.config import Home
from strongroom.initialize import initialize
from strongroom.registry.models import Person
from tests.served import served

OWNER_HOUR = 60  # the shipped policy's owner_requests_hour


def _owner_home(tmp_path: Path) -> tuple[Home, str, str]:
    home = Home(tmp_path / "home")
    initialize(home)
    owner = seed_home(home, persons=60, seed=3).fixtures["owner_id"]
    svc = compose(home)
    try:
        token = svc.token_issuer.issue(role="owner", subject=owner, lifetime=3600)
    finally:
        svc.close()
    return home, token, owner


def _reads(url: str, token: str, n: int) -> list[int]:
    with httpx.Client(base_url=url, timeout=10) as c:
        h = {"Authorization": f"Bearer {token}"}
        return [c.get("/v1/me", headers=h).status_code for _ in range(n)]


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["clean", "crash"])
def test_a_spent_budget_stays_spent_across_a_restart(tmp_path: Path, stop: int) -> None:
    home, token, _ = _owner_home(tmp_path)
    with served(home, stop=stop) as url:
        first = _reads(url, token, OWNER_HOUR + 1)
        # The state file is written behind the decisions: a crash loses at most the last
        # flush interval, so the crash case waits past it.
        time.sleep(1.5)
    assert first[:OWNER_HOUR] == [200] * OWNER_HOUR
    assert first[OWNER_HOUR] == 429
    with served(home) as url:
        again = _reads(url, token, 5)
    assert again == [429] * 5, again


def test_budgets_restored_from_the_home_are_per_key(tmp_path: Path) -> None:
    """Another owner's budget is untouched by the first one's spending, after a restart."""
    home, token, owner = _owner_home(tmp_path)
    with served(home) as url:
        assert _reads(url, token, OWNER_HOUR + 1)[-1] == 429
    svc = compose(home)
    try:
        with svc.registry.session() as s:
            pids = list(s.execute(select(Person.public_id).limit(40)).scalars())
        other = next(p for p in pids if not svc.canaries.contains(p) and p != owner)
        other_token = svc.token_issuer.issue(role="owner", subject=other, lifetime=3600)
    finally:
        svc.close()
    with served(home) as url:
        assert _reads(url, other_token, 3) == [200, 200, 200]
        assert _reads(url, token, 1) == [429]
