"""Console sessions shared by every worker and kept across restarts (issue 22): two services
composed on one home (two workers, as `strongroom serve --workers 2` runs them) over real
HTTP in process, on the embedded SQLite files and on PostgreSQL. A session opened by one is
honoured by the other and by a service composed after a restart; the table holds no token
or key in clear; a refresh raced by two workers redeems the refresh token once, and a
worker killed between redeeming it and storing the new one leaves a clean sign-in; the
journal's verification started on one is seen, and refused a second time, on the other."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from authlib.oauth2.rfc6749.errors import OAuth2Error
from fastapi.testclient import TestClient

from strongroom.api.app import create_app
from strongroom.auth.client_sessions import console_sessions, console_sign_ins
from strongroom.auth.store import digest, refresh_tokens
from strongroom.auth.token_endpoint import token_request
from strongroom.compose import Service, compose
from strongroom.console.sessions import REFRESH_LEASE_SECONDS, ProofKey, SessionStore
from strongroom.console.web import CLIENT_ID, SESSION_COOKIE
from strongroom.errors import Unauthorized
from strongroom.gate.verification_runs import STALE_SECONDS, VerificationRuns
from tests.console.console_testkit import ConsoleSetup, console_on, verification_status
from tests.console.test_console_http import sign_in


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleSetup]:
    with console_on(request.param, tmp_path_factory.mktemp("home")) as s:
        yield s


@pytest.fixture
def other(setup: ConsoleSetup) -> Iterator[Service]:
    """A second worker: its own service and app over the same home and databases."""
    svc = compose(setup.dep.home, clock=setup.dep.clock)
    yield svc
    svc.close()


def client_of(svc: Service, sid: str) -> TestClient:
    http = TestClient(create_app(svc), base_url=svc.authorization_server.public_url)
    http.cookies.set(SESSION_COOKIE, sid, path="/console")
    return http


def sid_of(http: TestClient) -> str:
    sid = http.cookies.get(SESSION_COOKIE)
    assert sid, "no console session cookie"
    return str(sid)


def csrf_in(html: str) -> str:
    return html.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def row_of(svc: Service, sid: str) -> dict[str, object] | None:
    t = console_sessions
    with svc.engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.sid_hash == digest(sid))).mappings().first()
    return None if row is None else dict(row)


def test_a_session_opened_by_one_worker_is_honoured_by_another(
    setup: ConsoleSetup, other: Service
) -> None:
    first = sign_in(setup, setup.admin)
    sid = sid_of(first)
    second = client_of(other, sid)
    page = second.get("/console/containments", follow_redirects=False)
    assert page.status_code == 200, page.text
    # A form rendered by one worker is accepted by the other: the same CSRF token.
    token = csrf_in(first.get("/console/containments").text)
    assert csrf_in(page.text) == token
    lift = second.post(
        f"/console/containments/{setup.containment}/lift",
        data={"csrf": token, "why": "x"},  # too short a reason: the gate's 400, not a 403
        follow_redirects=False,
    )
    assert lift.status_code == 400, lift.text
    # Signed out on the second worker: the first one no longer knows the session either.
    out = second.post("/console/sign-out", data={"csrf": token}, follow_redirects=False)
    assert out.status_code == 303, out.text
    assert row_of(other, sid) is None
    again = first.get("/console/containments", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/console/sign-in"


def test_a_restart_keeps_the_user_signed_in(setup: ConsoleSetup) -> None:
    before = compose(setup.dep.home, clock=setup.dep.clock)
    try:
        signed = sign_in_on(setup, before)
        sid = sid_of(signed)
        assert signed.get("/console/journal").status_code == 200
    finally:
        before.close()  # the server stops: nothing of the session is left in a process
    setup.dep.clock.advance(60)
    after = compose(setup.dep.home, clock=setup.dep.clock)
    try:
        page = client_of(after, sid).get("/console/journal", follow_redirects=False)
        assert page.status_code == 200, page.text
        assert setup.auditor.principal in page.text  # the session's own, from its row
    finally:
        after.close()


def sign_in_on(setup: ConsoleSetup, svc: Service) -> TestClient:
    """`sign_in` through another service's app (the same home)."""
    saved = setup.dep.service
    setup.dep.service = svc
    try:
        return sign_in(setup, setup.auditor)
    finally:
        setup.dep.service = saved


