"""Where a professional signs in from, over real HTTP (issue 19): a thief holding an
officer's password and TOTP seed signs in from another network while the officer works.
The sign-in is refused while the officer's session lives, journaled and alerted; once it
has ended, the thief gets in, but as a new device and network, which is an alert. The
officer's own return from the office is neither."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from strongroom.auth.acr import ACR_PHR
from strongroom.errors import NotFound
from tests.api.test_sign_in_attacks_http import (
    PASSWORD,
    alerts,
    attempt,
    code_at,
    enroll,
    reasons,
    security_entries,
)
from tests.auth.auth_testkit import REDIRECT, BoundSession, push_authorization, redeem
from tests.deployment import Deployment

OFFICE = ("192.0.2.10", 50000)
THIEF = ("203.0.113.66", 40000)
OFFICE_BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"}
THIEF_BROWSER = {"user-agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/150.0"}


def client(dep: Deployment, where: tuple[str, int], headers: dict[str, str]) -> TestClient:
    return TestClient(dep.app, client=where, headers=headers, raise_server_exceptions=False)


def findings(dep: Deployment, principal: str, since: int) -> list[str]:
    """The descriptions of the alerts about `principal` raised since the `since`-th."""
    return [
        a["finding_info"]["desc"]
        for a in alerts(dep)[since:]
        if a["actor"]["user"]["uid"] == principal
    ]


def test_a_thief_elsewhere_is_refused_while_the_officer_works(deployment: Deployment) -> None:
    dep = deployment
    officer = dep.principals["police"]
    username, secret = enroll(dep, officer)
    office, thief = client(dep, OFFICE, OFFICE_BROWSER), client(dep, THIEF, THIEF_BROWSER)
    since = dep.service.journal.size()
    alerts_before = len(alerts(dep))

    first = attempt(office, username, PASSWORD, code_at(dep, secret))
    assert first.status_code == 303, first.text  # the officer's first sign-in: no alert
    dep.clock.advance(31)  # the thief's code is another step's (codes are single-use)
    stolen = attempt(thief, username, PASSWORD, code_at(dep, secret))
    assert stolen.status_code != 303
    assert "signed in from another network" in stolen.text

    entries = security_entries(dep, since)
    seen = reasons(entries, officer)
    assert (seen["concurrent_session_refused"], seen["new_device_sign_in"]) == (1, 1)
    refused = [e for e in entries if e["reason"] == "concurrent_session_refused"]
    assert refused[0]["ip"] == THIEF[0]
    # One authentication incident for the officer: the SOC sees it at once.
    raised = findings(dep, officer, alerts_before)
    assert any("device or network not used" in d for d in raised), raised

    # The officer's session ends (idle past its timeout); the thief tries again and gets
    # in, flagged once more as a device and network the account never used.
    dep.clock.advance(16 * 60)
    later = attempt(thief, username, PASSWORD, code_at(dep, secret))
    assert later.status_code == 303, later.text
    seen = reasons(security_entries(dep, since), officer)
    assert (seen["concurrent_session_refused"], seen["new_device_sign_in"]) == (1, 2)


def test_the_officers_return_from_the_office_is_no_alert(deployment: Deployment) -> None:
    dep = deployment
    officer = dep.principals["prefecture"]
    username, secret = enroll(dep, officer)
    office = client(dep, OFFICE, OFFICE_BROWSER)
    since = dep.service.journal.size()
    for _ in range(3):
        r = attempt(office, username, PASSWORD, code_at(dep, secret))
        assert r.status_code == 303, r.text
        dep.clock.advance(31)
    # Same network, same browser, sessions alive: one officer with several tabs.
    seen = reasons(security_entries(dep, since), officer)
    assert seen["new_device_sign_in"] == 0 and seen["concurrent_session_refused"] == 0


def test_the_policy_may_only_alert(deployment: Deployment) -> None:
    """`sign_in.other_network_sessions: alert`: the second network gets in, journaled and
    alerted as such."""
    dep = deployment
    server = dep.service.authorization_server
    officer = dep.principals["dealer"]
    username, secret = enroll(dep, officer)
    server.other_network_sessions = "alert"
    try:
        since = dep.service.journal.size()
        assert (
            attempt(
                client(dep, OFFICE, OFFICE_BROWSER), username, PASSWORD, code_at(dep, secret)
            ).status_code
            == 303
        )
        dep.clock.advance(31)
        r = attempt(client(dep, THIEF, THIEF_BROWSER), username, PASSWORD, code_at(dep, secret))
        assert r.status_code == 303, r.text
        seen = reasons(security_entries(dep, since), officer)
        assert seen["concurrent_session_other_network"] == 1
        assert seen["new_device_sign_in"] == 1
    finally:
        server.other_network_sessions = "refuse"


def test_logout_ends_the_session_and_its_tokens(deployment: Deployment) -> None:
    """RP-initiated logout with the session's own DPoP-bound token: back to the client's
    registered URI with its state; the token is refused from then on; journaled."""
    dep = deployment
    officer = dep.principals["police"]
    username, secret = enroll(dep, officer)
    office = client(dep, OFFICE, OFFICE_BROWSER)
    uri, verifier = push_authorization(office, scope="weapons:lookup")
    login = attempt(office, username, PASSWORD, code_at(dep, secret), uri)
    assert login.status_code == 303, login.text
    token_endpoint = dep.service.authorization_server.token_endpoint
    session = redeem(office, dep.clock, token_endpoint, login.headers["location"], verifier)
    lookup = {"serial": dep.fixtures["weapon_serial"]}
    assert session.call("POST", "/v1/weapons/lookup", json=lookup).status_code == 200

    elsewhere = session.call(
        "POST", "/oauth/logout", data={"post_logout_redirect_uri": "https://evil.test/"}
    )
    assert elsewhere.status_code == 400  # only a registered URI
    since = dep.service.journal.size()
    out = session.call(
        "POST",
        "/oauth/logout",
        data={"post_logout_redirect_uri": REDIRECT, "state": "bye"},
        follow_redirects=False,
    )
    assert out.status_code == 303 and out.headers["location"] == f"{REDIRECT}?state=bye"
    assert session.call("POST", "/v1/weapons/lookup", json=lookup).status_code == 401
    dep.service.journal.flush()
    signed_out = [
        e
        for e in (dep.service.journal.entry(i) for i in range(since, dep.service.journal.size()))
        if e.get("reason") == "signed_out"
    ]
    assert [e["principal"] for e in signed_out] == [officer]


def sign_in(dep: Deployment, http: TestClient, username: str, secret: str) -> BoundSession:
    uri, verifier = push_authorization(http, scope="weapons:lookup")
    login = attempt(http, username, PASSWORD, code_at(dep, secret), uri)
    assert login.status_code == 303, login.text
    dep.clock.advance(31)  # the next sign-in's code is another step's
    token_endpoint = dep.service.authorization_server.token_endpoint
    return redeem(http, dep.clock, token_endpoint, login.headers["location"], verifier)


def test_an_officer_sees_and_ends_their_own_sessions(deployment: Deployment) -> None:
    """Two browsers at the office: the officer lists both (network, browser, which one is
    this), ends the other; its token is refused from then on. Another account's session
    is not theirs to end."""
    dep = deployment
    officer = dep.principals["police"]
    username, secret = enroll(dep, officer)
    desk = sign_in(dep, client(dep, OFFICE, OFFICE_BROWSER), username, secret)
    car = sign_in(dep, client(dep, OFFICE, THIEF_BROWSER), username, secret)
    listed = desk.call("GET", "/oauth/sessions")
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert len(items) == 2
    (mine,) = [i for i in items if i["current"]]
    (other,) = [i for i in items if not i["current"]]
    assert mine["session"] == desk.claims()["sid"] and other["session"] == car.claims()["sid"]
    assert {i["ip_prefix"] for i in items} == {"192.0.2.0/24"}
    assert other["user_agent"] == THIEF_BROWSER["user-agent"]

    colleague = dep.principals["prefecture"]
    name2, secret2 = enroll(dep, colleague)
    theirs = sign_in(dep, client(dep, ("192.0.2.11", 50000), OFFICE_BROWSER), name2, secret2)
    refused = desk.call("POST", f"/oauth/sessions/{theirs.claims()['sid']}/end")
    assert refused.status_code == 404

    lookup = {"serial": dep.fixtures["weapon_serial"]}
    assert car.call("POST", "/v1/weapons/lookup", json=lookup).status_code == 200
    ended = desk.call("POST", f"/oauth/sessions/{other['session']}/end")
    assert ended.status_code == 204, ended.text
    assert car.call("POST", "/v1/weapons/lookup", json=lookup).status_code == 401
    assert desk.call("POST", "/v1/weapons/lookup", json=lookup).status_code == 200
    assert [i["session"] for i in desk.call("GET", "/oauth/sessions").json()["items"]] == [
        mine["session"]
    ]


def test_an_administrator_ends_every_session_of_an_account(deployment: Deployment) -> None:
    dep = deployment
    officer = dep.principals["police"]
    username, secret = enroll(dep, officer)
    sessions = [
        sign_in(dep, client(dep, OFFICE, OFFICE_BROWSER), username, secret) for _ in range(2)
    ]
    admin = dep.service.admin
    with pytest.raises(NotFound):
        admin.end_sessions(officer, "no-such-session", "a typo")
    assert admin.end_sessions(officer, "all", "laptop reported stolen") == 2
    lookup = {"serial": dep.fixtures["weapon_serial"]}
    for s in sessions:
        assert s.call("POST", "/v1/weapons/lookup", json=lookup).status_code == 401
    journal = dep.service.journal
    journal.flush()
    recent = [journal.entry(i) for i in range(max(0, journal.size() - 10), journal.size())]
    (entry,) = [e for e in recent if e.get("reason") == "sessions_ended"]
    assert entry["detail"]["principal"] == officer and entry["detail"]["sessions"] == 2


def test_step_up_lets_only_a_passkey_in_from_a_second_network(deployment: Deployment) -> None:
    """`sign_in.other_network_sessions: step_up`: while the account works at the office,
    the thief's password and TOTP code from elsewhere are refused, the account's own
    passkey from elsewhere gets in (journaled and alerted as another network)."""
    from tests.api.test_containment_operator_http import Admin, at

    dep = deployment
    server = dep.service.authorization_server
    server.other_network_sessions = "step_up"
    try:
        holder = Admin(dep, "travelling")
        office = holder.totp(at(dep, "192.0.2.30"))
        assert office.call("GET", "/oauth/sessions").status_code == 200
        since = dep.service.journal.size()
        dep.clock.advance(31)
        stolen = attempt(
            at(dep, "203.0.113.77"), holder.username, PASSWORD, code_at(dep, holder.secret)
        )
        assert stolen.status_code != 303 and "passkey" in stolen.text
        travelling = holder.passkey(at(dep, "198.51.100.40"))
        assert travelling.claims()["acr"] == ACR_PHR
        journal = dep.service.journal
        journal.flush()
        seen = reasons([journal.entry(i) for i in range(since, journal.size())], holder.id)
        assert seen["concurrent_session_refused"] == 1
        assert seen["concurrent_session_other_network"] == 1
    finally:
        server.other_network_sessions = "refuse"
