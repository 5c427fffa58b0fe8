"""A console worker killed between redeeming a session's refresh token and storing the
rotated tokens (issue 22), on the embedded SQLite files and on PostgreSQL.

The dying worker is a real process composed on the same home: the console's own refresh
path claims the session's lease and redeems the refresh token at the authorization
server, and the process is then killed (SIGKILL) where it would store the new tokens. The
surviving worker must send the user to a clean sign-in (a 303, never a 500), and nothing
the dead worker obtained may still work: its refresh token and access token are refused,
the session's row (its sealed DPoP key) is gone, and a new sign-in works."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from authlib.oauth2.rfc6749.errors import OAuth2Error

from strongroom.auth.store import refresh_tokens
from strongroom.auth.token_endpoint import token_request
from strongroom.console.sessions import REFRESH_LEASE_SECONDS, ProofKey, SessionStore
from strongroom.console.web import CLIENT_ID
from strongroom.errors import Unauthorized
from tests.console.console_testkit import ConsoleSetup, console_on
from tests.console.test_console_http import sign_in
from tests.console.test_console_shared_sessions import row_of, sid_of

# The worker that dies: the console's refresh, killed at the store of its new tokens. It
# prints what it redeemed (tokens and the session's key) so the test can try them after.
DYING_WORKER = """
import json, os, signal, sys
from strongroom.clock import FakeClock
from strongroom.compose import compose
from strongroom.config import Home
from strongroom.console.web import Console

home, sid, now = sys.argv[1], sys.argv[2], float(sys.argv[3])
svc = compose(Home(home), clock=FakeClock(now))
console = Console(svc)
session = console.store.get(sid)
assert session is not None and session.expires_at < now, "the session needs a refresh"

def die(session, tokens):
    print(json.dumps({"tokens": tokens, "key": session.key.pem()}), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

console.store.refreshed = die
console.fresh_token(session)
"""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleSetup]:
    with console_on(request.param, tmp_path_factory.mktemp("home")) as s:
        yield s


def test_a_worker_killed_mid_refresh_leaves_a_clean_sign_in_and_nothing_usable(
    setup: ConsoleSetup,
) -> None:
    svc, clock = setup.dep.service, setup.dep.clock
    http = sign_in(setup, setup.auditor)
    sid = sid_of(http)
    assert http.get("/console/journal").status_code == 200
    before = row_of(svc, sid)
    assert before is not None and before["version"] == 0
    clock.advance(400)  # past the 300 s access token, within the 15 min idle timeout

    dying = subprocess.run(
        [sys.executable, "-c", DYING_WORKER, str(setup.dep.home.path), sid, str(clock.now())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dying.returncode == -signal.SIGKILL, dying.stderr
    redeemed = json.loads(dying.stdout)
    tokens = redeemed["tokens"]
    assert tokens["access_token"] and tokens["refresh_token"]
    # What the dead worker left: the old tokens, its lease, the version unchanged.
    row = row_of(svc, sid)
    assert row is not None and row["version"] == 0
    assert row["refreshing_until"] == pytest.approx(clock.now() + REFRESH_LEASE_SECONDS)
    stored = SessionStore(svc.engine, svc.vault, svc.clock).get(sid)
    assert stored is not None and stored.refresh_token != tokens["refresh_token"]

    # The lease runs out; the next page claims the refresh, whose redemption is a reuse.
    clock.advance(REFRESH_LEASE_SECONDS + 1)
    svc.journal.flush()
    journaled = svc.journal.size()
    page = http.get("/console/journal", follow_redirects=False)
    assert page.status_code == 303, page.text
    assert page.headers["location"] == "/console/sign-in"
    assert row_of(svc, sid) is None  # the row, with the sealed DPoP key, is gone
    again = http.get("/console/alerts", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/console/sign-in"
    svc.journal.flush()
    events = [svc.journal.entry(i) for i in range(journaled, svc.journal.size())]
    assert any(e.get("reason") == "refresh_token_reuse" for e in events), events

    # Nothing the dead worker obtained works: every refresh token of the family is revoked,
    # the one it redeemed for included, and so is its access token.
    with svc.engine.connect() as conn:
        family = conn.execute(
            sa.select(refresh_tokens.c.family_id, refresh_tokens.c.revoked_at).where(
                refresh_tokens.c.principal_id == setup.auditor.principal,
                refresh_tokens.c.family_id
                == sa.select(refresh_tokens.c.family_id)
                .where(refresh_tokens.c.principal_id == setup.auditor.principal)
                .order_by(refresh_tokens.c.issued_at.desc())
                .limit(1)
                .scalar_subquery(),
            )
        ).all()
    assert len(family) == 2 and all(revoked is not None for _, revoked in family)
    key = ProofKey(clock, redeemed["key"])
    auth = svc.authorization_server
    with pytest.raises(OAuth2Error):
        token_request(
            auth,
            {
                "client_id": CLIENT_ID,
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
            },
            dpop=key.proof("POST", auth.token_endpoint),
            method="POST",
            url=auth.token_endpoint,
        )
    url = auth.public_url + "/console/journal"
    with pytest.raises(Unauthorized):
        svc.resource_server.authenticate(
            authorization=f"DPoP {tokens['access_token']}",
            dpop=key.proof("GET", url, access_token=tokens["access_token"]),
            method="GET",
            url=url,
            ip="127.0.0.1",
            user_agent=None,
        )

    # The user signs in again and works.
    fresh = sign_in(setup, setup.auditor)
    assert fresh.get("/console/journal").status_code == 200
    assert sid_of(fresh) != sid
