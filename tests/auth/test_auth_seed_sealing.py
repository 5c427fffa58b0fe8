"""Seeds an earlier version left in plaintext are sealed when the service starts: after
one start the row holds no readable seed, and the account signs in with its old
authenticator over HTTP as before."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import sqlalchemy as sa
from fastapi.testclient import TestClient

from strongroom.api.app import create_app
from strongroom.clock import FakeClock
from strongroom.compose import compose
from strongroom.config import Home
from strongroom.initialize import initialize
from tests.auth.auth_testkit import push_authorization

REDIRECT = "http://127.0.0.1:8765/callback"
PASSWORD = "a long and boring passphrase"


def test_plaintext_seeds_are_sealed_at_start_and_still_work(tmp_path: Path, db_url: str) -> None:
    home = Home(tmp_path / "home")
    initialize(home, registry_url=db_url)
    clock = FakeClock()
    svc = compose(home, clock=clock)
    officer = svc.admin.add_principal(role="police", label="enrolled before sealing")
    svc.admin.set_password(officer, "officer", PASSWORD)
    svc.admin.register_client("console", public=True, redirect_uris=[REDIRECT])
    svc.close()

    # What an earlier version stored: the seeds as typed into the authenticator.
    secret, pending = pyotp.random_base32(), pyotp.random_base32()
    engine = sa.create_engine(home.settings().registry_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE auth_credentials SET totp_secret = :s, totp_pending = :p "
                "WHERE principal_id = :id"
            ),
            {"s": secret, "p": pending, "id": officer},
        )

    svc = compose(home, clock=clock)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT * FROM auth_credentials WHERE principal_id = :id"),
                {"id": officer},
            ).one()
        assert row.totp_secret is None and row.totp_pending is None
        assert row.totp_secret_ct and row.totp_pending_ct
        text = b"".join(bytes(c) if isinstance(c, bytes) else str(c).encode() for c in row)
        assert secret.encode() not in text and pending.encode() not in text
        assert svc.authorization_server.credentials.seal_plaintext_seeds() == 0  # done once

        http = TestClient(create_app(svc), raise_server_exceptions=False)
        clock.advance(30)
        uri, verifier = push_authorization(http)
        login = http.post(
            "/oauth/authorize",
            data={
                "client_id": "console",
                "request_uri": uri,
                "username": "officer",
                "password": PASSWORD,
                "otp": pyotp.TOTP(secret).at(int(clock.now())),
                "action": "login",
            },
            follow_redirects=False,
        )
        assert login.status_code == 303, login.text
        assert "code" in parse_qs(urlsplit(login.headers["location"]).query)
    finally:
        svc.close()
        engine.dispose()
