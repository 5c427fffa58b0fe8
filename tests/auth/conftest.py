"""Fixtures for the auth tests: a fake clock, a token service on a temp keys folder, and a
DPoP client that signs proofs with joserfc (as a real client library would)."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest
from argon2 import PasswordHasher
from auth_testkit import AUDIENCE, ISSUER, PASSWORD, REDIRECT, DPoPClient, totp_now
from fastapi import FastAPI
from fastapi.testclient import TestClient

from strongroom.api.oauth_routes import make_oauth_router
from strongroom.auth.clients import PrincipalInfo
from strongroom.auth.login import Credentials
from strongroom.auth.resource_server import InMemoryRevocations, ResourceServer
from strongroom.auth.rfc9068 import TokenService
from strongroom.auth.rfc9449_dpop import InMemoryReplayCache
from strongroom.auth.role_grants import load_role_grant
from strongroom.auth.server import AuthorizationServer
from strongroom.auth.store import make_auth_engine, metadata
from strongroom.clock import FakeClock
from strongroom.vault import FileKeyProvider, MemoryWrappedKeyStore, Vault


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
def resource_server(
    tokens: TokenService, revocations: InMemoryRevocations, clock: FakeClock
) -> ResourceServer:
    return ResourceServer(
        tokens, revocations=revocations, clock=clock, dpop_replay_cache=InMemoryReplayCache(clock)
    )


@pytest.fixture
def dpop_client(clock: FakeClock) -> DPoPClient:
    return DPoPClient(clock)


@pytest.fixture
def auth_db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'auth.db'}"


@pytest.fixture
def security_events() -> list[dict]:
    return []


@pytest.fixture
def principals() -> dict[str, PrincipalInfo]:
    return {
        "p-alice": PrincipalInfo("p-alice", "police"),
        "p-owner": PrincipalInfo("p-owner", "owner"),
        "p-svc": PrincipalInfo("p-svc", "auditor"),
    }


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    return Vault(FileKeyProvider.create(tmp_path / "vault_keys"), MemoryWrappedKeyStore())


@pytest.fixture
def auth_server(
    auth_db: str,
    tokens: TokenService,
    clock: FakeClock,
    principals: dict[str, PrincipalInfo],
    security_events: list[dict],
    vault: Vault,
) -> AuthorizationServer:
    engine = make_auth_engine(auth_db)
    metadata.create_all(engine)
    creds = Credentials(
        engine,
        vault=vault,
        clock=clock,
        hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )
    server = AuthorizationServer(
        engine=engine,
        tokens=tokens,
        principals=principals.get,
        clock=clock,
        credentials=creds,
        role_grants=load_role_grant,
        on_security_event=security_events.append,
    )
    server.clients.register("cli", public=True, redirect_uris=[REDIRECT])
    yield server
    engine.dispose()


@pytest.fixture
def http(auth_server: AuthorizationServer) -> TestClient:
    app = FastAPI()
    app.include_router(make_oauth_router(auth_server))
    return TestClient(app, base_url=ISSUER, follow_redirects=False)


@pytest.fixture
def alice_totp(auth_server: AuthorizationServer, clock: FakeClock) -> str:
    """Alice (police) with a password and an enrolled authenticator; returns its seed."""
    auth_server.credentials.set_password("p-alice", "alice", PASSWORD)
    uri = auth_server.credentials.begin_totp_enrollment("p-alice")
    secret = pyotp.parse_uri(uri).secret
    auth_server.credentials.confirm_totp_enrollment("p-alice", totp_now(secret, clock))
    clock.advance(30)  # the enrollment code's time step is spent
    return secret
