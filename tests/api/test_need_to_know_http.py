"""Need to know, tried as an insider holding an agent's login would, over HTTP: full
records only for subjects linked to an open case of the agent's unit; every other way
around it answers exactly as a missing record does."""

from __future__ import annotations

import statistics
import time
import uuid
import zoneinfo
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from strongroom.registry.models import Person
from tests.deployment import Deployment, build_deployment

MISSING = "00000000-0000-4000-8000-000000000000"
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    """A registry large enough that one département holds the tens of persons an insider
    would try to link (SQLite; the case storage runs on PostgreSQL in the suites that
    build their stack on both)."""
    dep = build_deployment(tmp_path_factory.mktemp("home"), persons=2500)
    with dep.service.registry.session() as s:
        busiest = s.execute(
            select(Person.departement)
            .group_by(Person.departement)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar_one()
    dep.fixtures["departement"] = busiest
    dep.fixtures["person_elsewhere"] = s_elsewhere(dep, busiest)
    yield dep
    dep.client.close()
    dep.service.close()


def s_elsewhere(dep: Deployment, departement: str) -> str:
    with dep.service.registry.session() as s:
        return s.execute(
            select(Person.public_id).where(Person.departement != departement).limit(1)
        ).scalar_one()


@pytest.fixture
def deployment(stack: Deployment) -> Deployment:
    """The next morning at 09:00 in Paris: each test's budgets start afresh, and the
    agents work office hours (the context detector's off-hours signal is not what these
    tests are about)."""
    now = datetime.fromtimestamp(stack.clock.now(), PARIS)
    nine = now.replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=1)
    stack.clock.set(nine.timestamp())
    return stack


def persons_in(dep: Deployment, departement: str, n: int) -> list[str]:
    svc = dep.service
    with svc.registry.session() as s:
        ids = s.execute(select(Person.public_id).where(Person.departement == departement)).scalars()
        found = [i for i in ids if not svc.canaries.contains(i)]
    assert len(found) >= n, "the seeded registry is too small for this test"
    rng = __import__("random").Random(len(found))
    return rng.sample(found, n)


def agent(dep: Deployment, departement: str | None = None, role: str = "prefecture") -> str:
    return dep.service.admin.add_principal(
        role=role, departement=departement or dep.fixtures["departement"], label="ntk test"
    )


def read(dep: Deployment, person: str, case: str, principal: str, role: str = "prefecture"):
    dep.clock.advance(2)  # a human's pace: the minute budgets are not what is tested here
    return dep.client.get(f"/v1/persons/{person}", headers=dep.headers(role, principal, case=case))


