"""A scraper spread over two nodes, over real HTTP: two `strongroom serve` processes on one
home and one Redis (as two machines behind a load balancer would be), a police account
looking up weapon serials as fast as it can, its requests alternating between the nodes.
With the detection feed, it is stopped after as many lookups as one node lets through;
with each node judging alone (`share_detection = false`), it gets a third more. The budgets are
raised out of the way, so what stops it is detection."""

from __future__ import annotations

import re
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from strongroom.auth.rfc9068 import TokenService
from strongroom.cli.seeding import seed_home
from strongroom.compose import compose
from strongroom.config import Home
from strongroom.initialize import initialize
from strongroom.simulate.world import load_registry
from tests.served import served

LOOKUP = "/v1/weapons/lookup"
CEILING = 300


def _home(path: Path, redis_url: str, prefix: str, *, share: bool) -> tuple[Home, list[str]]:
    home = Home(path)
    initialize(home)
    seed_home(home, persons=500, seed=3)
    home.update_config(redis_url=redis_url, redis_prefix=prefix, share_detection=share)
    # Budgets far above what the scraper asks: detection is the defence measured here.
    policy = home.policy_path.read_text(encoding="utf-8")
    policy = re.sub(
        r"(\{name: (?:police|ip_|principal)\w*,[^}]*?limit: )\d+", r"\g<1>1000000", policy
    )
    home.policy_path.write_text(policy, encoding="utf-8")
    service = compose(home)
    try:
        serials = [s for p in load_registry(service, seed=3, sample=500).sample for s in p.serials]
    finally:
        service.close()
    return home, serials


def records_before_stopped(home: Home, serials: list[str], nodes: int = 2) -> int:
    """Weapons the scraper looked up before a node refused it, its requests alternating
    between two nodes."""
    service = compose(home)
    try:
        police = str(service.admin.add_principal(role="police", label="scraper"))
    finally:
        service.close()
    settings = home.settings()
    issuer = TokenService(home.keys_dir, issuer=settings.issuer, audience=settings.audience)
    token = issuer.issue_access_token(
        subject=police, role="police", scopes={"weapons:lookup"}, purpose="police_check"
    )
    headers = {"Authorization": f"Bearer {token}"}
    with ExitStack() as stack:
        urls = [
            stack.enter_context(served(home, log_path=home.path / f"node{i}.log")) for i in range(2)
        ]
        clients = [stack.enter_context(httpx.Client(base_url=u, timeout=30)) for u in urls]
        for n, serial in enumerate(serials[:CEILING]):
            r = clients[n % nodes].post(LOOKUP, json={"serial": serial}, headers=headers)
            if r.status_code != 200:
                assert r.status_code in (401, 403), r.text
                return n
    return CEILING


@pytest.mark.slow
def test_a_scraper_over_two_nodes_is_stopped_as_on_one(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    """One node and two sharing are each played twice, taking turns, and compared by their
    means: the detectors judge on the real clock, so one run's count moves with the
    machine's load (one node alone: 79 to 108 in single runs on a loaded machine)."""
    runs: dict[str, list[int]] = {"one": [], "shared": [], "apart": []}
    plays = [("one", True, 1), ("shared", True, 2)] * 2 + [("apart", False, 2)]
    for k, (name, share, nodes) in enumerate(plays):
        where = tmp_path / f"{name}-{k}"
        home, serials = _home(where, redis_url, f"{redis_prefix}{name}{k}:", share=share)
        runs[name].append(records_before_stopped(home, serials, nodes))
    one, shared, apart = (sum(runs[n]) / len(runs[n]) for n in ("one", "shared", "apart"))
    # Measured: one node 80-84, two sharing 81-85, two apart 109-113 (quiet machine).
    assert max(runs["one"]) < CEILING, runs
    assert shared <= one + 12, runs
    assert apart >= shared + 12, runs
