"""Linking detection over HTTP (issue 18): an insider holding a prefecture agent's login
and its second factor fills its own open cases with targets of its département, linking
and reading each; it answers every step-up with a fresh MFA and logs in again after a
session suspension. Budgets alone hold it to its 20 links a day, day after day; with the
linking and case-growth detectors on, it is suspended within its first day's 20.

Both stacks run on PostgreSQL (the relation query's SQL on the production backend) and
differ only in the policy's two detectors."""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from strongroom.policy import default_policy_text
from strongroom.registry.models import Person
from tests.conftest import pg_database
from tests.deployment import Deployment, build_deployment

DAYS = 3
TARGETS = 60
LINKS_BEFORE_APPROVAL = 10  # the shipped policy's `cases.links_before_approval`
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def defence_off() -> str:
    text = default_policy_text()
    start = text.index("  linking:\n")
    end = text.index("  context:\n")
    off = "  linking: {enabled: false}\n  case_growth: {enabled: false}\n"
    return text[:start] + off + text[end:]


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Deployment]]:
    with (
        pg_database() as reg_on,
        pg_database() as jrn_on,
        pg_database() as reg_off,
        pg_database() as jrn_off,
    ):
        deps = {
            "on": build_deployment(
                tmp_path_factory.mktemp("on"), persons=2500, registry_url=reg_on, journal_url=jrn_on
            ),
            "off": build_deployment(
                tmp_path_factory.mktemp("off"),
                persons=2500,
                registry_url=reg_off,
                journal_url=jrn_off,
                policy_text=defence_off(),
            ),
        }
        yield deps
        for dep in deps.values():
            dep.client.close()
            dep.service.close()


def targets(dep: Deployment, n: int) -> list[str]:
    """`n` persons of the busiest département, honey records left out (the honey detector
    is not what this test measures)."""
    svc = dep.service
    with svc.registry.session() as s:
        busiest = s.execute(
            select(Person.departement)
            .group_by(Person.departement)
            .order_by(func.count().desc(), Person.departement)
            .limit(1)
        ).scalar_one()
        ids = s.execute(
            select(Person.public_id).where(Person.departement == busiest).order_by(Person.id)
        ).scalars()
        found = [i for i in ids if not svc.canaries.contains(i)]
    dep.fixtures["busiest"] = busiest
    assert len(found) >= n, "the seeded registry is too small for this test"
    return found[:n]


def locked_out(r: Any) -> bool:
    """Suspended (403 contained) or its tokens revoked (401), as opposed to asked to step
    up (401 insufficient_user_authentication), which the insider answers."""
    reason = r.json().get("reason") if r.status_code in (401, 403) else None
    return (r.status_code == 403 and reason == "contained") or (
        r.status_code == 401 and reason != "insufficient_user_authentication"
    )


@dataclass
class Insider:
    """An agent's login and second factor: every request carries a fresh MFA (a step-up
    is answered before it is asked), and a session suspension is met by logging in
    again. What stops it: its principal suspended, or the budgets' hard stop."""

    dep: Deployment
    principal: str
    session: str = ""
    records: int = 0
    statuses: list[int] = field(default_factory=list)
    suspended: bool = False

    def login(self) -> None:
        """A session as the authorization server opens one after a password and a TOTP."""
        self.session = self.dep.service.sessions.create(
            principal_id=self.principal,
            client_id="strongroom-web",
            acr="urn:strongroom:acr:phr",
            auth_time=self.dep.clock.now(),
        )

    def headers(self, **claims: Any) -> dict[str, str]:
        if not self.session:
            self.login()
        return self.dep.headers(
            "prefecture",
            self.principal,
            session_id=self.session,
            acr="urn:strongroom:acr:phr",
            auth_time=self.dep.clock.now(),
            **claims,
        )

    def send(self, method: str, path: str, claims: dict[str, Any], **kw: Any) -> Any:
        self.dep.clock.advance(30)  # a human pace: the minute budgets are not the subject
        r = self.dep.client.request(method, path, headers=self.headers(**claims), **kw)
        if locked_out(r):
            self.login()  # again: a new session, a fresh token
            r = self.dep.client.request(method, path, headers=self.headers(**claims), **kw)
            self.suspended = locked_out(r)
        self.statuses.append(r.status_code)
        return r

    def open_case(self) -> Any:
        return self.send(
            "POST",
            "/v1/cases",
            {"purpose": "case_management"},
            json={"kind": "renewal", "reference": "ARR-2026-0412"},
        )

    def link(self, case: str, subject: str) -> Any:
        return self.send(
            "POST",
            f"/v1/cases/{case}/subjects",
            {"purpose": "case_management"},
            json={"subject_id": subject, "reason": "named in the case file"},
        )

    def read(self, case: str, subject: str) -> None:
        r = self.send("GET", f"/v1/persons/{subject}", {"case": case})
        self.records += r.status_code == 200

    def harvest(self, subjects: list[str], days: int) -> None:
        """Link and read each target through its own cases, a new case whenever the
        current one reaches the links that go without a second agent; refused by a
        budget, it waits what the answer's Retry-After says and logs in again."""
        queue = list(subjects)
        end = self.dep.clock.now() + days * 86_400
        case, on_case = None, 0
        while queue and not self.suspended and self.dep.clock.now() < end:
            if case is None or on_case >= LINKS_BEFORE_APPROVAL:
                r = self.open_case()
                case, on_case = (str(r.json()["id"]), 0) if r.status_code == 201 else (None, 0)
            else:
                r = self.link(case, queue[0])
                if r.status_code == 201:
                    queue.pop(0)
                    on_case += 1
                    if r.json()["status"] == "active":
                        self.read(case, r.json()["subject"])
            if r.status_code == 429:
                self.dep.clock.advance(float(r.headers["Retry-After"]))
                self.login()


