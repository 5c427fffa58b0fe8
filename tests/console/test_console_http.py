"""The console over HTTP in process (TestClient, real storage): the OAuth sign-in as a
client of the embedded authorization server, the security headers, CSRF refusals, and
pages decided by the policy and journaled through the pipeline."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from strongroom.api.app import create_app
from strongroom.journal import engines
from tests.console.console_testkit import (
    PASSWORD,
    Account,
    ConsoleSetup,
    console_on,
    link_waiting,
    verification_status,
)
from tests.journal.helpers import event


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleSetup]:
    """The embedded SQLite files, and PostgreSQL (registry and journal each in their own
    database), as the API suite runs."""
    with console_on(request.param, tmp_path_factory.mktemp("home")) as s:
        yield s


def browser(s: ConsoleSetup) -> TestClient:
    base = s.dep.service.authorization_server.public_url
    return TestClient(create_app(s.dep.service), base_url=base)


def sign_in(s: ConsoleSetup, account: Account, purpose: str | None = None) -> TestClient:
    http = browser(s)
    query = f"?purpose={purpose}" if purpose else ""
    start = http.get(f"/console/sign-in/start{query}", follow_redirects=False)
    assert start.status_code == 303, start.text
    form_url = start.headers["location"]
    assert form_url.startswith("/oauth/authorize?client_id=console&request_uri=")
    page = http.get(form_url)
    assert page.status_code == 200
    s.dep.clock.advance(30)  # a fresh TOTP step for each sign-in
    request_uri = dict(p.split("=", 1) for p in urlsplit(form_url).query.split("&"))
    from urllib.parse import unquote

    login = http.post(
        "/oauth/authorize",
        data={
            "client_id": "console",
            "request_uri": unquote(request_uri["request_uri"]),
            "username": account.username,
            "password": PASSWORD,
            "otp": account.code(s.dep.clock.now()),
            "action": "login",
        },
        follow_redirects=False,
    )
    assert login.status_code == 303, login.text
    back = urlsplit(login.headers["location"])
    assert back.path == "/console/callback"
    done = http.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/console/"
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    return http


def test_pages_need_a_session_and_carry_strict_headers(setup: ConsoleSetup) -> None:
    http = browser(setup)
    r = http.get("/console/containments", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/sign-in"
    page = http.get("/console/sign-in")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text  # no inline script, only src='self'
    js = http.get("/console/static/console.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert http.get("/console/static/..%2Fweb.py").status_code == 404


def test_admin_lifts_a_containment_with_a_reason_through_the_gate(setup: ConsoleSetup) -> None:
    http = sign_in(setup, setup.admin)
    page = http.get("/console/containments")
    assert page.status_code == 200, page.text
    assert setup.containment in page.text
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    journal = setup.dep.service.journal
    journal.flush()
    before = journal.size()
    lifted = http.post(
        f"/console/containments/{setup.containment}/lift",
        data={"csrf": csrf, "why": "false positive: a training exercise"},
        follow_redirects=False,
    )
    assert lifted.status_code == 303, lifted.text
    journal.flush()
    entries = [journal.entry(i) for i in range(before, journal.size())]
    lifts = [e for e in entries if e["endpoint"] == "POST /v1/containments/{id}/lift"]
    assert lifts and lifts[-1]["principal"] == setup.admin.principal
    assert lifts[-1]["outcome"] == "allowed", lifts[-1]
    after = http.get("/console/containments").text
    assert "false positive: a training exercise" in after


def test_forms_without_the_session_csrf_token_are_refused(setup: ConsoleSetup) -> None:
    http = sign_in(setup, setup.admin)
    for data in ({"why": "no token at all"}, {"why": "a forged token", "csrf": "x" * 43}):
        r = http.post(
            f"/console/containments/{setup.containment}/lift", data=data, follow_redirects=False
        )
        assert r.status_code == 403, r.text
    assert http.post("/console/sign-out", data={}, follow_redirects=False).status_code == 403


def test_the_policy_decides_each_page(setup: ConsoleSetup) -> None:
    auditor = sign_in(setup, setup.auditor)
    home = auditor.get("/console/")
    assert "Journal" in home.text and "Containments" not in home.text
    refused = auditor.get("/console/containments")
    assert refused.status_code == 403
    journal = auditor.get("/console/journal?entry=0")
    assert journal.status_code == 200 and 'id="proof"' in journal.text
    journal = setup.dep.service.journal
    journal.flush()
    # The page's three use cases, each journaled under its endpoint for this auditor.
    recent = [journal.entry(i) for i in range(journal.size() - 3, journal.size())]
    assert [e["endpoint"] for e in recent] == [
        "GET /v1/journal/checkpoint",
        "GET /v1/journal/proof/inclusion",
        "GET /v1/journal/verification",
    ]
    assert {e["principal"] for e in recent} == {setup.auditor.principal}


def test_breach_report_page_and_download(setup: ConsoleSetup) -> None:
    auditor = sign_in(setup, setup.auditor)
    q = f"principals={setup.contained}"
    page = auditor.get(f"/console/investigations/breach?{q}")
    assert page.status_code == 200, page.text
    md = auditor.get(f"/console/investigations/breach.md?{q}")
    assert md.status_code == 200
    assert md.headers["content-disposition"].startswith("attachment")
    assert md.text.startswith("# Personal data breach: scope (GDPR Art. 33)")
    assert setup.contained in md.text


def test_breach_report_as_pdf(setup: ConsoleSetup) -> None:
    auditor = sign_in(setup, setup.auditor)
    r = auditor.get(f"/console/investigations/breach.pdf?principals={setup.contained}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == 'attachment; filename="breach-report.pdf"'
    pdf = r.content
    assert pdf.startswith(b"%PDF-1.4") and pdf.endswith(b"%%EOF\n")
    # The cross-reference table points at each object, and startxref at the table.
    xref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert pdf[xref:].startswith(b"xref\n")
    offsets = [int(m) for m in re.findall(rb"(\d{10}) 00000 n ", pdf[xref:])]
    for n, offset in enumerate(offsets, 1):
        assert pdf[offset:].startswith(b"%d 0 obj" % n)
    # The text as the Markdown has it (one string per line, uncompressed).
    assert b"(# Personal data breach: scope \\(GDPR Art. 33\\))" in pdf
    assert setup.contained.encode() in pdf


def test_signing_out_ends_the_session(setup: ConsoleSetup) -> None:
    http = sign_in(setup, setup.auditor)
    page = http.get("/console/journal")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    out = http.post("/console/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert http.get("/console/journal", follow_redirects=False).status_code == 303


def test_admin_approves_an_export_under_four_eyes(setup: ConsoleSetup) -> None:
    http = sign_in(setup, setup.admin)
    page = http.get("/console/reviews")
    assert page.status_code == 200, page.text
    assert setup.export in page.text, page.text
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    r = http.post(
        f"/console/reviews/exports/{setup.export}",
        data={"csrf": csrf, "decision": "approve", "note": "checked the case file"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    approved = http.get("/console/reviews?status=approved").text
    assert setup.export in approved and "checked the case file" in approved


def shown_entries(html: str) -> tuple[int, list[int]]:
    """The window's count and the entry indexes of a principal's timeline section."""
    section = html.split('id="principal-timeline"', 1)[1].split("</section>", 1)[0]
    count = re.search(
        r"(?:<span id=\"principal-entries\">)?(\d+)(?:</span>)? entries in the", section
    )
    assert count is not None, section
    return int(count.group(1)), [int(i) for i in re.findall(r"<tr><td>(\d+)</td>", section)]


def test_principal_investigation_pages_its_entries_and_keeps_the_full_report(
    setup: ConsoleSetup,
) -> None:
    """The investigation page: the window's count and the principal's entries newest
    first, as a scan of every entry of the log finds them; an older page from `before`;
    the full report, on the page and downloaded, the one the API answers."""
    auditor = sign_in(setup, setup.auditor)
    who = setup.contained
    service = setup.dep.service
    page = auditor.get(f"/console/investigations?principal={who}")
    assert page.status_code == 200, page.text
    assert 'id="principal-report"' not in page.text  # the full report is a link away
    journal = service.journal
    journal.flush()
    scan = [i for i in reversed(range(journal.size())) if journal.entry(i)["principal"] == who]
    assert len(scan) >= 2
    assert shown_entries(page.text) == (len(scan), scan)
    older = auditor.get(f"/console/investigations?principal={who}&before={scan[0]}")
    assert shown_entries(older.text) == (len(scan), scan[1:])
    # A window that ends before the first entry holds none.
    empty = auditor.get(f"/console/investigations?principal={who}&until=2001-01-01T00:00")
    assert shown_entries(empty.text) == (0, [])
    report = service.audit.investigator.principal_report(who)
    assert report["entries"] == len(scan)
    full = auditor.get(f"/console/investigations?principal={who}&full=1")
    assert full.status_code == 200, full.text
    assert 'id="principal-report"' in full.text and f"{report['entries']} entries" in full.text
    assert 'id="principal-timeline"' not in full.text
    download = auditor.get(f"/console/investigations/principal.json?principal={who}")
    assert download.status_code == 200, download.text
    assert download.headers["content-disposition"].startswith("attachment")
    assert json.loads(download.text) == report
    assert auditor.get("/console/investigations/principal.json").status_code == 400
    bad = auditor.get(f"/console/investigations?principal={who}&since=yesterday")
    assert bad.status_code == 400 and "since is an ISO 8601" in bad.text


def test_timeline_pages_wait_for_an_entry_appended_just_before(setup: ConsoleSetup) -> None:
    """The incident's timeline and the investigation page flush the journal first: a
    refusal appended without waiting while the journal's writer is held up (another
    writer's lock) shows on the page asked right after, once the writer commits it."""
    auditor = sign_in(setup, setup.auditor)
    journal = setup.dep.service.journal
    for path in ("/console/incidents/{}", "/console/investigations?principal={}"):
        late = f"p-late-{uuid.uuid4().hex[:8]}"
        held = threading.Event()

        def hold(held: threading.Event) -> None:
            with engines.writing(journal.engine):
                held.set()
                time.sleep(0.5)

        holder = threading.Thread(target=hold, args=(held,))
        holder.start()
        held.wait()
        journal.append_unwaited(
            event(0, principal=late, outcome="refused", ts=setup.dep.clock.now(), records=0)
        )
        page = auditor.get(path.format(late))
        holder.join()
        assert page.status_code == 200, page.text
        count, shown = shown_entries(page.text)
        assert count == 1 and len(shown) == 1, path


