"""Need to know's two detectors on the real engine, fed the events the case tasks emit: an
agent linking many unrelated subjects (linking) and cases that grow beyond their kind or
without anyone reading through them (case growth). Each alone only alerts; together they
suspend. A legitimate agent's pace and a legitimate large case stay below containment."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from detect_testkit import config, engine, families, only, prefecture_event

from strongroom.clock import FakeClock
from strongroom.detect import DetectionEngine
from strongroom.endpoints import CASE_LINK, PERSON
from strongroom.events import AccessEvent

AGENT = "agent-1"


def link(
    clock: FakeClock,
    case: str,
    links: int,
    *,
    kind: str = "renewal",
    related: bool = False,
    principal: str = AGENT,
    outcome: str = "allowed",
    reason: str | None = None,
) -> AccessEvent:
    """The event `POST /v1/cases/{id}/subjects` journals (gate/cases.py)."""
    ev = prefecture_event(
        clock, CASE_LINK.id, "case_management", principal, outcome=outcome, reason=reason
    )
    detail: dict[str, Any] = {"case": case}
    if outcome == "allowed":
        detail |= {
            "linked": ev.subjects[0],
            "link_status": "active",
            "kind": kind,
            "links": links,
            "related": related,
        }
    return dataclasses.replace(ev, detail=detail)


def read(clock: FakeClock, case: str, principal: str = AGENT) -> AccessEvent:
    return prefecture_event(clock, PERSON.id, "case_work", principal, case=case, records=1)


def actions_of(eng: DetectionEngine, events: list[AccessEvent]) -> list[Any]:
    out = []
    for ev in events:
        eng.clock.set(ev.ts)  # type: ignore[attr-defined]
        out.extend(eng.observe(ev))
    return out


def test_an_agent_linking_many_unrelated_subjects_raises_linking_risk() -> None:
    clock = FakeClock()
    eng = engine(clock, only({"linking": {}}))
    acts = []
    for i in range(14):  # fourteen unrelated subjects, one case each, a minute apart
        acts += eng.observe(link(clock, f"case-{i}", 1))
        clock.advance(60)
    assert eng.risk(AGENT) == 0 and not acts
    # The fifteenth and sixteenth (the older links have faded by a few minutes' worth).
    acts += eng.observe(link(clock, "case-14", 1))
    clock.advance(60)
    acts += eng.observe(link(clock, "case-15", 1))
    assert eng.risk(AGENT) >= 30
    assert [a.action for a in acts] == ["alert"]
    # Alone, it never contains: the family stays below the throttle.
    for i in range(40):
        clock.advance(60)
        acts += eng.observe(link(clock, f"case-{16 + i}", 1))
    assert eng.risk(AGENT) < 50
    assert {a.action for a in acts} == {"alert"}


def test_related_subjects_weigh_a_quarter() -> None:
    clock = FakeClock()
    eng = engine(clock, only({"linking": {}}))
    for i in range(40):  # a weapon's chain of holders, or subjects the unit knows
        eng.observe(link(clock, "op-1", i + 1, kind="seizure", related=True))
        clock.advance(60)
    assert eng.risk(AGENT) == 0


def test_made_up_cases_count_as_links_to_nothing() -> None:
    clock = FakeClock()
    eng = engine(clock, only({"linking": {}}))
    for _ in range(17):
        eng.observe(link(clock, str(uuid.uuid4()), 0, outcome="refused", reason="not_found"))
        clock.advance(30)
    assert eng.risk(AGENT) >= 30


def test_a_harvester_pacing_itself_over_days_still_accumulates() -> None:
    """Ten unrelated links a working day never reach fifteen in one day; the decayed sum
    (half-life a day) does within a few days."""
    clock = FakeClock()
    eng = engine(clock, only({"linking": {}}))
    fired_on = None
    for day in range(5):
        for i in range(10):
            eng.observe(link(clock, f"c-{day}-{i}", 1))
            clock.advance(3000)
        if fired_on is None and eng.risk(AGENT) > 0:
            fired_on = day
        clock.advance(86_400 - 10 * 3000)
    assert fired_on is not None and 1 <= fired_on <= 3


def test_a_legitimate_agents_month_of_links_raises_nothing() -> None:
    """Four subjects a day at most (the simulated agents' own links are about one a day),
    each on its own case and read soon after, twenty working days: no risk at all."""
    clock = FakeClock()
    eng = engine(clock, only({"linking": {}, "case_growth": {}}))
    for day in range(20):
        for i in range(4):
            case = f"c-{day}-{i}"
            eng.observe(link(clock, case, 1, kind="renewal"))
            clock.advance(600)
            eng.observe(read(clock, case))
            clock.advance(3600)
        clock.advance(86_400 - 4 * 4200)
    assert eng.risk(AGENT) == 0


def test_a_case_far_beyond_its_kinds_norm() -> None:
    clock = FakeClock()
    eng = engine(clock, only({"case_growth": {}}))
    for n in (1, 2):  # a renewal with the holder and one more: within twice the norm
        eng.observe(link(clock, "r-1", n))
        eng.observe(read(clock, "r-1"))
        clock.advance(60)
    assert eng.risk(AGENT) == 0
    acts = eng.observe(link(clock, "r-1", 3))
    assert eng.risk(AGENT) >= 30 and [a.action for a in acts] == ["alert"]
    # An investigation holds a network: twenty subjects, each read, raise nothing.
    other = engine(clock, only({"case_growth": {}}))
    for n in range(1, 21):
        other.observe(link(clock, "inv-1", n, kind="investigation"))
        other.observe(read(clock, "inv-1"))
        clock.advance(60)
    assert other.risk(AGENT) == 0


def test_a_case_filled_without_anyone_reading_through_it() -> None:
    clock = FakeClock()
    eng = engine(clock, only({"case_growth": {}}))
    for n in range(1, 9):  # eight links to an investigation, nobody reads
        eng.observe(link(clock, "inv-2", n, kind="investigation"))
        clock.advance(60)
    assert eng.risk(AGENT) == 0
    eng.observe(link(clock, "inv-2", 9, kind="investigation"))
    assert eng.risk(AGENT) >= 30
    # Work through the case resets it: reads after each link keep it quiet.
    quiet = engine(clock, only({"case_growth": {}}))
    for n in range(1, 19):
        quiet.observe(link(clock, "inv-3", n, kind="investigation"))
        if n % 4 == 0:
            quiet.observe(read(clock, "inv-3"))
        clock.advance(60)
    assert quiet.risk(AGENT) == 0


def test_both_together_suspend_the_insider() -> None:
    """An insider filling its own renewal cases with unrelated targets, reading each:
    the cases give it away at their third subject, the pace at the fifteenth link, and
    the two families together suspend the principal (not its office's network)."""
    clock = FakeClock()
    eng = engine(clock, config())
    acts: list[Any] = []
    for i in range(30):
        case = f"own-{i // 10}"
        acts += eng.observe(link(clock, case, i % 10 + 1))
        clock.advance(40)
        acts += eng.observe(read(clock, case))
        clock.advance(40)
        if any(a.action == "suspend_principal" for a in acts):
            break
    assert any(a.action == "suspend_principal" for a in acts), [a.action for a in acts]
    assert i + 1 <= 20  # contained within the link budget of a day
    assert {"linking", "case_growth"} <= families(acts)
    assert not any(a.action == "block_ip_prefix" for a in acts)


def test_a_legitimate_large_case_is_one_task() -> None:
    """A seizure following a weapon through its fourteen holders (each related to one
    already on the case), linked in a row and read over the following hours: neither
    detector sees anything. Fourteen strangers on the same kind of case are flagged."""
    clock = FakeClock()
    eng = engine(clock, only({"linking": {}, "case_growth": {}}))
    eng.observe(link(clock, "seizure-1", 1, kind="seizure"))
    for n in range(2, 15):
        clock.advance(120)
        eng.observe(link(clock, "seizure-1", n, kind="seizure", related=True))
    for _ in range(14):
        clock.advance(1800)
        eng.observe(read(clock, "seizure-1"))
    assert eng.risk(AGENT) == 0
    strangers = engine(clock, only({"linking": {}, "case_growth": {}}))
    acts: list[Any] = []
    for n in range(1, 15):
        clock.advance(120)
        acts += strangers.observe(link(clock, "seizure-2", n, kind="seizure"))
    assert {"case_growth"} <= families(acts) and strangers.risk(AGENT) >= 30


def test_five_insiders_of_one_office_are_suspended_and_the_office_is_not_blocked() -> None:
    """Five agents filling their own cases at once from the office's network: each is
    suspended on its own evidence; linking and case growth are about an agent's cases, not
    its network, so they never add up to blocking the honest colleagues' prefix."""
    clock = FakeClock()
    eng = engine(clock, config())
    agents = [f"agent-{n}" for n in range(5)]
    acts: list[Any] = []
    for i in range(20):
        for a in agents:
            case = f"{a}-own-{i // 10}"
            acts += eng.observe(link(clock, case, i % 10 + 1, principal=a))
            clock.advance(8)
            acts += eng.observe(read(clock, case, principal=a))
            clock.advance(8)
    suspended = {a.principal for a in acts if a.action == "suspend_principal"}
    assert suspended == set(agents)
    assert not any(a.action == "block_ip_prefix" for a in acts)
    assert eng.prefix_risk("172.16.3.9") < 30