def morning(dep: Deployment) -> None:
    """The next 09:00 in Paris: the insider works office hours, as the agent it is."""
    now = datetime.fromtimestamp(dep.clock.now(), PARIS)
    nine = now.replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=1)
    dep.clock.set(nine.timestamp())


def run(dep: Deployment) -> Insider:
    morning(dep)
    subjects = targets(dep, TARGETS)
    me = dep.service.admin.add_principal(
        role="prefecture", departement=dep.fixtures["busiest"], label="insider"
    )
    insider = Insider(dep, me)
    insider.harvest(subjects, DAYS)
    return insider


@pytest.fixture(scope="module")
def runs(stacks: dict[str, Deployment]) -> dict[str, Insider]:
    return {name: run(dep) for name, dep in stacks.items()}


def test_budgets_alone_let_the_insider_read_twenty_a_day(runs: dict[str, Insider]) -> None:
    off = runs["off"]
    assert not off.suspended
    assert 429 in off.statuses
    # Day after day: the link budget is a rate, not a bound.
    assert off.records > 20 * (DAYS - 1), off.records


def test_detection_suspends_the_insider_within_twenty_records(
    runs: dict[str, Insider], stacks: dict[str, Deployment]
) -> None:
    on, off = runs["on"], runs["off"]
    assert on.suspended
    assert on.records <= 20 < off.records
    # Suspended, not throttled into the next day: no budget refusal came first.
    assert 429 not in on.statuses
    dep = stacks["on"]
    containments = [
        c for c in dep.service.detector.list_containments() if c.principal == on.principal
    ]
    assert any(c.action == "suspend_principal" for c in containments)
    assert {"linking", "case_growth"} <= {f for c in containments for f in c.families}


def test_the_links_journal_what_the_detectors_judge(stacks: dict[str, Deployment]) -> None:
    """Each link's entry carries the case's kind, how many subjects it holds and whether
    the subject relates to it: the detectors' evidence is in the journal, no value."""
    dep = stacks["on"]
    journal = dep.service.journal
    journal.flush()
    entries = [
        e
        for e in (journal.entry(i) for i in range(journal.size()))
        if e.get("endpoint") == "POST /v1/cases/{id}/subjects" and e.get("outcome") == "allowed"
    ]
    assert entries
    for e in entries:
        assert {"kind", "links", "related"} <= set(e["detail"]), json.dumps(e)
        assert e["detail"]["kind"] == "renewal" and e["detail"]["related"] is False
    assert max(e["detail"]["links"] for e in entries) == LINKS_BEFORE_APPROVAL


def test_a_subject_relates_to_a_case_by_a_weapon_or_by_the_unit(
    stacks: dict[str, Deployment],
) -> None:
    """Two holders a weapon passed between are related on one case; a subject already on
    another open case of the unit is related to the next, not once that case is closed;
    a stranger is not."""
    from strongroom.registry.models import Transfer

    dep = stacks["on"]
    morning(dep)
    svc = dep.service
    with svc.registry.session() as s:
        pairs = s.execute(
            select(Transfer.from_person_id, Transfer.to_person_id)
            .where(Transfer.from_person_id.is_not(None), Transfer.to_person_id.is_not(None))
            .order_by(Transfer.id)
        ).all()
        by_pk = dict(s.execute(select(Person.id, Person.public_id)).all())
        dept_of = dict(s.execute(select(Person.public_id, Person.departement)).all())
    a, b = next(
        (by_pk[x], by_pk[y])
        for x, y in pairs
        if x != y and not svc.canaries.contains(by_pk[x]) and not svc.canaries.contains(by_pk[y])
    )
    stranger = next(
        p for p in targets(dep, 5) if p not in (a, b) and dept_of[p] == dep.fixtures["busiest"]
    )
    me = svc.admin.add_principal(role="prefecture", departement=dept_of[a], label="related")
    agent = Insider(dep, me)
    first = agent.open_case().json()["id"]
    second = agent.open_case().json()["id"]
    for case, subject in ((first, a), (first, b), (first, stranger), (second, a)):
        assert agent.link(case, subject).status_code == 201
    for case in (first, second):
        closed = agent.send("POST", f"/v1/cases/{case}/close", {"purpose": "case_management"})
        assert closed.status_code == 200, closed.text
    third = agent.open_case().json()["id"]
    assert agent.link(third, a).status_code == 201
    svc.journal.flush()
    size = svc.journal.size()
    mine = [
        svc.journal.entry(i)
        for i in range(size - 40, size)
        if svc.journal.entry(i).get("principal") == me
        and svc.journal.entry(i).get("endpoint") == "POST /v1/cases/{id}/subjects"
    ]
    assert [(e["detail"]["linked"], e["detail"]["related"]) for e in mine] == [
        (a, False),  # the case's first subject, new to the unit
        (b, True),  # a weapon passed between it and a
        (stranger, False),
        (a, True),  # on another open case of the unit already
        (a, False),  # its cases closed: the unit's past work is no relation
    ]