def test_alerts_page_lists_the_detector_decision_and_opens_the_incident(
    setup: ConsoleSetup,
) -> None:
    auditor = sign_in(setup, setup.auditor)
    page = auditor.get("/console/alerts")
    assert page.status_code == 200, page.text
    assert setup.contained in page.text and "critical" in page.text
    assert 'data-poll="/console/alerts/rows?' in page.text
    rows = auditor.get("/console/alerts/rows?family=velocity")
    assert rows.status_code == 200 and setup.contained in rows.text
    assert setup.contained not in auditor.get("/console/alerts/rows?family=honey").text
    assert setup.contained not in auditor.get("/console/alerts/rows?role=dealer").text
    incident = auditor.get(f"/console/incidents/{setup.contained}")
    assert incident.status_code == 200, incident.text
    assert setup.containment in incident.text and 'id="principal-timeline"' in incident.text
    assert 'id="incident-containments"' not in incident.text  # not the auditor's to see
    # The newest entries first: the officer's two weapon lookups, the last one revealing
    # a weapon record.
    timeline = incident.text.split('id="principal-timeline"', 1)[1]
    assert timeline.count("POST /v1/weapons/lookup") == 2 and "weapon" in timeline
    assert f"/console/investigations?principal={setup.contained}" in timeline
    assert 'id="older"' not in timeline  # one page holds them all
    journal = setup.dep.service.journal
    journal.flush()
    last = journal.entry(journal.size() - 1)
    assert last["endpoint"] == "GET /v1/investigations/principals/{id}"
    # The administrator's view: the containment's state, no timeline (not its policy).
    admin = sign_in(setup, setup.admin)
    seen = admin.get(f"/console/incidents/{setup.contained}")
    assert seen.status_code == 200, seen.text
    assert 'id="incident-containments"' in seen.text and setup.containment in seen.text
    assert 'id="principal-timeline"' not in seen.text
    bad = auditor.get(f"/console/incidents/{setup.contained}?before=soon")
    assert bad.status_code == 400 and "before is a number" in bad.text


