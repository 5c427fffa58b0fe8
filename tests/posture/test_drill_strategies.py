"""The drill's strategies: what each asks, what it learns from answers (on a scripted
registry, no server), and each door of the real app in process (a seeded deployment
behind TestClient) with what an attacker would bring."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from strongroom.config import Home
from strongroom.initialize import initialize
from strongroom.policy import default_policy_text, load_policy_text
from strongroom.posture.drill import DrillConfig, run_drill
from strongroom.posture.drill_baseline import baseline_policy, copy_home
from strongroom.posture.drill_knowledge import FAMILY_NAMES, Knowledge, Known
from strongroom.posture.drill_strategies import Probe, build
from tests.deployment import Deployment
from tests.posture.drill_testkit import Answer, leak, play

URL = "http://127.0.0.1:8000"
SEED = 7  # tests/deployment.py seeds with 7


def registry(holders: dict[str, tuple[str, str]]) -> Answer:
    """A verification desk over permit number -> (family name, birth date)."""

    def answer(p: Probe) -> tuple[int, Any]:
        if p.kind == "ledger":
            return 200, {"items": [], "next_cursor": None}
        assert p.kind == "verify" and p.body is not None
        held = holders.get(p.body["permit_number"])
        if held == (p.body["family_name"], p.body["birth_date"]):
            return 200, {"valid": True, "categories": ["C"], "expires": "2030-01", "banned": False}
        return 200, {"valid": False, "categories": [], "expires": None, "banned": None}

    return answer


# --- learning, on scripted answers ---------------------------------------------------------
def test_names_answers_showed_come_first_then_the_initials_order_the_rest() -> None:
    k = Knowledge([Known(family_name="Zidane", birth_date="1972-06-23")])
    assert k.candidate_names()[0] == "Zidane"
    k.learn_ledger_item({"identity": {"family_name": "R*******"}, "weapon": {"serial": "X1"}})
    names = k.candidate_names()
    assert names[1].startswith("R") and k.serials == ["X1"]
    k.learn_confirmed(Known(family_name="Quenot", permit_number="FR-29-00000001"))
    assert k.candidate_names()[0] == "Quenot" and k.departements["29"] == 1


def test_a_confirmed_name_feeds_the_guesses_for_another_number() -> None:
    """Two permits of one family: the leak has the first in full and only the second's
    number and the holder's birth year. The name the first confirms is guessed first."""
    holders = {
        "FR-29-48151623": ("Quenot", "1971-03-02"),
        "FR-29-42424242": ("Quenot", "1975-09-14"),
    }
    rows = [
        Known(family_name="Quenot", birth_date="1971-03-02", permit_number="FR-29-48151623"),
        Known(permit_number="FR-29-42424242", birth_year=1975),
    ]
    k = Knowledge(rows)
    sent = play(build("dealer", k, random.Random(1)), registry(holders))
    found = [p for p in sent if registry(holders)(p)[1].get("banned") is not None]
    assert len(found) == 2
    # One confirmation, then the days of 1975 under the learned name: found on day 257.
    assert len([p for p in sent if p.kind == "verify"]) == 1 + 257
    # Without the first row, the public list is tried first: not found within the row's
    # attempts.
    alone = play(build("dealer-buyers", Knowledge(rows[1:]), random.Random(1)), registry(holders))
    assert all(registry(holders)(p)[1].get("banned") is None for p in alone)
    assert alone[0].body is not None and alone[0].body["family_name"] == FAMILY_NAMES[0]


def test_permit_numbers_count_up_in_the_registry_format() -> None:
    rows = [Known(family_name="Quenot", birth_date="1971-03-02", departement="2A")]
    sent = play(build("dealer-permits", Knowledge(rows), random.Random(3)), registry({}))
    numbers = [p.body["permit_number"] for p in sent if p.body]
    assert len(numbers) == 400  # the row's attempts, then nothing left to try
    assert all(re.fullmatch(r"FR-2A-\d{8}", n) for n in numbers)
    digits = [int(n[-8:]) for n in numbers]
    assert digits == list(range(digits[0], digits[0] + 400))


