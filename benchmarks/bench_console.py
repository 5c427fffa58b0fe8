"""The security console's pages, server time, over a journal of N entries (default
1,000,000; --quick 20,000).

A home is initialized, its journal filled through the journal's own write path
(bench_journal.bulk_load: a month of police lookups at 4 a second, one entry in 200 a
harvester's), then served in process (the FastAPI app, TestClient: the time measured is
the server's, no network). An auditor and an administrator sign in through the console's
real OAuth flow (PAR, password + TOTP, code exchange with DPoP); each page is then asked
`--samples` times and its median and worst times recorded. Every view goes through the
gate and is journaled, as in production.

    python benchmarks/bench_console.py [--quick] [--entries N] [--samples K] [--page NAME]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
from bench_journal import HARVESTER, T0, bulk_load
from fastapi.testclient import TestClient
from results_dir import results_dir

from strongroom.api.app import create_app
from strongroom.clock import FakeClock
from strongroom.compose import compose
from strongroom.config import Home
from strongroom.initialize import initialize

RESULTS = results_dir() / "console.json"
PASSWORD = "a long and boring passphrase"


def sign_in(svc, http: TestClient, clock: FakeClock, username: str, secret: str) -> None:
    clock.advance(30)  # a fresh TOTP step
    start = http.get("/console/sign-in/start", follow_redirects=False)
    query = parse_qs(urlsplit(start.headers["location"]).query)
    login = http.post(
        "/oauth/authorize",
        data={
            "client_id": "console",
            "request_uri": unquote(query["request_uri"][0]),
            "username": username,
            "password": PASSWORD,
            "otp": pyotp.TOTP(secret).at(int(clock.now())),
            "action": "login",
        },
        follow_redirects=False,
    )
    back = urlsplit(login.headers["location"])
    done = http.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/console/", done.text


def account(svc, role: str, clock: FakeClock) -> tuple[str, str]:
    pid = svc.admin.add_principal(role=role, label=f"bench {role}")
    username = f"{role}-bench"
    svc.admin.set_password(pid, username, PASSWORD)
    uri = svc.authorization_server.credentials.begin_totp_enrollment(pid)
    secret = pyotp.parse_uri(uri).secret
    svc.authorization_server.credentials.confirm_totp_enrollment(
        pid, pyotp.TOTP(secret).at(int(clock.now()))
    )
    return username, secret


def timed(http: TestClient, clock: FakeClock, path: str, samples: int) -> dict:
    # A minute later: each page starts with a fresh per-minute request budget, as a
    # person reading pages would (an incident view is three journaled calls).
    clock.advance(61)
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        r = http.get(path)
        times.append(time.perf_counter() - t0)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
    # The first view is cold (the curves' bucket summaries are cached for the next); it
    # may include the refresh of the session's access token (every 4 or 5 pages).
    return {
        "first_ms": round(times[0] * 1000, 1),
        "median_ms": round(statistics.median(times[1:] or times) * 1000, 1),
        "max_ms": round(max(times) * 1000, 1),
        "samples": samples,
    }


def run(tmp: Path, entries: int, samples: int, only: set[str] | None = None) -> dict:
    home = Home(tmp / "home")
    initialize(home)
    journal_db = home.path / "journal.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{journal_db}{suffix}").unlink(missing_ok=True)
    t0 = time.perf_counter()
    bulk_load(journal_db, entries)
    load = time.perf_counter() - t0
    clock = FakeClock(T0 + entries * 0.25 + 60)  # a minute after the last entry
    svc = compose(home, clock=clock)
    try:
        auditor = account(svc, "auditor", clock)
        admin = account(svc, "admin", clock)
        base = svc.authorization_server.public_url
        svc.admin.register_client(
            "console", public=True, redirect_uris=[base + "/console/callback"]
        )
        app = create_app(svc)
        pages: dict = {}
        with TestClient(app, base_url=base) as http:
            sign_in(svc, http, clock, *auditor)
            size = svc.journal.size()
            for name, path in (
                ("journal", "/console/journal"),
                ("journal_inclusion_proof", f"/console/journal?entry={size // 2}"),
                ("alerts_24h", "/console/alerts"),
                ("curves_principal_hourly", f"/console/curves?principal={HARVESTER}"),
                ("curves_service_hourly", "/console/curves"),
                ("curves_principal_daily", f"/console/curves?principal={HARVESTER}&bucket=day"),
                ("curves_service_daily", "/console/curves?bucket=day"),
                ("incident_harvester", f"/console/incidents/{HARVESTER}"),
                ("investigate_principal", f"/console/investigations?principal={HARVESTER}"),
                (
                    "investigate_principal_full_report",
                    f"/console/investigations?principal={HARVESTER}&full=1",
                ),
            ):
                if only and name not in only:
                    continue
                pages[name] = timed(http, clock, path, samples)
                print(name, pages[name], flush=True)
        with TestClient(app, base_url=base) as http:
            sign_in(svc, http, clock, *admin)
            for name, path in (
                ("containments", "/console/containments"),
                ("principals", "/console/principals"),
                ("reviews_exports", "/console/reviews"),
            ):
                if only and name not in only:
                    continue
                pages[name] = timed(http, clock, path, samples)
                print(name, pages[name], flush=True)
        alerts = svc.audit.activity.alerts(clock.now() - 86400)
        return {
            "entries": entries,
            "bulk_load_seconds": round(load, 1),
            "alerts_scan": {"scanned": alerts.scanned, "truncated": alerts.truncated},
            "pages": pages,
        }
    finally:
        svc.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument(
        "--page", action="append", metavar="NAME", help="ask only this page (repeatable)"
    )
    args = ap.parse_args()
    if args.quick:
        args.entries, args.samples = 20_000, 3
    with tempfile.TemporaryDirectory(prefix="bench_console_") as d:
        out = run(Path(d), args.entries, args.samples, set(args.page or ()))
    out.update(
        {
            "backend": "sqlite (embedded home), in-process TestClient",
            "quick": args.quick,
            "note": "alerts and curves read the journal's indexes (journal_alerts, "
            "journal_activity, journal_activity_daily: journal/activity.py), filled by "
            "bulk_load through store.index_known as the writer fills them; the incident "
            "and investigation pages show one page of the principal's timeline "
            "(journal_principals), the full report reads each of the principal's "
            "entries; the other pages seek through indexes",
        }
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
