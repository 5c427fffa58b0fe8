"""The console in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven
by Playwright) against a real `strongroom serve` process. Signs in through the embedded
authorization server's own form (password + TOTP), visits each page, lifts a containment,
approves an export, downloads the breach report; CSRF and CSP checked from the browser.
A screenshot of every page goes to .strongroom/screenshots/ (gitignored).

Under CI=true the tests run or fail, never skip."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from strongroom.auth.clients import ClientRegistry
from tests.console.console_testkit import PASSWORD, Account, ConsoleSetup, console_setup
from tests.served import served

CHROMIUM = os.environ.get("STRONGROOM_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[2] / ".strongroom" / "screenshots"

pytestmark = pytest.mark.slow


def _need(what: str, ok: bool) -> None:
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required under CI")
    pytest.skip(f"{what} is not available")


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("playwright (pip install -e '.[dev]')", False)
    _need(CHROMIUM, shutil.which(CHROMIUM) is not None)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ConsoleSetup, str]]:
    setup = console_setup(tmp_path_factory.mktemp("home"))
    setup.dep.client.close()
    setup.dep.service.close()
    with served(setup.dep.home) as url:
        # The console client's redirect URI names the port the server got: registered in
        # the shared clients table, which the server reads on each request.
        engine = sa.create_engine(setup.dep.home.settings().registry_url)
        ClientRegistry(engine).register(
            "console", public=True, redirect_uris=[url + "/console/callback"]
        )
        engine.dispose()
        yield setup, url


def signed_in(chromium: object, url: str, account: Account, start: str = "#sign-in") -> object:
    """A browser signed in as `account`, through the sign-in link `start` (the role's own
    task, or #sign-in-cases: case management)."""
    context = chromium.new_context(base_url=url, accept_downloads=True)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto("/console/")
    assert page.url.endswith("/console/sign-in")
    shot(page, "sign-in")
    page.click(start)
    page.wait_for_url("**/oauth/authorize?**")
    shot(page, "authorization-server-form")
    page.fill("input[name=username]", account.username)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=otp]", account.code())
    page.click("button[value=login]")
    page.wait_for_url(url + "/console/")
    assert account.principal in page.content()
    return page