def test_the_table_holds_no_token_key_or_cookie_in_clear(setup: ConsoleSetup) -> None:
    http = sign_in(setup, setup.auditor)
    sid = sid_of(http)
    svc = setup.dep.service
    # What the session holds, opened through the vault as a worker opens it.
    session = SessionStore(svc.engine, svc.vault, svc.clock).get(sid)
    assert session is not None and session.refresh_token
    key = session.key.key.as_dict(private=True)
    secrets = {
        "access token": session.access_token,
        "refresh token": session.refresh_token,
        "DPoP key (PEM body)": session.key.pem().split("-----")[2].strip().split("\n")[0],
        "DPoP key (d)": str(key["d"]),
        "cookie": sid,
        "CSRF token": session.csrf,
    }
    row = row_of(svc, sid)
    assert row is not None
    assert row["sid_hash"] == digest(sid)
    stored = b"".join(
        v if isinstance(v, bytes) else str(v).encode() for v in row.values() if v is not None
    )
    for name, value in secrets.items():
        assert value.encode() not in stored, f"the {name} is stored in clear"
    # The sealed blob is bound to its row: moved to another session's row it does not open.
    other_http = sign_in(setup, setup.admin)
    other_sid = sid_of(other_http)
    t = console_sessions
    with svc.engine.begin() as conn:
        conn.execute(
            t.update().where(t.c.sid_hash == digest(other_sid)).values(sealed=row["sealed"])
        )
    moved = other_http.get("/console/containments", follow_redirects=False)
    assert moved.status_code == 303, moved.text
    assert row_of(svc, other_sid) is None
    # Sign-ins under way are sealed too: the PKCE verifier and key never appear in clear.
    start = TestClient(create_app(svc), base_url=svc.authorization_server.public_url).get(
        "/console/sign-in/start", follow_redirects=False
    )
    assert start.status_code == 303
    with svc.engine.connect() as conn:
        rows = conn.execute(sa.select(console_sign_ins)).mappings().all()
    assert rows and all(b"PRIVATE KEY" not in bytes(r["sealed"]) for r in rows)


