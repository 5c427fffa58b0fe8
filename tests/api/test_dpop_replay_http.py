"""A captured DPoP proof and its token replayed against the embedded deployment (no Redis),
over real HTTP to real `strongroom serve` processes on one home (issue 20): used once, then
sent again (a) to a second server process of the same home, as a load balancer in front
of two nodes would forward it, and (b) to the same home's server after a restart, inside
the proof's time window. Both replays are refused as replays; the first use is served.
On SQLite and PostgreSQL registries.

The proof names the address the client called (`htu`); the replay keeps that `Host`, as a
proxy forwarding the captured request does, so the only thing wrong with it is that it was
seen before."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from strongroom.clock import SYSTEM_CLOCK
from strongroom.compose import compose
from strongroom.config import Home
from strongroom.initialize import initialize
from tests.auth.auth_testkit import DPoPClient
from tests.served import served

PATH = "/v1/journal/checkpoint"


@pytest.fixture(params=["sqlite", "postgresql"])
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Home:
    h = Home(tmp_path / "home")
    registry_url = None if request.param == "sqlite" else request.getfixturevalue("pg_url")
    initialize(h, registry_url=registry_url)
    return h


@contextlib.contextmanager
def captured(home: Home) -> Iterator[tuple[str, DPoPClient]]:
    """An auditor's DPoP-bound token, and the client key it is bound to."""
    svc = compose(home)
    try:
        dpop = DPoPClient(SYSTEM_CLOCK)  # type: ignore[arg-type] - any clock with now()
        auditor = svc.admin.add_principal(role="auditor")
        yield svc.token_issuer.issue(role="auditor", subject=auditor, jkt=dpop.jkt), dpop
    finally:
        svc.close()


def send(url: str, token: str, proof: str, *, host: str) -> httpx.Response:
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof, "Host": host}
    return httpx.get(url + PATH, headers=headers, timeout=30)


def assert_replay_refused(r: httpx.Response) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert (problem["reason"], problem["detail"]) == ("invalid_dpop_proof", "DPoP proof replayed")
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith("DPoP ") and 'error="invalid_dpop_proof"' in challenge


def test_a_proof_replayed_to_another_server_of_the_home_is_refused(home: Home) -> None:
    with captured(home) as (token, dpop), served(home) as first, served(home) as second:
        host = urlsplit(first).netloc
        proof = dpop.proof("GET", first + PATH, access_token=token)
        assert send(first, token, proof, host=host).status_code == 200
        assert_replay_refused(send(second, token, proof, host=host))
        # The second server serves the same token with a fresh proof: only the replay failed.
        fresh = dpop.proof("GET", first + PATH, access_token=token)
        assert send(second, token, fresh, host=host).status_code == 200


def test_a_proof_replayed_after_a_restart_is_refused(home: Home) -> None:
    with captured(home) as (token, dpop):
        with served(home) as before:
            host = urlsplit(before).netloc
            proof = dpop.proof("GET", before + PATH, access_token=token)
            assert send(before, token, proof, host=host).status_code == 200
        with served(home) as after:  # stopped with SIGTERM, started again
            assert_replay_refused(send(after, token, proof, host=host))
            fresh = dpop.proof("GET", before + PATH, access_token=token)
            assert send(after, token, fresh, host=host).status_code == 200