def shot(page: object, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def admin(chromium: object, site: tuple[ConsoleSetup, str]) -> Iterator[object]:
    setup, url = site
    page = signed_in(chromium, url, setup.admin)
    yield page
    page.context.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def auditor(chromium: object, site: tuple[ConsoleSetup, str]) -> Iterator[object]:
    setup, url = site
    page = signed_in(chromium, url, setup.auditor)
    yield page
    page.context.close()  # type: ignore[attr-defined]


def test_sign_in_lands_on_the_pages_the_role_may_see(admin: object, auditor: object) -> None:
    shot(admin, "admin-home")
    shot(auditor, "auditor-home")
    admin_nav = admin.locator("header nav").inner_text()  # type: ignore[attr-defined]
    auditor_nav = auditor.locator("header nav").inner_text()  # type: ignore[attr-defined]
    assert "Containments" in admin_nav and "Journal" not in admin_nav
    assert "Journal" in auditor_nav and "Containments" not in auditor_nav
    assert "Alerts" in admin_nav and "Alerts" in auditor_nav


def test_csp_and_frame_headers_on_every_page(admin: object) -> None:
    response = admin.goto("/console/containments")  # type: ignore[attr-defined]
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    cookies = {c["name"]: c for c in admin.context.cookies()}  # type: ignore[attr-defined]
    session = cookies["strongroom_console"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    # HttpOnly: the page's own scripts cannot read the session cookie.
    assert "strongroom_console" not in admin.evaluate("document.cookie")  # type: ignore[attr-defined]


def test_alert_opens_the_incident(auditor: object, site: tuple[ConsoleSetup, str]) -> None:
    setup, _ = site
    auditor.goto("/console/alerts?severity=5")  # type: ignore[attr-defined]
    shot(auditor, "alerts")
    auditor.click(f"#alert-rows a[href$='/incidents/{setup.contained}']")  # type: ignore[attr-defined]
    auditor.wait_for_url(f"**/console/incidents/{setup.contained}")  # type: ignore[attr-defined]
    assert setup.containment in auditor.locator("#taken").inner_text()  # type: ignore[attr-defined]
    assert auditor.locator("#principal-timeline").count() == 1  # type: ignore[attr-defined]
    shot(auditor, "incident")


def test_admin_lifts_a_containment(admin: object, site: tuple[ConsoleSetup, str]) -> None:
    setup, _ = site
    admin.goto("/console/containments")  # type: ignore[attr-defined]
    row = admin.locator(f"#active-containments tr[data-id='{setup.containment}']")  # type: ignore[attr-defined]
    assert row.count() == 1
    shot(admin, "containments")
    row.locator("input[name=why]").fill("false positive: the SOC called the officer")
    row.locator("button").click()
    admin.wait_for_url("**/console/containments")  # type: ignore[attr-defined]
    assert admin.locator(f"#active-containments tr[data-id='{setup.containment}']").count() == 0  # type: ignore[attr-defined]
    history = admin.locator("#containment-history").inner_text()  # type: ignore[attr-defined]
    assert "false positive: the SOC called the officer" in history
    assert setup.admin.principal in history
    shot(admin, "containments-after-lift")


def replay_a_code(url: str, account: Account) -> None:
    """Sign in outside the browser and redeem the code twice: the authorization server
    ends the session and journals `authorization_code_replay`, a stolen-code alert."""
    import httpx

    from strongroom.clock import SYSTEM_CLOCK
    from tests.auth.auth_testkit import DPoPClient, pkce_pair

    verifier, challenge = pkce_pair()
    redirect = url + "/console/callback"
    with httpx.Client(base_url=url) as http:
        par = http.post(
            "/oauth/par",
            data={
                "client_id": "console",
                "response_type": "code",
                "redirect_uri": redirect,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        assert par.status_code == 201, par.text
        login = http.post(
            "/oauth/authorize",
            data={
                "client_id": "console",
                "request_uri": par.json()["request_uri"],
                "username": account.username,
                "password": PASSWORD,
                "otp": account.code(),
                "action": "login",
            },
        )
        assert login.status_code == 303, login.text
        code = httpx.URL(login.headers["location"]).params["code"]
        dpop = DPoPClient(SYSTEM_CLOCK)  # type: ignore[arg-type]
        form = {
            "client_id": "console",
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "code_verifier": verifier,
        }
        for status in (200, 400):
            proof = dpop.proof("POST", url + "/oauth/token")
            r = http.post("/oauth/token", data=form, headers={"DPoP": proof})
            assert r.status_code == status, r.text


def test_a_new_alert_appears_without_reload(
    auditor: object, site: tuple[ConsoleSetup, str]
) -> None:
    setup, url = site
    auditor.goto("/console/alerts")  # type: ignore[attr-defined]
    rows = auditor.locator("#alert-rows tr.alert")  # type: ignore[attr-defined]
    before = rows.count()
    assert before >= 1
    # The page marks itself; a reload would lose the mark.
    auditor.evaluate("window.__not_reloaded = true")  # type: ignore[attr-defined]
    replay_a_code(url, setup.officer)
    # Polled from here: wait_for_function evaluates a string, which the CSP refuses.
    for _ in range(60):
        if rows.count() > before:
            break
        auditor.wait_for_timeout(500)  # type: ignore[attr-defined]
    assert rows.count() > before
    assert auditor.evaluate("window.__not_reloaded === true")  # type: ignore[attr-defined]
    newest = rows.first.inner_text()
    assert "authorization_code_replay" in newest and setup.officer.principal in newest
    shot(auditor, "alerts-live")


def test_curves_are_inline_svg(auditor: object, site: tuple[ConsoleSetup, str]) -> None:
    setup, _ = site
    auditor.goto(f"/console/curves?principal={setup.contained}")  # type: ignore[attr-defined]
    assert auditor.locator("#charts svg").count() == 2  # type: ignore[attr-defined]
    assert auditor.locator("#charts svg rect.bar").count() == 48  # type: ignore[attr-defined]
    shot(auditor, "curves-principal")
    auditor.select_option("select[name=bucket]", "day")  # type: ignore[attr-defined]
    auditor.fill("input[name=principal]", "")  # type: ignore[attr-defined]
    auditor.click("text=Show")  # type: ignore[attr-defined]
    auditor.wait_for_url("**bucket=day**")  # type: ignore[attr-defined]
    assert auditor.locator("#charts svg rect.bar").count() == 28  # type: ignore[attr-defined]
    shot(auditor, "curves-service")


def test_admin_suspends_a_principal(admin: object, site: tuple[ConsoleSetup, str]) -> None:
    setup, _ = site
    dealer = setup.dep.principals["dealer"]
    admin.goto("/console/principals")  # type: ignore[attr-defined]
    shot(admin, "principals")
    row = admin.locator(f"#principals tr[data-id='{dealer}']")  # type: ignore[attr-defined]
    assert row.locator("td.status").inner_text() == "active"
    row.locator("form.suspend input[name=why]").fill("left the company")
    row.locator("form.suspend button").click()
    admin.wait_for_url("**/console/principals")  # type: ignore[attr-defined]
    row = admin.locator(f"#principals tr[data-id='{dealer}']")  # type: ignore[attr-defined]
    assert row.locator("td.status").inner_text() == "suspended"


def test_admin_approves_an_export(admin: object, site: tuple[ConsoleSetup, str]) -> None:
    setup, _ = site
    admin.goto("/console/reviews")  # type: ignore[attr-defined]
    row = admin.locator(f"#exports tr[data-id='{setup.export}']")  # type: ignore[attr-defined]
    assert row.count() == 1
    shot(admin, "reviews")
    row.locator("input[name=note]").fill("checked the case file")
    row.locator("button[value=approve]").click()
    admin.wait_for_url("**/console/reviews")  # type: ignore[attr-defined]
    admin.goto("/console/reviews?status=approved")  # type: ignore[attr-defined]
    approved = admin.locator(f"#exports tr[data-id='{setup.export}']").inner_text()  # type: ignore[attr-defined]
    assert "approved" in approved and "checked the case file" in approved


def test_the_units_second_agent_approves_a_case_link(
    chromium: object, admin: object, site: tuple[ConsoleSetup, str]
) -> None:
    """The case-link four-eyes queue: the administrator watches it (no decision), the
    linker sees its own link as a colleague's to decide, the unit's second agent approves
    it from the reviews page."""
    setup, url = site
    row_of = f"#case-links tr[data-case='{setup.link_case}']"
    admin.goto("/console/reviews")  # type: ignore[attr-defined]
    watched = admin.locator(row_of)  # type: ignore[attr-defined]
    assert watched.count() == 1 and watched.locator("button").count() == 0
    linker = signed_in(chromium, url, setup.linker, start="#sign-in-cases")
    try:
        linker.goto("/console/reviews")  # type: ignore[attr-defined]
        own = linker.locator(row_of)  # type: ignore[attr-defined]
        assert "yours: a colleague decides" in own.inner_text()
        assert own.locator("button").count() == 0
    finally:
        linker.context.close()  # type: ignore[attr-defined]
    second = signed_in(chromium, url, setup.second, start="#sign-in-cases")
    try:
        second.goto("/console/reviews")  # type: ignore[attr-defined]
        row = second.locator(row_of)  # type: ignore[attr-defined]
        assert setup.link_subject in row.inner_text()
        shot(second, "reviews-case-links")
        row.locator("button[value=approve]").click()
        second.wait_for_url("**/console/reviews")  # type: ignore[attr-defined]
        assert second.locator(row_of).count() == 0  # type: ignore[attr-defined]
        second.goto("/console/reviews?status=approved")  # type: ignore[attr-defined]
        approved = second.locator(row_of).inner_text()  # type: ignore[attr-defined]
        assert f"approved by {setup.second.principal}" in approved
    finally:
        second.context.close()  # type: ignore[attr-defined]


def test_a_post_without_or_with_a_wrong_csrf_token_is_403(admin: object) -> None:
    admin.goto("/console/containments")  # type: ignore[attr-defined]
    for form in ({"why": "no token"}, {"why": "wrong token", "csrf": "forged-token-value"}):
        # The browser's own cookie goes along (same origin): only the token is missing.
        r = admin.request.post("/console/containments/any/lift", form=form)  # type: ignore[attr-defined]
        assert r.status == 403, r.text()


def test_auditor_pages_journal_investigations(
    auditor: object, site: tuple[ConsoleSetup, str]
) -> None:
    setup, _ = site
    auditor.goto("/console/journal")  # type: ignore[attr-defined]
    size = int(auditor.locator("#journal-size").inner_text())  # type: ignore[attr-defined]
    assert size > 0
    auditor.fill("input[name=entry]", "0")  # type: ignore[attr-defined]
    auditor.click("text=Prove")  # type: ignore[attr-defined]
    auditor.wait_for_selector("#proof")  # type: ignore[attr-defined]
    assert "no witness has cosigned it" in auditor.locator("#witness").inner_text()  # type: ignore[attr-defined]
    auditor.click("#verify-start")  # type: ignore[attr-defined]
    auditor.wait_for_url("**/console/journal")  # type: ignore[attr-defined]
    # Running, then done: the page's script polls the verification's state.
    auditor.wait_for_selector("#verify-ok", timeout=30_000)  # type: ignore[attr-defined]
    shot(auditor, "journal")
    auditor.goto(f"/console/investigations?principal={setup.contained}")  # type: ignore[attr-defined]
    assert auditor.locator("#principal-timeline tbody tr").count() >= 2  # type: ignore[attr-defined]
    shot(auditor, "investigations")
    auditor.click("#full-report")  # type: ignore[attr-defined]
    auditor.wait_for_selector("#principal-report")  # type: ignore[attr-defined]
    shot(auditor, "investigations-full")
    auditor.goto("/console/reviews")  # type: ignore[attr-defined]
    assert auditor.locator("h2", has_text="Break-glass").count() == 1  # type: ignore[attr-defined]
    shot(auditor, "reviews-auditor")
    row = auditor.locator("#break-glass tbody tr").first  # type: ignore[attr-defined]
    review = row.get_attribute("data-id")
    row.locator("input[name=note]").fill("suspension file checked")
    row.locator("button[value=approved]").click()
    auditor.wait_for_url("**/console/reviews")  # type: ignore[attr-defined]
    auditor.goto("/console/reviews?status=approved")  # type: ignore[attr-defined]
    decided = auditor.locator(f"#break-glass tr[data-id='{review}']").inner_text()  # type: ignore[attr-defined]
    assert "approved" in decided and "suspension file checked" in decided


def test_auditor_downloads_the_breach_report(
    auditor: object, site: tuple[ConsoleSetup, str], tmp_path: Path
) -> None:
    setup, _ = site
    auditor.goto("/console/investigations")  # type: ignore[attr-defined]
    auditor.fill("input[name=principals]", setup.contained)  # type: ignore[attr-defined]
    auditor.click("form[action$='/breach'] button")  # type: ignore[attr-defined]
    auditor.wait_for_selector("#breach-markdown")  # type: ignore[attr-defined]
    shot(auditor, "breach")
    with auditor.expect_download() as info:  # type: ignore[attr-defined]
        auditor.click("#download-breach")  # type: ignore[attr-defined]
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Personal data breach: scope (GDPR Art. 33)")
    assert setup.contained in text
    with auditor.expect_download() as info:  # type: ignore[attr-defined]
        auditor.click("#download-breach-pdf")  # type: ignore[attr-defined]
    assert info.value.suggested_filename == "breach-report.pdf"
    pdf = tmp_path / "breach-report.pdf"
    info.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF-1.4")