def test_curves_page_draws_inline_svg_against_peers(setup: ConsoleSetup) -> None:
    admin = sign_in(setup, setup.admin)
    page = admin.get(f"/console/curves?principal={setup.contained}")
    assert page.status_code == 200, page.text
    assert page.text.count("<svg") == 2 and 'class="peer"' in page.text
    day = admin.get("/console/curves?role=police&bucket=day")
    assert day.status_code == 200 and day.text.count('class="bar"') == 2 * 14


def test_principals_page_suspends_and_ends_sessions(setup: ConsoleSetup) -> None:
    admin = sign_in(setup, setup.admin)
    page = admin.get("/console/principals")
    assert page.status_code == 200, page.text
    assert setup.admin.principal in page.text and "console" in page.text  # its own session
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    dealer = setup.dep.principals["dealer"]
    r = admin.post(
        f"/console/principals/{dealer}/suspend",
        data={"csrf": csrf, "why": "left the company"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    row = admin.get("/console/principals").text.split(f'data-id="{dealer}"', 1)[1]
    assert '<td class="status">suspended</td>' in row.split("</tr>", 1)[0]
    # The auditor's own session ended by the administrator: its next page asks to sign in.
    auditor = sign_in(setup, setup.auditor)
    sessions = setup.dep.service.sessions.open_sessions()
    theirs = [s for s in sessions if s["principal"] == setup.auditor.principal]
    assert theirs
    for s in theirs:
        r = admin.post(
            f"/console/sessions/{s['session']}/end",
            data={"csrf": csrf, "why": "laptop left unlocked"},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
    assert auditor.get("/console/journal", follow_redirects=False).status_code == 303


def test_journal_verification_runs_in_the_background_with_its_progress(
    setup: ConsoleSetup,
) -> None:
    auditor = sign_in(setup, setup.auditor)
    page = auditor.get("/console/journal")
    assert page.status_code == 200, page.text
    assert 'id="witness"' in page.text and "no witness has cosigned it" in page.text
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    r = auditor.post("/console/journal/verify", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text
    status = verification_status(auditor)
    assert 'id="verify-ok"' in status, status
    journal = setup.dep.service.journal
    journal.flush()
    reasons = [journal.entry(i).get("reason") for i in range(journal.size() - 5, journal.size())]
    assert "journal_verified" in reasons


def test_auditor_decides_a_break_glass_review(setup: ConsoleSetup) -> None:
    auditor = sign_in(setup, setup.auditor)
    page = auditor.get("/console/reviews")
    assert page.status_code == 200, page.text
    assert 'id="break-glass"' in page.text and 'id="exports"' not in page.text
    review = page.text.split('action="/console/reviews/break-glass/', 1)[1].split('"', 1)[0]
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    r = auditor.post(
        f"/console/reviews/break-glass/{review}",
        data={"csrf": csrf, "decision": "approved", "note": "suspension file checked"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    approved = auditor.get("/console/reviews?status=approved").text
    assert review in approved and "suspension file checked" in approved
    again = auditor.post(
        f"/console/reviews/break-glass/{review}",
        data={"csrf": csrf, "decision": "rejected", "note": "changed my mind"},
        follow_redirects=False,
    )
    assert again.status_code == 409


def test_no_page_shows_a_pii_value(setup: ConsoleSetup) -> None:
    """The police officer read the owner's weapon (set-up): every page about it shows the
    pseudonymous IDs and categories, never the name, permit number or serial."""
    f = setup.dep.fixtures
    values = [f["family_name"], f["permit_number"], f["weapon_serial"], f["birth_date"]]
    police, owner = setup.contained, f["owner_id"]
    auditor, admin = sign_in(setup, setup.auditor), sign_in(setup, setup.admin)
    pages = {
        auditor: [
            "/console/",
            "/console/alerts",
            f"/console/incidents/{police}",
            f"/console/curves?principal={police}",
            "/console/journal?entry=3",
            f"/console/investigations?principal={police}",
            f"/console/investigations?principal={police}&full=1",
            f"/console/investigations/principal.json?principal={police}",
            f"/console/investigations?subject={owner}",
            f"/console/investigations/breach?principals={police}",
            f"/console/investigations/breach.md?principals={police}",
            "/console/reviews",
        ],
        admin: ["/console/containments", "/console/principals", "/console/reviews"],
    }
    seen_owner = False
    for http, paths in pages.items():
        for path in paths:
            r = http.get(path)
            assert r.status_code == 200, (path, r.text)
            for value in values:
                assert value not in r.text, (path, "shows a PII value")
            seen_owner |= owner in r.text
    assert seen_owner  # the pages did show what was touched, pseudonymously


def test_cookies_are_secure_unless_served_on_loopback_http(setup: ConsoleSetup) -> None:
    srv = setup.dep.service.authorization_server
    assert srv.public_url.startswith("http://127.0.0.1")
    start = browser(setup).get("/console/sign-in/start", follow_redirects=False)
    assert "Secure" not in start.headers["set-cookie"]
    public = srv.public_url
    srv.public_url = "https://registry.example"
    try:
        setup.dep.service.admin.register_client(
            "console",
            public=True,
            redirect_uris=[public + "/console/callback", srv.public_url + "/console/callback"],
        )
        start = browser(setup).get("/console/sign-in/start", follow_redirects=False)
        assert start.status_code == 303, start.text
        cookie = start.headers["set-cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    finally:
        srv.public_url = public


def test_expired_access_token_is_refreshed(setup: ConsoleSetup) -> None:
    http = sign_in(setup, setup.auditor)
    assert http.get("/console/journal").status_code == 200
    setup.dep.clock.advance(400)  # past the 300 s access token, within the idle timeout
    journal = setup.dep.service.journal
    journal.flush()
    before = journal.size()
    page = http.get("/console/journal")
    assert page.status_code == 200, page.text
    journal.flush()
    entries = [journal.entry(i) for i in range(before, journal.size())]
    assert {e["endpoint"] for e in entries} >= {"GET /v1/journal/checkpoint"}
    assert all(e["principal"] == setup.auditor.principal for e in entries)
    setup.dep.clock.advance(16 * 60)  # idle past 15 minutes: signed out
    assert http.get("/console/journal", follow_redirects=False).status_code == 303


def test_an_erased_subject_shows_as_erased_with_when(setup: ConsoleSetup) -> None:
    """Issue 25: after `person erase`, the subject's investigation page says so (from the
    journal's own entry); a subject never erased shows no such line."""
    from sqlalchemy import select

    from strongroom.registry.models import Person

    dep = setup.dep
    spared = {dep.fixtures["owner_id"], dep.fixtures["person_elsewhere"]}
    with dep.service.registry.session() as s:
        ids = s.execute(select(Person.public_id).order_by(Person.id).limit(10)).scalars()
        victim = next(pid for pid in ids if pid not in spared)
    erased = dep.service.admin.erase_person(victim, "GDPR Art. 17: retention period elapsed")
    auditor = sign_in(setup, setup.auditor)
    page = auditor.get(f"/console/investigations?subject={victim}")
    assert page.status_code == 200, page.text
    assert 'id="subject-erased"' in page.text and erased["person"] in page.text
    untouched = auditor.get(f"/console/investigations?subject={dep.fixtures['owner_id']}")
    assert untouched.status_code == 200 and 'id="subject-erased"' not in untouched.text


def test_case_links_waiting_for_four_eyes_are_decided_by_the_units_agents(
    setup: ConsoleSetup,
) -> None:
    """The reviews page's case-link queue: auditors and administrators see every unit's,
    read only; the unit's agents, signed in for case management, decide their colleagues'
    (CSRF-protected, journaled), never their own."""
    case, subject = setup.link_case, setup.link_subject
    form = f"/console/reviews/case-links/{case}/{subject}"
    for account in (setup.auditor, setup.admin):
        watcher = sign_in(setup, account)
        page = watcher.get("/console/reviews")
        assert page.status_code == 200, page.text
        queue = page.text.split('id="case-links"', 1)[1]
        assert subject in queue and case in queue and "police:" in queue
        assert form not in page.text  # no decision for them
        token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        refused = watcher.post(
            form, data={"csrf": token, "decision": "approve"}, follow_redirects=False
        )
        assert refused.status_code == 403, refused.text  # the gate's: not their endpoint
    # An officer signed in for the role's default task is pointed to the right sign-in.
    plain = sign_in(setup, setup.second).get("/console/reviews").text
    assert 'id="sign-in-cases"' in plain and 'id="case-links"' not in plain
    bad = browser(setup).get("/console/sign-in/start?purpose=audit", follow_redirects=False)
    assert bad.status_code == 400
    # The linker sees the link as its own: no form, and a forged one is refused.
    linker = sign_in(setup, setup.linker, purpose="case_management")
    own = linker.get("/console/reviews").text
    assert "yours: a colleague decides" in own and form not in own
    token = own.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    forged = linker.post(form, data={"csrf": token, "decision": "approve"}, follow_redirects=False)
    assert forged.status_code == 403 and "four_eyes" in forged.text
    # The second agent of the unit decides.
    second = sign_in(setup, setup.second, purpose="case_management")
    page = second.get("/console/reviews").text
    assert form in page
    token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    no_csrf = second.post(form, data={"decision": "approve"}, follow_redirects=False)
    assert no_csrf.status_code == 403
    assert second.post(form, data={"csrf": token, "decision": "maybe"}).status_code == 400
    done = second.post(form, data={"csrf": token, "decision": "approve"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/console/reviews"
    approved = second.get("/console/reviews?status=approved").text.split('id="case-links"', 1)[1]
    assert case in approved and setup.second.principal in approved
    # A rejection needs a note, and is journaled with it.
    other_case, other_subject = link_waiting(setup.dep, setup.linker)
    other = f"/console/reviews/case-links/{other_case}/{other_subject}"
    short = second.post(other, data={"csrf": token, "decision": "reject", "note": "no"})
    assert short.status_code == 400
    rejected = second.post(
        other,
        data={"csrf": token, "decision": "reject", "note": "not the suspect's circle"},
        follow_redirects=False,
    )
    assert rejected.status_code == 303, rejected.text
    journal = setup.dep.service.journal
    journal.flush()
    entries = [journal.entry(i) for i in range(max(0, journal.size() - 60), journal.size())]
    decisions = (
        "POST /v1/cases/{id}/subjects/{subject}/approve",
        "POST /v1/cases/{id}/subjects/{subject}/reject",
    )
    decided = [
        e for e in entries if e.get("outcome") == "allowed" and e.get("endpoint") in decisions
    ]
    assert [e["endpoint"] for e in decided[-2:]] == list(decisions)
    assert all(e["principal"] == setup.second.principal for e in decided[-2:])
    assert decided[-1]["detail"]["note"] == "not the suspect's circle"