def open_case(dep: Deployment, principal: str, role: str = "prefecture") -> str:
    kind = "investigation" if role == "police" else "renewal"
    r = dep.client.post(
        "/v1/cases",
        json={"kind": kind, "reference": "ARR-2026-0412"},
        headers=dep.headers(role, principal, purpose="case_management"),
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def link(dep: Deployment, principal: str, case: str, subject: str, role: str = "prefecture"):
    dep.clock.advance(2)
    return dep.client.post(
        f"/v1/cases/{case}/subjects",
        json={"subject_id": subject, "reason": "named in the case file"},
        headers=dep.headers(role, principal, purpose="case_management"),
    )


def same_answer(a, b) -> None:
    """Two answers a client cannot tell apart: status, every header but the request's own
    random ID, and the body but for the request's own path."""
    assert a.status_code == b.status_code
    assert a.headers["x-request-id"] != b.headers["x-request-id"]  # fresh, random each time
    headers_a = {k: v for k, v in a.headers.items() if k != "x-request-id"}
    headers_b = {k: v for k, v in b.headers.items() if k != "x-request-id"}
    assert headers_a == headers_b
    body_a, body_b = a.json(), b.json()
    body_a.pop("instance", None), body_b.pop("instance", None)
    assert body_a == body_b


def test_a_case_reads_its_linked_subjects_only(deployment: Deployment) -> None:
    dep = deployment
    me = agent(dep)
    linked, other = persons_in(dep, dep.fixtures["departement"], 2)
    case = open_case(dep, me)
    assert link(dep, me, case, linked).status_code == 201
    assert read(dep, linked, case, me).status_code == 200
    # An unlinked subject of the same département, a made-up ID: one answer.
    refused = read(dep, other, case, me)
    assert refused.status_code == 404
    fresh = agent(dep)
    fresh_case = open_case(dep, fresh)
    # The same first request from an agent in the same state, for a made-up ID.
    me2 = agent(dep)
    case2 = open_case(dep, me2)
    a = read(dep, other, case2, me2)
    b = read(dep, MISSING, fresh_case, fresh)
    same_answer(a, b)
    assert a.json()["reason"] == "not_found"


@pytest.mark.parametrize("how", ["made_up", "malformed", "other_unit", "closed", "expired"])
def test_ways_around_the_case_disclose_nothing(deployment: Deployment, how: str) -> None:
    dep = deployment
    me = agent(dep)
    (subject,) = persons_in(dep, dep.fixtures["departement"], 1)
    if how == "made_up":
        case = str(uuid.uuid4())
    elif how == "malformed":
        case = "CASE-2026-0001"
    elif how == "other_unit":
        # A case of another département's prefecture, with the subject linked to it.
        outsider = agent(dep, departement="2A" if dep.fixtures["departement"] != "2A" else "13")
        case = open_case(dep, outsider)
        link(dep, outsider, case, subject)
    else:
        case = open_case(dep, me)
        assert link(dep, me, case, subject).status_code == 201
        assert read(dep, subject, case, me).status_code == 200
        if how == "closed":
            closed = dep.client.post(
                f"/v1/cases/{case}/close",
                headers=dep.headers("prefecture", me, purpose="case_management"),
            )
            assert closed.status_code == 200, closed.text
        else:
            dep.clock.advance(91 * 86_400)
    r = read(dep, subject, case, me)
    assert r.status_code == 404
    assert r.json()["reason"] == "not_found"
    assert r.headers["content-type"].startswith("application/problem+json")


def test_an_insider_linking_by_the_hundred_gets_at_most_twenty_records(
    deployment: Deployment,
) -> None:
    """Forty unrelated subjects linked in a row to four of its own cases: the link budget
    allows twenty; before it is spent the linking and case-growth detectors ask for a
    second factor this login does not hold, and every request after is refused. (An
    insider who holds it is suspended: test_link_detection_http.py.)"""
    dep = deployment
    me = agent(dep)
    subjects = persons_in(dep, dep.fixtures["departement"], 40)
    cases = [open_case(dep, me) for _ in range(4)]
    answers = [link(dep, me, cases[i % 4], subject) for i, subject in enumerate(subjects)]
    linked = [r.status_code for r in answers].count(201)
    assert linked < 20
    for r in answers[linked:]:
        assert r.status_code == 401 and r.json()["reason"] == "insufficient_user_authentication"
    records = 0
    for i, subject in enumerate(subjects):
        r = read(dep, subject, cases[i % 4], me)
        assert r.status_code == 401
        records += r.status_code == 200
    assert records == 0
    contained = [c for c in dep.service.detector.list_containments() if c.principal == me]
    assert {"linking", "case_growth"} <= {f for c in contained for f in c.families}


def test_links_past_the_threshold_wait_for_a_second_agent(deployment: Deployment) -> None:
    dep = deployment
    me, colleague = agent(dep), agent(dep)
    subjects = persons_in(dep, dep.fixtures["departement"], 12)
    case = open_case(dep, me)
    answers = [link(dep, me, case, s).json()["status"] for s in subjects]
    assert answers == ["active"] * 10 + ["pending"] * 2
    last = subjects[-1]
    assert read(dep, last, case, me).status_code == 404  # pending grants nothing
    approve = f"/v1/cases/{case}/subjects/{last}/approve"
    own = dep.client.post(approve, headers=dep.headers("prefecture", me, purpose="case_management"))
    assert own.status_code == 403 and own.json()["reason"] == "four_eyes"
    ok = dep.client.post(
        approve, headers=dep.headers("prefecture", colleague, purpose="case_management")
    )
    assert ok.status_code == 200, ok.text
    assert read(dep, last, case, me).status_code == 200
    # A colleague of the unit works through the unit's case too.
    assert read(dep, last, case, colleague).status_code == 200


def test_a_police_link_outside_its_departement_waits(deployment: Deployment) -> None:
    dep = deployment
    officer = agent(dep, departement=dep.fixtures["departement"], role="police")
    outside = dep.fixtures["person_elsewhere"]
    (inside,) = persons_in(dep, dep.fixtures["departement"], 1)
    case = open_case(dep, officer, role="police")
    assert link(dep, officer, case, inside, role="police").json()["status"] == "active"
    assert link(dep, officer, case, outside, role="police").json()["status"] == "pending"


def test_the_units_queue_of_links_waiting_and_a_rejection(deployment: Deployment) -> None:
    """The unit's agents see their unit's links that wait (their own marked) and decide
    the others'; auditors and administrators see every unit's queue and decide nothing."""
    dep = deployment
    officer = agent(dep, role="police")
    colleague = agent(dep, role="police")
    prefecture = agent(dep)  # the same département, another unit
    case = open_case(dep, officer, role="police")
    outside = dep.fixtures["person_elsewhere"]
    assert link(dep, officer, case, outside, role="police").json()["status"] == "pending"

    def queue(principal: str, role: str = "police", status: str = "pending") -> list[dict]:
        r = dep.client.get(
            f"/v1/cases/pending-links?status={status}",
            headers=dep.headers(role, principal, purpose="case_management"),
        )
        assert r.status_code == 200, r.text
        return [i for i in r.json()["items"] if i["case"] == case]

    (mine,) = queue(officer)
    assert mine["subject"] == outside and mine["yours"] and mine["reason"]
    assert [i["yours"] for i in queue(colleague)] == [False]
    assert queue(prefecture, role="prefecture") == []  # another unit's queue
    for role in ("auditor", "admin"):
        seen = dep.client.get("/v1/reviews/case-links", headers=dep.headers(role))
        assert seen.status_code == 200, seen.text
        assert [i["subject"] for i in seen.json()["items"] if i["case"] == case] == [outside]
    reject = f"/v1/cases/{case}/subjects/{outside}/reject"
    refused = dep.client.post(reject, json={"note": "not for me"}, headers=dep.headers("admin"))
    assert refused.status_code == 403
    own = dep.client.post(
        reject,
        json={"note": "my own link"},
        headers=dep.headers("police", officer, purpose="case_management"),
    )
    assert own.status_code == 403 and own.json()["reason"] == "four_eyes"
    short = dep.client.post(
        reject,
        json={"note": "no"},
        headers=dep.headers("police", colleague, purpose="case_management"),
    )
    assert short.status_code == 400
    done = dep.client.post(
        reject,
        json={"note": "outside the investigation's scope"},
        headers=dep.headers("police", colleague, purpose="case_management"),
    )
    assert done.status_code == 200 and done.json()["status"] == "rejected", done.text
    assert queue(officer) == []
    (decided,) = queue(officer, status="rejected")
    assert decided["decided_by"] == colleague
    rejected = dep.client.get(
        f"/v1/persons/{outside}",
        headers=dep.headers(
            "police",
            officer,
            case=case,
            purpose="investigation",
            justification="Judicial investigation, letter of request 2026-118",
            acr="urn:strongroom:acr:phr",
            auth_time=dep.clock.now(),
        ),
    )
    assert rejected.status_code == 404, rejected.text  # a rejected link grants nothing
    again = dep.client.post(
        reject,
        json={"note": "outside the scope, twice"},
        headers=dep.headers("police", colleague, purpose="case_management"),
    )
    assert again.status_code == 404
    journal = dep.service.journal
    journal.flush()
    entries = [journal.entry(i) for i in range(max(0, journal.size() - 40), journal.size())]
    rejects = [
        e for e in entries if e.get("endpoint") == "POST /v1/cases/{id}/subjects/{subject}/reject"
    ]
    outcomes = ["refused"] * 3 + ["allowed", "refused"]  # admin, own, short note, done, again
    assert [e["outcome"] for e in rejects] == outcomes
    assert rejects[3]["principal"] == colleague
    assert rejects[3]["detail"]["note"] == "outside the investigation's scope"


@pytest.mark.parametrize(
    ("case", "subject", "why"),
    [
        ("unknown", "real", "unknown case"),
        ("closed", "real", "closed case"),
        ("other_unit", "real", "another unit's case"),
        ("malformed", "real", "malformed case ID"),
        ("mine", "missing", "a subject that does not exist"),
        ("mine", "malformed", "a malformed subject ID"),
    ],
)
def test_bad_link_requests_say_only_no(
    deployment: Deployment, case: str, subject: str, why: str
) -> None:
    dep = deployment
    me = agent(dep)
    (real,) = persons_in(dep, dep.fixtures["departement"], 1)
    case_id = {
        "unknown": str(uuid.uuid4()),
        "malformed": "CASE-0001%27--",
        "mine": None,
        "closed": None,
        "other_unit": None,
    }[case]
    if case in ("mine", "closed"):
        case_id = open_case(dep, me)
    if case == "closed":
        dep.client.post(
            f"/v1/cases/{case_id}/close",
            headers=dep.headers("prefecture", me, purpose="case_management"),
        )
    if case == "other_unit":
        case_id = open_case(
            dep, agent(dep, departement="13" if dep.fixtures["departement"] != "13" else "2A")
        )
    subject_id = {"real": real, "missing": MISSING, "malformed": "' OR 1=1 --"}[subject]
    r = link(dep, me, case_id, subject_id)
    assert r.status_code == 404, (why, r.text)
    body = r.json()
    assert body["reason"] == "not_found" and body["detail"] == (
        "no such case or subject, or not one you may use"
    ), why


def test_out_of_scope_and_missing_take_the_same_time(deployment: Deployment) -> None:
    """A real person elsewhere and a made-up ID, asked in pairs: the median of the pairs'
    differences is within a tenth of an answer's time (no timing oracle on existence).
    Pairs, not two medians: the machine's load moves both requests of a pair alike. A
    fresh agent every few requests, so the enumeration detector (which these misses feed)
    stays out of it."""
    dep = deployment
    elsewhere = dep.fixtures["person_elsewhere"]
    times: dict[str, list[float]] = {"real": [], "missing": []}
    for i in range(120):
        if i % 6 == 0:
            me = agent(dep)
            headers = dep.headers("prefecture", me, case=open_case(dep, me))
        pair = [("real", elsewhere), ("missing", MISSING)]
        # Each goes first half the time: the first request after a new agent or token
        # pays for warming caches, which is not an oracle on existence.
        for kind, pid in pair if i % 2 == 0 else pair[::-1]:
            dep.clock.advance(2)
            started = time.perf_counter()
            r = dep.client.get(f"/v1/persons/{pid}", headers=headers)
            times[kind].append(time.perf_counter() - started)
            assert r.status_code == 404, (i, r.text)
    gap = statistics.median(r - m for r, m in zip(times["real"], times["missing"], strict=True))
    answer = statistics.median(times["real"] + times["missing"])
    assert abs(gap) < 0.1 * answer, (gap, answer)