def test_the_enumeration_follows_the_departement_answers_showed() -> None:
    holders = {"FR-13-11111111": ("Adam", "1980-01-01")}
    rows = [
        Known(family_name="Adam", birth_date="1980-01-01", permit_number="FR-13-11111111"),
        Known(family_name="Borel", birth_date="1966-05-05"),
    ]
    sent = play(build("dealer", Knowledge(rows), random.Random(3)), registry(holders))
    guessed = [p.body["permit_number"] for p in sent if p.body and p.origin is not None]
    assert guessed and all(n.startswith("FR-13-") for n in guessed)


def test_ledger_pages_follow_the_cursor_and_stop_at_a_refusal() -> None:
    pages = {
        "": {"items": [{"id": "s1", "identity": {"family_name": "M*******"}}], "next_cursor": "c2"},
        "c2": {
            "items": [{"id": "s2", "identity": {"family_name": "D*******"}}],
            "next_cursor": None,
        },
    }

    def answer(p: Probe) -> tuple[int, Any]:
        cursor = p.path.partition("cursor=")[2]
        return 200, pages[cursor]

    k = Knowledge()
    sent = play(build("dealer-ledger", k, random.Random(1)), answer)
    assert [p.path for p in sent] == ["/v1/ledger", "/v1/ledger?cursor=c2"]
    assert all(p.purpose == "ledger_keeping" for p in sent)
    assert set(k.initials) == {"M", "D"}
    refused = play(
        build("dealer", Knowledge(), random.Random(1)),
        lambda p: (403, {"reason": "purpose_not_allowed"}),
    )
    assert len(refused) == 1


def test_case_reads_search_link_read_and_stop_when_links_wait() -> None:
    rows = [Known(family_name=f"N{i}", birth_date="1970-01-01") for i in range(14)]
    links = 0

    def answer(p: Probe) -> tuple[int, Any]:
        nonlocal links
        if p.kind == "search":
            assert p.body is not None
            return 200, {"items": [{"id": f"id-{p.body['family_name']}"}]}
        if p.kind == "link":
            links += 1
            return 201, {"status": "active" if links <= 10 else "pending"}
        if p.kind == "read":
            i = p.path.rsplit("-", 1)[1]
            return 200, {
                "id": p.path,
                "identity": {"family_name": i, "birth_date": "1970-01-01"},
                "permits": [{"number": f"FR-75-000000{len(i):02d}"}],
                "weapons": [{"serial": f"BEA{len(i):08d}"}],
            }
        raise AssertionError(p)

    k = Knowledge(rows)
    sent = play(build("prefecture-reads", k, random.Random(1)), answer)
    kinds = [p.kind for p in sent]
    assert kinds[:3] == ["search", "link", "read"]
    assert kinds.count("read") == 10 and kinds.count("link") == 11
    assert all(p.path.startswith("/v1/cases/{case}/") for p in sent if p.kind == "link")
    assert len(k.names) == 10 and k.identities and k.serials


def test_the_baseline_policy_puts_every_budget_and_detector_in_shadow() -> None:
    policy = load_policy_text(baseline_policy(default_policy_text()))
    assert policy.budgets and all(b.shadow for b in policy.budgets)
    assert policy.detectors and all(d.shadow for d in policy.detectors.values())
    assert all(d.enabled for d in policy.detectors.values())


# --- each door of the real app, in process ---------------------------------------------------
def _drill(dep: Deployment, strategy: str, tokens: list[str], known: list[Known], **kw: Any):
    config = DrillConfig(url=URL, strategy=strategy, seed=3, **kw)
    with TestClient(dep.app, base_url=URL, raise_server_exceptions=False) as http:
        return run_drill(
            config,
            tokens=tokens,
            known=known,
            http=http,
            clock=dep.clock,
            sleep=dep.clock.advance,
        )


@pytest.fixture(scope="module")
def leaked(deployment: Deployment) -> tuple[list[Known], list[Known]]:
    return leak(deployment.service, SEED)


def test_police_searches_of_a_leaked_list_stop_at_the_police_budgets(
    deployment: Deployment, leaked: tuple[list[Known], list[Known]]
) -> None:
    deployment.clock.advance(3600)
    pid = deployment.service.admin.add_principal(role="police", label="drill")
    _, identities = leaked
    report = _drill(deployment, "police-search", [deployment.token("police", pid)], identities)
    assert report.records > 0 and report.stopped, report.to_dict()
    assert report.first_stop is not None and report.first_stop.layer in {"budget", "detector"}
    assert report.subjects <= 60


