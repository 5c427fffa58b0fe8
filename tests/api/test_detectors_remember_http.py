"""The attack of issue 20 on detection: spread an enumeration over a restart. The engine
rebuilds what it remembers from the journal when the service is composed again
(DetectionEngine.replay), so the sweep is judged as one, as without the restart."""

from __future__ import annotations

import contextlib
from pathlib import Path

from fastapi.testclient import TestClient

from strongroom.api.app import create_app
from strongroom.clock import FakeClock
from strongroom.compose import compose
from strongroom.errors import Conflict
from tests.deployment import build_deployment

ENUMERATION_MIN = 20  # the shipped policy's enumeration.min_lookups


def _misses(
    client: TestClient, headers: dict[str, str], clock: FakeClock, n: int, at: int
) -> list[int]:
    """`n` searches for names nobody has, five seconds apart: what a sweep looks like."""
    statuses = []
    for i in range(at, at + n):
        clock.advance(5)
        r = client.post(
            "/v1/persons/search",
            json={"family_name": f"Nobody{i:04d}x", "birth_date": "1970-01-01"},
            headers=headers,
        )
        statuses.append(r.status_code)
    return statuses


def test_a_sweep_split_by_a_restart_is_seen_whole(tmp_path: Path) -> None:
    clock = FakeClock()
    dep = build_deployment(tmp_path / "home", persons=200, clock=clock)
    police = dep.principals["police"]
    first = ENUMERATION_MIN // 2 + 2
    assert _misses(dep.client, dep.headers("police"), clock, first, 0) == [200] * first
    dep.service.close()

    svc = compose(dep.home, clock=clock, remember=True)  # a server's restart
    try:
        client = TestClient(create_app(svc), raise_server_exceptions=False)
        token = svc.token_issuer.issue(role="police", subject=police)
        rest = ENUMERATION_MIN + 1 - first
        statuses = _misses(client, {"Authorization": f"Bearer {token}"}, clock, rest + 2, 100)
        # The lookup past the minimum is judged with the ones before the restart: the
        # account must step up from the next request on. A fresh engine would have seen
        # only `rest` lookups, below the minimum, and answered 200 throughout.
        assert statuses[:rest] == [200] * rest
        assert statuses[rest:] == [401, 401], statuses
        assert svc.detector.risk(police) > 0
    finally:
        svc.close()


def test_a_lifted_containment_stays_forgiven_after_a_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    dep = build_deployment(tmp_path / "home", persons=200, clock=clock)
    police = dep.principals["police"]
    statuses = _misses(dep.client, dep.headers("police"), clock, ENUMERATION_MIN + 2, 0)
    assert statuses[-1] == 401
    held = {c.id for c in dep.service.detector.list_containments(include_lifted=False)}
    for cid in held:
        with contextlib.suppress(Conflict):  # lifting one may end its siblings
            dep.service.detector.lift(cid, by="test", why="checked with the officer")
    assert dep.service.detector.risk(police) == 0
    dep.service.close()

    svc = compose(dep.home, clock=clock, remember=True)
    try:
        assert svc.detector.risk(police) == 0
    finally:
        svc.close()
