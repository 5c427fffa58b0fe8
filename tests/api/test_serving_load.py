"""One `strongroom serve` worker under 200 concurrent connections, over real HTTP: every
answer is 200, 429 or 503 (never a hang, never a 500), and the journal holds every
disclosure and accounts for every refusal."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from strongroom.auth.rfc9068 import TokenService
from strongroom.cli.seeding import seed_home
from strongroom.compose import compose
from strongroom.config import Home
from strongroom.initialize import initialize
from tests.served import journal_entries, served

CONNECTIONS = 200
READS_EACH = 3


def owners(home: Home, n: int) -> list[str]:
    """n owners' subject IDs, honey records left out (an owner never reads one)."""
    from sqlalchemy import select

    from strongroom.registry.models import Person

    svc = compose(home)
    try:
        with svc.registry.session() as s:
            ids = s.execute(select(Person.public_id)).scalars().all()
        return [i for i in ids if not svc.canaries.contains(i)][:n]
    finally:
        svc.close()


async def hammer(url: str, tokens: list[str]) -> list[tuple[int, float]]:
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def one(token: str) -> list[tuple[int, float]]:
            out = []
            for _ in range(READS_EACH):
                started = time.perf_counter()
                r = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
                out.append((r.status_code, time.perf_counter() - started))
                if r.status_code >= 500:
                    assert r.headers["content-type"].startswith("application/problem+json")
                    assert r.headers.get("retry-after") == "1"
            return out

        results = await asyncio.gather(*(one(t) for t in tokens))
    return [x for r in results for x in r]


@pytest.mark.slow
def test_two_hundred_connections_against_one_worker(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    initialize(home)
    seed_home(home, persons=CONNECTIONS + 60, seed=11)
    # A small worker: 8 requests at once, 16 waiting at most half a second.
    text = home.config_path.read_text(encoding="utf-8")
    text = (
        text.replace("max_inflight = 32", "max_inflight = 8")
        .replace("max_queued = 480", "max_queued = 16")
        .replace("queue_wait_seconds = 5.0", "queue_wait_seconds = 0.5")
    )
    home.config_path.write_text(text, encoding="utf-8")
    settings = home.settings()
    assert (settings.max_inflight, settings.max_queued) == (8, 16)
    tokens_svc = TokenService(home.keys_dir, issuer=settings.issuer, audience=settings.audience)
    tokens = [
        tokens_svc.issue_access_token(
            subject=pid, role="owner", scopes=frozenset({"me:read"}), purpose="self_service"
        )
        for pid in owners(home, CONNECTIONS)
    ]
    assert len(tokens) == CONNECTIONS

    with served(home) as url:
        answers = asyncio.run(hammer(url, tokens))

    statuses = [s for s, _ in answers]
    assert len(statuses) == CONNECTIONS * READS_EACH
    assert set(statuses) <= {200, 429, 503}, sorted(set(statuses))
    assert statuses.count(200) > 0
    assert max(t for _, t in answers) < 20  # answered, not left to time out

    entries = journal_entries(settings)
    me = [e for e in entries if e.get("endpoint") == "GET /v1/me"]
    disclosed = [e for e in me if e["outcome"] == "allowed"]
    assert len(disclosed) == statuses.count(200)
    assert all(e["records"] == 1 and len(e["subjects"]) == 1 for e in disclosed)
    refused = sum(1 for e in me if e["outcome"] == "refused")
    tallied = sum(
        c["count"]
        for e in entries
        if e.get("reason") == "refusals_tallied"
        for c in e["detail"]["counts"]
        if c["endpoint"] == "GET /v1/me"
    )
    assert refused + tallied == statuses.count(429) + statuses.count(503)