def test_prefecture_reads_through_a_case_learn_from_the_records(
    deployment: Deployment, leaked: tuple[list[Known], list[Known]]
) -> None:
    deployment.clock.advance(3600)
    dept = deployment.fixtures["departement"]
    agent = deployment.service.admin.add_principal(
        role="prefecture", departement=dept, label="drill"
    )
    case = _open_case(deployment, agent)
    tokens = [
        deployment.token(
            "prefecture", agent, case=case, justification="Renewal review of the case file"
        ),
        deployment.token("prefecture", agent, purpose="case_management"),
    ]
    _, identities = leaked
    mine = [r for r in identities if r.departement == dept]
    assert len(mine) >= 3
    report = _drill(deployment, "prefecture-reads", tokens, mine, max_requests=200)
    reads = report.by_kind.get("read", 0)
    assert reads > 0 and report.by_kind.get("search", 0) > 0, report.to_dict()
    assert report.learned["names"] >= 1
    # Need to know holds with or without budgets: ten links a case, then a second agent.
    assert reads <= 10


def _open_case(dep: Deployment, agent: str) -> str:
    headers = dep.headers("prefecture", agent, purpose="case_management")
    r = dep.client.post(
        "/v1/cases", json={"kind": "renewal", "reference": "DRILL-0001"}, headers=headers
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_a_token_for_another_door_is_stopped_by_the_policy(deployment: Deployment) -> None:
    """The issue's report: a dealer token refused on every request was "not stopped"."""
    deployment.clock.advance(3600)
    pid = deployment.service.admin.add_principal(
        role="dealer", dealer=deployment.fixtures["dealer_id"], label="drill"
    )
    report = _drill(deployment, "name-sweep", [deployment.token("dealer", pid)], [])
    assert report.stopped and report.records == 0
    assert report.first_stop is not None and report.first_stop.layer == "policy"
    assert report.requests <= 20


def test_the_baseline_copy_holds_no_containment_and_counts_alone(tmp_path: Path) -> None:
    from strongroom.detect.containment import new_containment
    from strongroom.detect.store import SqlContainmentStore
    from strongroom.registry.db import make_engine

    home = Home(tmp_path / "home")
    initialize(home)
    from strongroom.journal.cosignature import Cosigner

    witness = f"http://127.0.0.1:9 {Cosigner.generate('w.test/w1').verifier().verifier_key}"
    home.update_config(redis_url="redis://127.0.0.1:6379/0", witnesses=[witness])
    engine = make_engine(home.settings().registry_url)
    try:
        store = SqlContainmentStore(engine)
        store.add(new_containment("block_ip_prefix", "p-1", 1.0, ip_prefix="127.0.0.0/24"))
        assert store.active(2.0)
    finally:
        engine.dispose()
    copy = copy_home(home, tmp_path / "copy", issuer="http://127.0.0.1:9999")
    settings = copy.settings()
    assert settings.redis_url is None and settings.issuer == "http://127.0.0.1:9999"
    # Its journal grows apart from the target's: a witness would see a fork.
    assert settings.witnesses == () and home.settings().witnesses == (witness,)
    assert settings.registry_url.startswith(f"sqlite:///{copy.path}")
    engine = make_engine(settings.registry_url)
    try:
        assert SqlContainmentStore(engine).active(2.0) == []
    finally:
        engine.dispose()
    policy = load_policy_text(copy.policy_path.read_text(encoding="utf-8"))
    assert all(b.shadow for b in policy.budgets)
    # The target's own home is untouched.
    assert load_policy_text(home.policy_path.read_text(encoding="utf-8")).budgets[0].shadow is False


def test_a_server_that_does_not_answer_stops_the_account_not_the_drill() -> None:
    import httpx

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    with httpx.Client(transport=httpx.MockTransport(slow)) as http:
        report = run_drill(DrillConfig(url=URL, strategy="name-sweep"), tokens=["t"], http=http)
    assert report.stopped and report.requests == 1 and report.statuses == {"no answer": 1}
    assert report.first_stop is not None and report.first_stop.layer == "network"
    assert report.first_stop.name == "ReadTimeout"
