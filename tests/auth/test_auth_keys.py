"""Signing key set: created once with mode 0600, rotated with old keys kept until their
tokens have expired, rotations seen by another instance."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from strongroom.auth.keys import SigningKeys, ensure_signing_keys
from strongroom.auth.rfc9068 import TokenService
from strongroom.clock import FakeClock


def test_created_on_first_use_with_private_mode(keys_dir: Path, clock: FakeClock) -> None:
    keys = SigningKeys(keys_dir, clock=clock)
    key = keys.active_key()
    path = keys_dir / "token_signing.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["active"] == key.kid
    assert doc["keys"][0]["kty"] == "OKP" and doc["keys"][0]["crv"] == "Ed25519"
    # A second instance reuses the same key rather than minting another.
    assert SigningKeys(keys_dir, clock=clock).active_key().kid == key.kid
    assert ensure_signing_keys(keys_dir, clock=clock).active_key().kid == key.kid


def test_public_jwks_has_no_private_members(keys_dir: Path, clock: FakeClock) -> None:
    jwks = SigningKeys(keys_dir, clock=clock).public_jwks()
    assert len(jwks["keys"]) == 1
    assert "d" not in jwks["keys"][0]


def test_rotation_keeps_old_key_until_its_tokens_expire(keys_dir: Path, clock: FakeClock) -> None:
    keys = SigningKeys(keys_dir, clock=clock, retention_seconds=600)
    svc = TokenService(keys, issuer="https://as", audience="api", clock=clock)
    old_token = svc.issue_access_token(subject="p1", role="police", scopes=["a"], lifetime=300)
    old_kid = keys.active_key().kid
    other_worker = SigningKeys(keys_dir, clock=clock)
    assert other_worker.active_key().kid == old_kid

    new_kid = keys.rotate()
    assert new_kid != old_kid
    assert other_worker.active_key().kid == new_kid  # rotation reaches other instances
    assert svc.verify_access_token(old_token)["sub"] == "p1"  # old key still verifies
    new_token = svc.issue_access_token(subject="p2", role="police", scopes=["a"])
    assert svc.verify_access_token(new_token)["sub"] == "p2"
    assert set(keys.kids()) == {old_kid, new_kid}

    clock.advance(601)
    keys.rotate()  # rewriting prunes keys past their retention
    assert old_kid not in keys.kids()
    assert new_kid in keys.kids()
