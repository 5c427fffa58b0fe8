"""/metrics over real HTTP: a served worker's counters move with the requests it answers
(a 200, a 401, a 429 from a budget), by route template and never by path; the scrape is
the operator's (loopback by default, or the networks in metrics_allow), outside OAuth and
outside the door's budgets; with two workers every scrape shows both workers' requests."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from strongroom.api.app import create_app
from strongroom.cli.seeding import seed_home
from strongroom.compose import compose
from strongroom.config import Home
from strongroom.initialize import initialize
from tests.served import served

MINUTE = 60  # the shipped policy's principal_requests_minute


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def _home(tmp_path: Path) -> tuple[Home, dict[str, str]]:
    home = Home(tmp_path / "home")
    initialize(home)
    f = seed_home(home, persons=60, seed=4).fixtures
    svc = compose(home)
    try:
        token = svc.token_issuer.issue(role="owner", subject=f["owner_id"], lifetime=3600)
    finally:
        svc.close()
    return home, {"owner": f["owner_id"], "token": token}


def test_a_served_workers_counters_move_with_its_answers(tmp_path: Path) -> None:
    home, owner = _home(tmp_path)
    me = {"Authorization": f"Bearer {owner['token']}"}
    with served(home) as url, httpx.Client(base_url=url, timeout=10) as c:
        answers = [c.get("/v1/me", headers=me) for _ in range(MINUTE + 1)]
        answers.append(c.get("/v1/me"))  # no token: the door's 401
        answers.append(c.get("/v1/me", headers={"Authorization": "Bearer not.a.token"}))
        # a path holding an ID: counted under its template
        answers.append(c.get(f"/v1/persons/{owner['owner']}", headers=me))
        scraped = c.get("/metrics")
        journal_size = compose_size(home)
    statuses = [a.status_code for a in answers]
    assert statuses[:MINUTE] == [200] * MINUTE
    assert statuses[MINUTE:] == [429, 401, 401, 403], statuses[MINUTE:]
    refused_by = answers[MINUTE].json()["budget"]
    ids = [a.headers["x-request-id"] for a in answers]
    assert len(set(ids)) == len(ids)

    assert scraped.status_code == 200, scraped.text
    assert scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    assert owner["owner"] not in text  # the ID in the path is not a label
    m = samples(text)
    requests = "strongroom_http_requests_total"
    assert sample(m, requests, method="GET", route="/v1/me", status="200") == MINUTE
    assert sample(m, requests, method="GET", route="/v1/me", status="429") == 1
    assert sample(m, requests, method="GET", route="/v1/me", status="401") == 2
    assert sample(m, requests, method="GET", route="/v1/persons/{id}", status="403") == 1
    assert (
        sample(m, "strongroom_http_request_duration_seconds_count", method="GET", route="/v1/me")
        == MINUTE + 3
    )
    assert sample(m, "strongroom_budget_refusals_total", budget=refused_by) == 1
    # every disclosure waited for its commit; the refusals did not
    assert sample(m, "strongroom_journal_append_seconds_count") >= MINUTE
    assert sample(m, "strongroom_journal_readable") == 1
    assert MINUTE <= sample(m, "strongroom_journal_entries") <= journal_size


def compose_size(home: Home) -> int:
    svc = compose(home)
    try:
        return svc.journal.size()
    finally:
        svc.close()


def test_only_the_operators_networks_may_scrape(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    initialize(home)
    home.update_config(metrics_allow=["192.0.2.0/24"], log_format="text")
    with served(home) as url, httpx.Client(base_url=url, timeout=10) as c:
        refused = c.get("/metrics")
        assert c.get("/healthz").status_code == 200
    assert refused.status_code == 403
    assert refused.json()["reason"] == "metrics_not_allowed"
    assert "strongroom_" not in refused.text
    # the text log: one line a request, its ID in brackets
    log = (home.path / "serve.log").read_text(encoding="utf-8")
    assert f"[{refused.headers['x-request-id']}] GET /metrics 403" in log


def test_a_relayed_scrape_is_judged_by_the_client_a_trusted_proxy_names(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    initialize(home)
    svc = compose(home)
    try:

        def scrape(peer: str, **headers: str) -> int:
            client = TestClient(create_app(svc), client=(peer, 40000))
            return client.get("/metrics", headers=headers).status_code

        assert scrape("127.0.0.1") == 200
        assert scrape("::1") == 200
        assert scrape("203.0.113.9") == 403
        # a proxy on loopback that is not trusted: whoever it relays is unknown
        assert scrape("127.0.0.1", **{"X-Forwarded-For": "127.0.0.1"}) == 403
        assert scrape("127.0.0.1", Forwarded="for=127.0.0.1") == 403
        svc.settings = svc.settings.__class__(
            **{
                **vars(svc.settings),
                "trusted_proxies": ("10.0.0.5/32",),
                "metrics_allow": ("198.51.100.0/24",),
            }
        )
        assert scrape("10.0.0.5", **{"X-Forwarded-For": "198.51.100.7"}) == 200
        assert scrape("10.0.0.5", **{"X-Forwarded-For": "203.0.113.9"}) == 403
        assert scrape("10.0.0.5") == 403  # the proxy itself is not a scraper
        svc.settings = svc.settings.__class__(**{**vars(svc.settings), "metrics_allow": ()})
        assert scrape("10.0.0.5", **{"X-Forwarded-For": "198.51.100.7"}) == 403
    finally:
        svc.close()


def test_the_scrape_is_answered_when_the_door_refuses_everything_else(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    initialize(home)
    svc = compose(home)
    try:
        client = TestClient(create_app(svc), client=("127.0.0.1", 40000))
        statuses = [client.get("/v1/me").status_code for _ in range(301)]
        assert statuses[-1] == 429  # the loopback prefix's 300 a minute are spent
        scraped = client.get("/metrics")
        assert scraped.status_code == 200
        m = samples(scraped.text)
        assert (
            sample(m, "strongroom_budget_refusals_total", budget="ip_prefix_requests_minute") >= 1
        )
    finally:
        svc.close()


def test_two_workers_each_scrape_shows_every_workers_requests(
    tmp_path: Path, redis_url: str
) -> None:
    home = Home(tmp_path / "home")
    initialize(home, redis_url=redis_url)
    home.update_config(redis_prefix=f"test-{uuid.uuid4().hex[:8]}:")
    n = 40
    with served(home, workers=2) as url:
        for _ in range(n):  # a new connection each: the kernel spreads them over workers
            assert httpx.get(url + "/readyz", timeout=10).status_code == 200
        counts = {
            sample(
                samples(httpx.get(url + "/metrics", timeout=10).text),
                "strongroom_http_requests_total",
                method="GET",
                route="/readyz",
                status="200",
            )
            for _ in range(8)
        }
    assert counts == {n}, counts