def test_two_workers_refreshing_at_once_redeem_the_refresh_token_once(
    setup: ConsoleSetup, other: Service
) -> None:
    first = sign_in(setup, setup.auditor)
    sid = sid_of(first)
    second = client_of(other, sid)
    assert second.get("/console/journal").status_code == 200
    svc = setup.dep.service
    with svc.engine.connect() as conn:
        family = conn.execute(
            sa.select(refresh_tokens.c.family_id)
            .where(refresh_tokens.c.principal_id == setup.auditor.principal)
            .order_by(refresh_tokens.c.issued_at.desc())
            .limit(1)
        ).scalar_one()
    svc.journal.flush()
    journaled = svc.journal.size()
    setup.dep.clock.advance(400)  # past the 300 s access token, within the idle timeout
    start = threading.Barrier(2)
    answers: dict[str, int] = {}

    def view(name: str, http: TestClient) -> None:
        start.wait()
        answers[name] = http.get("/console/journal", follow_redirects=False).status_code

    threads = [
        threading.Thread(target=view, args=("first", first)),
        threading.Thread(target=view, args=("second", second)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert answers == {"first": 200, "second": 200}
    with svc.engine.connect() as conn:
        rows = (
            conn.execute(sa.select(refresh_tokens).where(refresh_tokens.c.family_id == family))
            .mappings()
            .all()
        )
    assert len(rows) == 2, rows  # the one redeemed and the one it rotated to
    assert sum(r["used_at"] is not None for r in rows) == 1
    assert all(r["revoked_at"] is None for r in rows)
    svc.journal.flush()
    reasons = [svc.journal.entry(i).get("reason") for i in range(journaled, svc.journal.size())]
    assert "refresh_token_reuse" not in reasons
    # Both workers go on with the rotated tokens.
    assert first.get("/console/journal").status_code == 200
    assert second.get("/console/journal").status_code == 200
    row = row_of(svc, sid)
    assert row is not None and row["version"] == 1 and row["refreshing_until"] is None


def test_the_verification_started_on_one_worker_shows_on_the_other(
    setup: ConsoleSetup, other: Service
) -> None:
    first = sign_in(setup, setup.auditor)
    second = client_of(other, sid_of(first))
    token = csrf_in(first.get("/console/journal").text)
    r = first.post("/console/journal/verify", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    status = verification_status(second)
    assert 'id="verify-ok"' in status, status
    assert setup.auditor.principal in status  # started by, as the other worker recorded it


def test_one_verification_at_a_time_across_workers(setup: ConsoleSetup, other: Service) -> None:
    """A run under way on a worker (its row, its heartbeat) refuses a second start on any
    other; once its worker stops beating, it counts as failed and a new one may start."""
    clock = setup.dep.clock
    runs = VerificationRuns(setup.dep.service.engine)
    assert runs.start("elsewhere", setup.auditor.principal, 10, clock.now())
    assert not VerificationRuns(other.engine).start("again", None, 10, clock.now())
    runs.progress("elsewhere", 4, 10, clock.now())
    second = client_of(other, sid_of(sign_in(setup, setup.auditor)))
    page = second.get("/console/journal/verification").text
    assert 'id="verify-count">4 / 10' in page, page
    token = csrf_in(second.get("/console/journal").text)
    refused = second.post("/console/journal/verify", data={"csrf": token}, follow_redirects=False)
    assert refused.status_code == 409, refused.text
    clock.advance(STALE_SECONDS + 1)  # the worker running it died: no heartbeat since
    assert "could not read the journal" in second.get("/console/journal/verification").text
    token = csrf_in(second.get("/console/journal").text)
    r = second.post("/console/journal/verify", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    status = verification_status(second)
    assert 'id="verify-ok"' in status, status


def test_migration_0010_builds_the_tables_the_stores_declare(setup: ConsoleSetup) -> None:
    """The home was created by `initialize` (Alembic to head): what migration 0010 built is
    what the stores' metadata declares, columns, types and indexes."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from strongroom.auth.client_sessions import metadata as console_metadata
    from strongroom.gate.verification_runs import metadata as runs_metadata

    with setup.dep.service.engine.connect() as conn:
        context = MigrationContext.configure(conn)
        assert int(context.get_current_revision() or 0) >= 10  # 0010 and any after it
        for metadata in (console_metadata, runs_metadata):
            ours = set(metadata.tables)
            diff = [
                d
                for d in compare_metadata(context, metadata)
                if not (d[0] == "remove_table" and d[1].name not in ours)
                and not (d[0] == "remove_index" and d[1].table.name not in ours)
            ]
            assert diff == [], diff


def test_idle_and_absolute_expiry_and_the_sweep(setup: ConsoleSetup) -> None:
    svc = setup.dep.service
    store = SessionStore(svc.engine, svc.vault, svc.clock)
    limits = store.rows.limits
    assert (limits.idle, limits.absolute) == (15 * 60, 8 * 3600)
    # Kept alive by a view every 14 minutes, a session still ends 8 hours after sign-in.
    t0 = 1_000_000.0
    store.rows.open("kept-alive", {"key": "k", "access_token": "a"}, t0 + 300, t0)
    now = t0
    while now + 14 * 60 < t0 + limits.absolute:
        now += 14 * 60
        assert store.rows.get("kept-alive", now) is not None, now - t0
    assert store.rows.get("kept-alive", t0 + limits.absolute) is None
    assert store.rows.read("kept-alive") is None  # deleted, not only refused
    # Left idle, a session's row is swept when any sign-in starts, unasked for.
    http = sign_in(setup, setup.auditor)
    sid = sid_of(http)
    assert row_of(svc, sid) is not None
    setup.dep.clock.advance(limits.idle + 1)
    start = TestClient(create_app(svc), base_url=svc.authorization_server.public_url).get(
        "/console/sign-in/start", follow_redirects=False
    )
    assert start.status_code == 303
    assert row_of(svc, sid) is None


def test_sign_ins_under_way_are_bounded_oldest_dropped_first(setup: ConsoleSetup) -> None:
    """Anyone may start a sign-in: past the bound the oldest rows go, not the table's size."""
    from dataclasses import replace

    from strongroom.auth.client_sessions import ClientSessions

    svc = setup.dep.service
    base = SessionStore(svc.engine, svc.vault, svc.clock).rows.limits
    rows = ClientSessions(svc.engine, svc.vault, replace(base, max_pending=3))
    now = svc.clock.now()
    with svc.engine.begin() as conn:
        conn.execute(console_sign_ins.delete())
    for n in range(5):
        rows.begin(f"flood-{n}", {"state": "s", "verifier": "v", "key": "k"}, "u", now + n)
    with svc.engine.connect() as conn:
        left = conn.execute(sa.select(console_sign_ins.c.pid_hash)).scalars().all()
    assert sorted(left) == sorted(digest(f"flood-{n}") for n in (2, 3, 4))
    assert rows.take_sign_in("flood-0", now + 5) is None
    assert rows.take_sign_in("flood-4", now + 5) is not None
    assert rows.take_sign_in("flood-4", now + 5) is None  # once


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
