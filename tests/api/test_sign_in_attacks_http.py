"""Attacks on the professional sign-in, over real HTTP against the composed app (login
form, token endpoint, API): TOTP guessing, guessing faster than the delays allow, password
spraying from one network, code replay, the password oracle, and seeds read from a copied
database. Each is refused, journaled with its reason, and alerts where it should."""

from __future__ import annotations

import base64
import json
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from httpx import Response

from tests.auth.auth_testkit import push_authorization, redeem
from tests.deployment import Deployment

REDIRECT = "http://127.0.0.1:8765/callback"
PASSWORD = "a long and boring passphrase"
WRONG_PASSWORD = "a long and boring passphrasf"
SIGN_IN = "POST /oauth/authorize"
LIGHT_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def enroll(dep: Deployment, principal: str) -> tuple[str, str]:
    """A password and a confirmed authenticator for `principal`; (username, seed)."""
    svc = dep.service
    username = f"user-{principal[:8]}"
    svc.admin.set_password(principal, username, PASSWORD)
    creds = svc.authorization_server.credentials
    secret = pyotp.parse_uri(creds.begin_totp_enrollment(principal)).secret
    creds.confirm_totp_enrollment(principal, code_at(dep, secret))
    svc.admin.register_client("console", public=True, redirect_uris=[REDIRECT])
    dep.clock.advance(30)  # the enrollment code's step is spent
    return username, secret


def code_at(dep: Deployment, secret: str) -> str:
    return pyotp.TOTP(secret).at(int(dep.clock.now()))


def wrong_code(dep: Deployment, secret: str) -> str:
    """A code valid in none of the steps the server accepts (now, one before, one after)."""
    totp, now = pyotp.TOTP(secret), int(dep.clock.now())
    near = {totp.at(now + drift) for drift in (-30, 0, 30)}
    return next(c for c in (f"{n:06d}" for n in range(1, 100)) if c not in near)


def par(http: TestClient) -> str:
    return push_authorization(http, state="s1")[0]


def attempt(
    http: TestClient,
    username: str,
    password: str,
    otp: str | None,
    request_uri: str | None = None,
) -> Response:
    form = {
        "client_id": "console",
        "request_uri": request_uri or par(http),
        "username": username,
        "password": password,
        "action": "login",
    }
    if otp is not None:
        form["otp"] = otp
    return http.post("/oauth/authorize", data=form, follow_redirects=False)


def security_entries(dep: Deployment, since: int) -> list[dict[str, Any]]:
    journal = dep.service.journal
    journal.flush()  # refusals are committed without their caller waiting
    return [
        e
        for e in (journal.entry(i) for i in range(since, journal.size()))
        if e.get("kind") == "security" and e.get("endpoint") == SIGN_IN
    ]


def reasons(entries: list[dict[str, Any]], principal: str | None = None) -> Counter[str]:
    return Counter(
        str(e["reason"]) for e in entries if principal is None or e["principal"] == principal
    )


def alerts(dep: Deployment) -> list[dict[str, Any]]:
    path = dep.home.path / "alerts.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [json.loads(line) for line in lines]


def rules(dep: Deployment) -> Any:
    return dep.service.policy.policy.sign_in


