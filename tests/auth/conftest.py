"""Fixtures for the auth tests: a fake clock, a token service on a temp keys folder, and a
DPoP client that signs proofs with joserfc (as a real client library would)."""

from __future__ import annotations

from pathlib import Path

import pytest
from auth_testkit import AUDIENCE, ISSUER, DPoPClient

from strongroom.auth.resource_server import InMemoryRevocations, ResourceServer
from strongroom.auth.rfc9068 import TokenService
from strongroom.auth.rfc9449_dpop import InMemoryReplayCache
from strongroom.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def tokens(keys_dir: Path, clock: FakeClock) -> TokenService:
    return TokenService(keys_dir, issuer=ISSUER, audience=AUDIENCE, clock=clock)


@pytest.fixture
def revocations(clock: FakeClock) -> InMemoryRevocations:
    return InMemoryRevocations(clock)


@pytest.fixture
def resource_server(tokens: TokenService, revocations: InMemoryRevocations,
                    clock: FakeClock) -> ResourceServer:
    return ResourceServer(tokens, revocations=revocations, clock=clock,
                          dpop_replay_cache=InMemoryReplayCache(clock))


@pytest.fixture
def dpop_client(clock: FakeClock) -> DPoPClient:
    return DPoPClient(clock)
