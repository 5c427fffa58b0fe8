"""SIGTERM under load, over real HTTP: the server stops taking connections, finishes the
requests it holds, and flushes the journal before it exits. Owners read their own records
from 20 client threads (two of them through a budget already spent, so refusals are in
flight too) and the server is stopped mid-load; afterwards every answered request is in
the journal: each 200 as its owner's disclosure, each 429 as that owner's refusal. A
request that never completes (a body that stops arriving) holds the stop no longer than
shutdown_grace_seconds: it is cut off, journaled as such, and the journal is closed with
its tail signed, well before an orchestrator would kill the process."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from strongroom.auth.rfc9068 import TokenService
from strongroom.cli.seeding import seed_home
from strongroom.clock import SYSTEM_CLOCK
from strongroom.config import Home
from strongroom.initialize import initialize
from strongroom.journal import Journal
from tests.api.test_serving_load import owners
from tests.served import journal_entries, served

THREADS = 20
SPENT = 2  # owners whose minute is spent before the load: their reads are all 429
MINUTE = 60  # the shipped policy's principal_requests_minute


def _home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home")
    initialize(home)
    seed_home(home, persons=THREADS + 40, seed=5)
    # Every client is on loopback: the door's prefix budget would refuse most of the load
    # before the gate saw it.
    policy = home.policy_path.read_text(encoding="utf-8")
    policy = policy.replace(
        "{name: ip_prefix_requests_minute, key: ip_prefix, unit: requests, limit: 300,",
        "{name: ip_prefix_requests_minute, key: ip_prefix, unit: requests, limit: 1000000,",
    )
    home.policy_path.write_text(policy, encoding="utf-8")
    return home


@pytest.mark.slow
def test_every_answer_is_journaled_after_a_sigterm_under_load(tmp_path: Path) -> None:
    home = _home(tmp_path)
    settings = home.settings()
    issuer = TokenService(home.keys_dir, issuer=settings.issuer, audience=settings.audience)
    subjects = owners(home, THREADS)
    tokens = {
        s: issuer.issue_access_token(
            subject=s, role="owner", scopes=frozenset({"me:read"}), purpose="self_service"
        )
        for s in subjects
    }
    answers: Counter[tuple[str, int]] = Counter()
    late = Counter[int]()  # answers that arrived after the SIGTERM was sent
    lock = threading.Lock()
    stop = threading.Event()
    signalled: list[float] = []
    answered_ids: list[str] = []

    def read(url: str, subject: str) -> None:
        headers = {"Authorization": f"Bearer {tokens[subject]}"}
        with httpx.Client(base_url=url, timeout=30) as c:
            while not stop.is_set():
                try:
                    r = c.get("/v1/me", headers=headers)
                except httpx.HTTPError:
                    if signalled:
                        return  # the server is going: no answer, nothing to journal
                    continue
                status = r.status_code
                with lock:
                    answers[subject, status] += 1
                    answered_ids.append(r.headers["x-request-id"])
                    if signalled:
                        late[status] += 1

    with served(home) as url:
        for s in subjects[:SPENT]:
            with httpx.Client(base_url=url, timeout=10) as c:
                h = {"Authorization": f"Bearer {tokens[s]}"}
                spent = [c.get("/v1/me", headers=h).status_code for _ in range(MINUTE + 1)]
            assert spent[-1] == 429, spent
            answers.update((s, st) for st in spent)
        threads = [threading.Thread(target=read, args=(url, s)) for s in subjects]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while sum(answers.values()) < 400 + SPENT * (MINUTE + 1):
            assert time.monotonic() < deadline, answers
            time.sleep(0.05)
        signalled.append(time.monotonic())
        # leaving the block sends SIGTERM and waits for the process to exit
    stop.set()
    for t in threads:
        t.join(timeout=30)

    ok = {s: answers[s, 200] for s in subjects}
    refused = {s: answers[s, 429] for s in subjects}
    assert set(st for _, st in answers) <= {200, 429}, answers
    assert sum(ok.values()) >= 300 and sum(refused.values()) > SPENT * 2
    assert sum(late.values()) > 0, "nothing was in flight when the server was stopped"

    entries = journal_entries(settings)
    me = [e for e in entries if e.get("endpoint") == "GET /v1/me"]
    disclosed = Counter(e["principal"] for e in me if e["outcome"] == "allowed")
    for e in me:
        if e["outcome"] == "allowed":
            assert e["subjects"] == [e["principal"]]
    journaled_refusals = Counter(e["principal"] for e in me if e["outcome"] == "refused")
    for e in entries:
        if e.get("reason") == "refusals_tallied":
            for c in e["detail"]["counts"]:
                if c["endpoint"] == "GET /v1/me":
                    journaled_refusals[e["principal"]] += c["count"]
    assert {s: disclosed[s] for s in subjects} == ok
    assert {s: journaled_refusals[s] for s in subjects} == refused
    assert sum(disclosed.values()) + sum(journaled_refusals.values()) == sum(answers.values())
    # each answer of the load, by its request ID (none was tallied: too few refusals)
    assert not any(e.get("reason") == "refusals_tallied" for e in entries)
    assert set(answered_ids) <= {e["detail"].get("request_id") for e in me}


def test_a_stalled_request_holds_the_stop_no_longer_than_the_grace(tmp_path: Path) -> None:
    home = _home(tmp_path)
    home.update_config(shutdown_grace_seconds=2)
    settings = home.settings()
    issuer = TokenService(home.keys_dir, issuer=settings.issuer, audience=settings.audience)
    (subject,) = owners(home, 1)
    token = issuer.issue_access_token(
        subject=subject, role="owner", scopes=frozenset({"me:read"}), purpose="self_service"
    )
    with served(home) as url:
        with httpx.Client(base_url=url, timeout=10) as c:
            answered = [c.get("/v1/me", headers={"Authorization": f"Bearer {token}"})]
            answered.append(c.get("/v1/me"))  # the door's 401, journaled without waiting
        port = urlsplit(url).port
        assert port is not None
        stalled = socket.create_connection(("127.0.0.1", port), timeout=60)
        stalled.sendall(
            b"POST /v1/me/requests HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Authorization: Bearer {token}\r\n".encode()
            + b'Content-Type: application/json\r\nContent-Length: 64\r\n\r\n{"kind"'
        )
        time.sleep(0.5)  # admitted, its body awaited
        stopping = time.monotonic()
    took = time.monotonic() - stopping
    reply = stalled.recv(4096)
    stalled.close()
    assert [a.status_code for a in answered] == [200, 401]
    assert took < 2 + 8, f"the stop took {took:.1f} s: an orchestrator would have killed it"
    log = (home.path / "serve.log").read_text(encoding="utf-8")
    assert "Application shutdown complete." in log
    assert not reply or reply.startswith(b"HTTP/1.1 500"), reply

    journal = Journal.open(settings.journal_url, signer=None, clock=SYSTEM_CLOCK)
    try:
        entries = [journal.entry(i) for i in range(journal.size())]
        signed = journal.checkpoints()[-1][1]
    finally:
        journal.close()
    ids = {e["detail"].get("request_id"): e for e in entries}
    assert ids[answered[0].headers["x-request-id"]]["outcome"] == "allowed"
    assert ids[answered[1].headers["x-request-id"]]["reason"] == "missing_token"
    cut = [e for e in entries if e.get("reason") == "cut_off_at_shutdown"]
    assert [e["endpoint"] for e in cut] == ["POST /v1/me/requests"]
    assert signed == len(entries)  # the close signed the tail
