"""Collusion on the real engine: four eyes turned into a ring. Agents who approved links
for an insider since suspended are suspended in turn once their own cases give them away;
the same agents without the approvals, or approving for a colleague never suspended, are
only alerted on."""

from __future__ import annotations

import dataclasses
from typing import Any

from detect_testkit import config, engine, families, only, prefecture_event
from test_detect_linking import actions_of, link, read

from strongroom.clock import FakeClock
from strongroom.detect import DetectionEngine
from strongroom.endpoints import CASE_APPROVE_LINK
from strongroom.events import AccessEvent

INSIDER = "agent-insider"
RING = "agent-ring"


def approve(clock: FakeClock, case: str, linker: str, principal: str = RING) -> AccessEvent:
    """The event `POST /v1/cases/{id}/subjects/{subject}/approve` journals."""
    ev = prefecture_event(
        clock, CASE_APPROVE_LINK.id, "case_management", principal, session="s-2", ip="172.16.3.10"
    )
    return dataclasses.replace(ev, detail={"case": case, "approved": ev.subjects[0], "for": linker})


def insider_until_suspended(eng: DetectionEngine, clock: FakeClock) -> list[Any]:
    """The insider fills its own renewal cases with unrelated targets, reading each, until
    linking and case growth suspend it; the ring agent approves two of its links on the
    way."""
    acts: list[Any] = []
    for i in range(30):
        case = f"own-{i // 10}"
        acts += eng.observe(link(clock, case, i % 10 + 1, principal=INSIDER))
        if i in (10, 11):
            clock.advance(5)
            eng.observe(approve(clock, case, INSIDER))
        clock.advance(40)
        acts += eng.observe(read(clock, case, principal=INSIDER))
        clock.advance(40)
        if any(a.action == "suspend_principal" for a in acts):
            return acts
    raise AssertionError("the insider was never suspended")


def ring_agent_fills_a_case(eng: DetectionEngine, clock: FakeClock, links: int) -> list[Any]:
    """The ring agent's own renewal case, a few unrelated subjects: case growth alone."""
    out: list[Any] = []
    for n in range(1, links + 1):
        clock.advance(60)
        out += actions_of(eng, [link(clock, "ring-case", n, principal=RING)])
    return out


def test_an_approver_of_a_suspended_insider_is_suspended_with_its_own_case_growth() -> None:
    clock = FakeClock()
    eng = engine(clock, config())
    insider_until_suspended(eng, clock)
    acts = ring_agent_fills_a_case(eng, clock, 6)
    suspended = [a for a in acts if a.action == "suspend_principal"]
    assert suspended, [a.action for a in acts]
    assert {"collusion", "case_growth"} <= families(suspended)


def test_the_same_agent_without_the_approvals_is_only_alerted_on() -> None:
    """The defence off: the ring agent's case growth alone, no approval for the insider."""
    clock = FakeClock()
    eng = engine(clock, config())
    acts: list[Any] = []
    for i in range(30):  # the same insider, nobody approving for it
        case = f"own-{i // 10}"
        acts += eng.observe(link(clock, case, i % 10 + 1, principal=INSIDER))
        clock.advance(80)
        acts += eng.observe(read(clock, case, principal=INSIDER))
        if any(a.action == "suspend_principal" for a in acts):
            break
    ring = ring_agent_fills_a_case(eng, clock, 6)
    assert ring and not any(a.action == "suspend_principal" for a in ring)
    assert "collusion" not in families(ring)


def test_approving_for_a_colleague_never_suspended_raises_nothing() -> None:
    clock = FakeClock()
    eng = engine(clock, only({"collusion": {}}))
    for n in range(1, 4):  # an honest colleague's seizure, its third link approved
        eng.observe(link(clock, "seizure-1", n, kind="seizure", principal=INSIDER))
        clock.advance(60)
    eng.observe(approve(clock, "seizure-1", INSIDER))
    clock.advance(60)
    eng.observe(read(clock, "ring-own", principal=RING))
    assert eng.risk(RING) == 0


def test_a_lifted_suspension_no_longer_counts_against_its_approvers() -> None:
    clock = FakeClock()
    eng = engine(clock, config())
    insider_until_suspended(eng, clock)
    for c in eng.list_containments(include_lifted=False):
        if c.principal == INSIDER and eng.containment(c.id).lifted_at is None:  # type: ignore[union-attr]
            eng.lift(c.id, by="admin-1", why="wrongful: the cases were real")
    acts = ring_agent_fills_a_case(eng, clock, 6)
    assert "collusion" not in families(acts)
    assert not any(a.action == "suspend_principal" for a in acts)