def test_totp_guessing_locks_the_account_until_an_administrator_unlocks_it(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attack of the issue: 200 wrong codes in a row behind the right password, paced
    so each might be tried. Only `lock_after` are ever tried; then the account is locked,
    the right code fails too, and it works again once an administrator unlocks it."""
    dep, http = deployment, deployment.client
    # Every try costs an argon2 verification; a light one keeps 200 tries quick.
    monkeypatch.setattr(dep.service.authorization_server.credentials, "hasher", LIGHT_HASHER)
    officer = dep.principals["police"]
    username, secret = enroll(dep, officer)
    since = dep.service.journal.size()
    answers = set()
    for _ in range(200):
        dep.clock.advance(60)  # a PAR lives a minute: one per try
        uri = par(http)
        r = attempt(http, username, PASSWORD, wrong_code(dep, secret), uri)
        answers.add((r.status_code, r.text.replace(uri, "URI")))
    assert len(answers) == 1, "every refusal answers alike, locked or not"

    dep.clock.advance(60)
    uri = par(http)
    right = attempt(http, username, PASSWORD, code_at(dep, secret), uri)
    assert (right.status_code, right.text.replace(uri, "URI")) in answers, "the right code fails"

    seen = reasons(security_entries(dep, since), officer)
    lock_after = rules(dep).lock_after
    assert seen["wrong_code"] == lock_after, seen
    assert seen["account_locked"] == 1
    assert seen["throttled"] >= 1  # tried before the growing delay was over
    assert seen["locked"] == 200 - lock_after - seen["throttled"] + 1  # + the right code
    assert sum(seen.values()) == 200 + 1 + 1
    findings = [a for a in alerts(dep) if a["actor"]["user"]["uid"] == officer]
    assert findings and findings[0]["finding_info"]["types"] == ["authentication"]
    assert "locked" in findings[0]["finding_info"]["desc"]

    dep.service.admin.unlock_principal(officer, "test: the officer called the help desk")
    dep.clock.advance(30)
    ok = attempt(http, username, PASSWORD, code_at(dep, secret))
    assert ok.status_code == 303, ok.text
    admin = [
        e
        for e in (dep.service.journal.entry(i) for i in range(since, dep.service.journal.size()))
        if e.get("kind") == "admin"
    ]
    assert admin[-1]["reason"] == "sign_in_unlocked"
    assert admin[-1]["detail"]["principal"] == officer


def test_guesses_faster_than_the_delays_are_not_tried(deployment: Deployment) -> None:
    """200 wrong codes at once: the first few are tried, the rest refused unread (the
    account's delay), then the network's failure budget answers 429 for everything, the
    right code included."""
    dep = deployment
    http = TestClient(dep.app, client=("192.0.2.10", 50000), raise_server_exceptions=False)
    officer = dep.principals["prefecture"]
    username, secret = enroll(dep, officer)
    since = dep.service.journal.size()
    request_uri = par(http)
    statuses = Counter(
        attempt(http, username, PASSWORD, wrong_code(dep, secret), request_uri).status_code
        for _ in range(200)
    )
    budget = rules(dep).ip_prefix_failures
    assert statuses == {401: budget, 429: 200 - budget}, statuses
    limited = attempt(http, username, PASSWORD, code_at(dep, secret), request_uri)
    assert limited.status_code == 429
    assert limited.headers["content-type"].startswith("application/problem+json")
    assert int(limited.headers["retry-after"]) > 0
    assert limited.json()["reason"] == "sign_in_failures"
    seen = reasons(security_entries(dep, since), officer)
    assert seen["wrong_code"] == rules(dep).free_failures, seen
    assert seen["throttled"] == budget - rules(dep).free_failures


def test_password_spraying_from_one_network_is_cut_off(deployment: Deployment) -> None:
    """One password tried against many accounts, from hosts of one /24: the prefix's
    failure budget stops it and alerts; another network still gets the form's answer."""
    dep = deployment
    for role in ("police", "prefecture", "dealer", "auditor", "admin"):
        enroll(dep, dep.principals[role])
    usernames = [f"user-{dep.principals[r][:8]}" for r in dep.principals]
    usernames += [f"guess-{i}" for i in range(40)]  # and names that are no account
    since = dep.service.journal.size()
    budget = rules(dep).ip_prefix_failures
    answers = []
    for i, name in enumerate(usernames[: budget + 5]):
        host = TestClient(dep.app, client=(f"203.0.113.{i + 1}", 40000))
        answers.append(attempt(host, name, "Summer2026!Summer2026!", None).status_code)
    assert answers == [401] * budget + [429] * 5
    r = attempt(TestClient(dep.app, client=("203.0.113.200", 40000)), usernames[0], PASSWORD, None)
    assert r.status_code == 429 and r.json()["reason"] == "sign_in_failures"
    elsewhere = attempt(TestClient(dep.app, client=("198.51.100.7", 40000)), "x", "y" * 12, None)
    assert elsewhere.status_code == 401

    entries = security_entries(dep, since)
    seen = reasons(entries)
    assert seen["unknown_user"] >= budget - len(dep.principals)
    assert seen["ip_prefix_limited"] == 6
    assert all("Summer2026" not in json.dumps(e) for e in entries)  # no password journaled
    assert all("guess-" not in json.dumps(e) for e in entries)  # nor an unknown name
    findings = [
        a for a in alerts(dep) if a.get("src_endpoint", {}).get("ip", "").startswith("203.")
    ]
    assert findings and findings[0]["finding_info"]["types"] == ["authentication"]


def test_a_totp_code_is_accepted_once(deployment: Deployment) -> None:
    dep, http = deployment, deployment.client
    officer = dep.principals["police"]
    username, secret = enroll(dep, officer)
    since = dep.service.journal.size()
    code = code_at(dep, secret)
    assert attempt(http, username, PASSWORD, code).status_code == 303
    dep.clock.advance(5)  # same time step: the code is still "valid"
    again = attempt(http, username, PASSWORD, code)
    assert again.status_code == 401
    assert reasons(security_entries(dep, since), officer) == {"replayed_code": 1}


def test_the_sign_in_form_is_no_password_oracle(deployment: Deployment) -> None:
    """A wrong password, the right one without a code, the right one with a wrong code:
    the same status, headers and page, in comparable time, until the second factor is
    done."""
    dep, http = deployment, deployment.client
    officer = dep.principals["prefecture"]
    username, secret = enroll(dep, officer)
    variants = [
        ("wrong password", WRONG_PASSWORD, False),
        ("wrong password, wrong code", WRONG_PASSWORD, True),
        ("right password", PASSWORD, False),
        ("right password, wrong code", PASSWORD, True),
    ]
    timings: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    for round_ in range(8):
        request_uri = par(http)  # one form: its hidden fields are the same for every try
        answers = set()
        for name, password, with_code in variants[round_ % 4 :] + variants[: round_ % 4]:
            dep.clock.advance(5)  # past the first growing delay
            otp = wrong_code(dep, secret) if with_code else None
            t0 = time.perf_counter()
            r = attempt(http, username, password, otp, request_uri)
            timings[name].append(time.perf_counter() - t0)
            # The date and the request's own random ID differ on any two answers.
            headers = tuple(
                sorted((k, v) for k, v in r.headers.items() if k not in ("date", "x-request-id"))
            )
            answers.add((r.status_code, headers, r.content))
        assert len(answers) == 1, f"round {round_}: the answers differ"
        dep.service.admin.unlock_principal(officer, "test: reset the failure count")
        dep.clock.advance(300)  # and keep under the network's failure budget
    medians = {name: statistics.median(t) for name, t in timings.items()}
    assert max(medians.values()) < 1.5 * min(medians.values()), medians


def test_a_copied_database_yields_no_totp_seed(deployment: Deployment) -> None:
    dep, http = deployment, deployment.client
    officer = dep.principals["police"]
    _, secret = enroll(dep, officer)
    creds = dep.service.authorization_server.credentials
    pending = pyotp.parse_uri(creds.begin_totp_enrollment(officer)).secret
    raw = base64.b32decode(secret)
    needles = {
        s.encode() for seed in (secret, pending) for s in (seed, seed.lower(), seed.rstrip("="))
    }
    needles |= {
        form
        for seed in (secret, pending)
        for b in [base64.b32decode(seed)]
        for form in (b, b.hex().encode(), base64.b64encode(b), base64.urlsafe_b64encode(b))
    }
    assert raw in needles
    with dep.service.engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT * FROM auth_credentials WHERE principal_id = :p"), {"p": officer}
        ).one()
    cells = [
        bytes(c) if isinstance(c, bytes | memoryview) else str(c).encode()
        for c in row
        if c is not None
    ]
    found = [n for n in needles for c in cells if n in c or n.lower() in c.lower()]
    assert found == [], "a seed is readable in the credentials row"
    assert sum(len(c) > 40 for c in cells if c != row.password_hash.encode()) == 2, "sealed"
    registry_url = dep.service.settings.registry_url
    if registry_url.startswith("sqlite:///"):
        db = Path(registry_url.removeprefix("sqlite:///"))
        for path in (db, db.with_name(db.name + "-wal")):
            blob = path.read_bytes() if path.exists() else b""
            assert [n for n in needles if n in blob] == [], path.name

    username = f"user-{officer[:8]}"
    assert attempt(http, username, PASSWORD, code_at(dep, secret)).status_code == 303


def test_a_seed_moved_to_another_account_does_not_open_it(deployment: Deployment) -> None:
    """The sealed seed is bound to its principal: copied into another account's row it
    does not decrypt, and that account's sign-in fails without a 500."""
    dep, http = deployment, deployment.client
    thief, victim = dep.principals["dealer"], dep.principals["police"]
    _, thief_secret = enroll(dep, thief)
    victim_name, _ = enroll(dep, victim)
    with dep.service.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE auth_credentials SET totp_secret_ct = "
                "(SELECT totp_secret_ct FROM auth_credentials WHERE principal_id = :t) "
                "WHERE principal_id = :v"
            ),
            {"t": thief, "v": victim},
        )
    since = dep.service.journal.size()
    r = attempt(http, victim_name, PASSWORD, code_at(dep, thief_secret))
    assert r.status_code == 401
    assert reasons(security_entries(dep, since), victim) == {"second_factor_unreadable": 1}


def test_signed_in_token_still_reaches_the_api(deployment: Deployment) -> None:
    """The whole flow after the changes: form, token endpoint (DPoP), API."""
    dep, http = deployment, deployment.client
    officer = dep.principals["police"]
    username, secret = enroll(dep, officer)
    request_uri, verifier = push_authorization(http, scope="weapons:lookup")
    login = attempt(http, username, PASSWORD, code_at(dep, secret), request_uri)
    assert login.status_code == 303
    token_endpoint = dep.service.authorization_server.token_endpoint
    signed_in = redeem(http, dep.clock, token_endpoint, login.headers["location"], verifier)
    ok = signed_in.call(
        "POST", "/v1/weapons/lookup", json={"serial": dep.fixtures["weapon_serial"]}
    )
    assert ok.status_code == 200, ok.text
