"""Insider scenarios of issue 18: every way around cases, by prefecture agents of one
département who hold their login and its second factor (they answer step-ups and log in
again after a session suspension), at a human pace in office hours, for five days.

case-made-up      reads and links through made-up case IDs (random UUIDs, references
                  typed from memory)
case-unlinked     reads through the agent's own open case (a real one, with its own
                  subjects) subjects not linked to it
other-unit-case   reads through, and links to, cases of another département's prefecture
                  and of a police unit, the targets linked to them
colleague-case    reads through the open cases of colleagues of its unit, linking its
                  targets into them when a read is refused
own-cases         links its targets to cases it opens itself and reads each, a new case
                  whenever a link would wait for a second agent
link-hundreds     links its targets by the hundred to its own cases, reading them only
                  once the link budget refuses more
colluding-five    five agents of one unit linking into their own cases and approving each
                  other's links that wait for four eyes

The targets are the département's persons, honey records left out: these scenarios
measure what the cases and their detectors hold back on their own (a honey record among
the targets is contained at once: canary-hitter). Targets from the issue: through a case
without the link, 0 full records; linking to one's own (or a colleague's) cases, at most
20 before a second agent's approval or a suspension; five colluding agents, at most 100
in a day, contained.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from strongroom.simulate.attackers import (
    JUSTIFICATION,
    canary_departement,
    departements_by_size,
    network,
    random_uuid,
)
from strongroom.simulate.calls import Call
from strongroom.simulate.campaign import Account, Campaign, Spec
from strongroom.simulate.world import PersonRef, World

HORIZON_DAYS = 5
OFFICE = (8.5, 18.0)
CAP_REQUESTS = 20_000
TOWARD = "records through a case the subject is not linked to"
LINKED = "records before a second agent's approval or a suspension"
Strategy = Callable[[Account, random.Random], Call | None]


def pace(r: random.Random) -> float:
    return r.uniform(30, 90)


def targets(world: World, dept: str, rng: random.Random) -> list[PersonRef]:
    people = [p for p in world.registry.by_dept[dept] if not p.canary]
    rng.shuffle(people)
    return people


def departement(world: World, rank: int) -> str:
    """The `rank`-th largest département the issue-6 scenarios leave alone: each scenario
    works in its own, so that another's unit budgets, links and detectors do not decide
    its figures (an insider's targets already on another insider's case would be)."""
    depts = departements_by_size(world)
    taken = {*depts[:2], canary_departement(world)}
    free = [d for d in depts if d not in taken] or depts
    return free[min(rank, len(free) - 1)]


def unit_of(dept: str) -> str:
    return f"prefecture:{dept}"


def insider(world: World, c: Campaign, dept: str, k: int, label: str, i: int = 0) -> Account:
    """A prefecture agent of `dept` on the office network of scenario k; its token names
    no case until a strategy gives one per request."""
    pid = world.add_principal("prefecture", departement=dept, label=label)
    caller = world.caller(
        pid,
        "prefecture",
        ip=f"{network(k)}.{10 + i}",
        user_agent=f"Mozilla/5.0 sim-prefecture-{i % 7}",
        session=f"atk-{label}-{i}",
        justification=JUSTIFICATION,
    )
    return c.add(caller)


def campaign(
    name: str,
    description: str,
    strategy: Strategy,
    start: float,
    rng: random.Random,
    *,
    target: int,
    note: str,
    must_contain: bool = False,
) -> Campaign:
    return Campaign(
        Spec(
            name,
            description,
            strategy,
            pace,
            horizon_days=HORIZON_DAYS,
            target=target,
            target_note=note,
            hours=OFFICE,
            cap_requests=CAP_REQUESTS,
            second_factor=True,
            must_contain=must_contain,
        ),
        start,
        rng,
    )


def read(p: PersonRef, case: str) -> Call:
    return Call("person", {"id": p.public_id, "case": case})


# --- through a case the subject is not linked to --------------------------------------------
def case_made_up(world: World, rng: random.Random, start: float, k: int) -> Campaign:
    dept = departement(world, 6)
    people = targets(world, dept, rng)

    def nxt(acct: Account, r: random.Random) -> Call | None:
        if acct.cursor >= 2 * len(people):
            return None
        p = people[acct.cursor // 2]
        typed = f"PREF-{dept}-2026-{r.randrange(10**4):04d}"  # a reference from memory
        made_up = random_uuid(r) if r.random() < 0.7 else typed
        acct.cursor += 1
        if acct.cursor % 2:
            return Call("link", {"case": made_up, "id": p.public_id})
        return read(p, made_up)

    c = campaign(
        "case-made-up",
        "reads and links through made-up case IDs (prefecture insider)",
        nxt,
        start,
        rng,
        target=0,
        note=TOWARD,
    )
    insider(world, c, dept, k, "case-made-up")
    return c


def case_unlinked(world: World, rng: random.Random, start: float, k: int) -> Campaign:
    dept = departement(world, 4)
    people = targets(world, dept, rng)
    own, others = people[:3], people[3:]
    case = world.open_case(unit_of(dept), "ATK-OWN-0001")

    def nxt(acct: Account, _r: random.Random) -> Call | None:
        if case is None or acct.cursor >= len(others):
            return None
        acct.cursor += 1
        return read(others[acct.cursor - 1], case)

    c = campaign(
        "case-unlinked",
        "reads through its own open case subjects not linked to it (prefecture insider)",
        nxt,
        start,
        rng,
        target=0,
        note=TOWARD,
    )
    if case is not None:
        for p in own:  # a real case, with its own subjects
            world.link(case, p.public_id)
    insider(world, c, dept, k, "case-unlinked")
    return c


def other_unit_case(world: World, rng: random.Random, start: float, k: int) -> Campaign:
    dept, elsewhere = departement(world, 5), departement(world, 7)
    people = targets(world, dept, rng)
    # Cases of another prefecture and of a police unit, the insider's targets linked to
    # them by their own units: the subject is linked, the case is not the insider's.
    foreign = [
        c
        for c in (
            world.open_case(unit_of(elsewhere), "ATK-FOREIGN-0001"),
            world.open_case(f"police:{dept}", "ATK-POLICE-0001"),
        )
        if c is not None
    ]
    for i, p in enumerate(people):
        if foreign:
            world.link(foreign[i % len(foreign)], p.public_id)

    def nxt(acct: Account, _r: random.Random) -> Call | None:
        if not foreign or acct.cursor >= 2 * len(people):
            return None
        i = acct.cursor // 2
        p, case = people[i], foreign[i % len(foreign)]
        acct.cursor += 1
        if acct.cursor % 2:
            return read(p, case)
        return Call("link", {"case": case, "id": p.public_id})

    c = campaign(
        "other-unit-case",
        "reads through, and links to, another prefecture's and a police unit's cases "
        "(prefecture insider)",
        nxt,
        start,
        rng,
        target=0,
        note=TOWARD,
    )
    insider(world, c, dept, k, "other-unit-case")
    return c


# --- linking ----------------------------------------------------------------------------------
class Linker:
    """Link each target to a case and read it. `case_for` says which case the next link
    goes to (None: open one first); a link answered `pending` waits for a second agent,
    whom `on_pending` may line up."""

    def __init__(
        self,
        people: list[PersonRef],
        kind: str,
        *,
        per_case: int,
        read_later: bool = False,
        on_pending: Callable[[Account, str, PersonRef], None] | None = None,
    ) -> None:
        self.people = people
        self.kind = kind
        self.per_case = per_case
        self.read_later = read_later
        self.on_pending = on_pending

    def __call__(self, acct: Account, r: random.Random) -> Call | None:
        st = acct.state
        last, call = acct.last, acct.last_call
        if call is not None and last is not None and last.status == 200:
            if call.task == "case_open" and last.case:
                st["case"], st["on_case"] = last.case, 0
            elif call.task == "link":
                p = st.pop("linking")
                if last.link_status == "active":
                    st.setdefault("linked", []).append((p, call.args["case"]))
                    if not self.read_later:
                        acct.queue.append(read(p, call.args["case"]))
                elif self.on_pending is not None:
                    self.on_pending(acct, call.args["case"], p)
                else:
                    st["case"] = None  # four eyes from here on: a new case
        elif call is not None and call.task == "link" and last is not None:
            if last.status == 429:
                self.people.insert(acct.cursor, st.pop("linking"))  # again, after the wait
                if self.read_later:  # the day's links spent: read what they opened
                    acct.queue.extend(read(p, case) for p, case in st.pop("linked", []))
            else:
                st.pop("linking", None)
        if acct.queue:
            return acct.queue.pop(0)
        if acct.cursor >= len(self.people):
            if self.read_later and st.get("linked"):
                p, case = st["linked"].pop(0)
                return read(p, case)
            return None
        if st.get("case") is None or st.get("on_case", 0) >= self.per_case:
            st["case"] = None
            reference = f"DOS-{r.randrange(10**5):05d}"
            return Call("case_open", {"kind": self.kind, "reference": reference})
        p = self.people[acct.cursor]
        acct.cursor += 1
        st["linking"] = p
        st["on_case"] = st.get("on_case", 0) + 1
        return Call("link", {"case": st["case"], "id": p.public_id})


def own_cases(world: World, rng: random.Random, start: float, k: int) -> Campaign:
    dept = departement(world, 2)
    kind = world.case_kind("prefecture") or "renewal"
    links = world.service.policy.policy.cases.links_before_approval
    c = campaign(
        "own-cases",
        "links its targets to cases it opens itself and reads each, a new case before a "
        "link would wait for four eyes (prefecture insider)",
        Linker(targets(world, dept, rng), kind, per_case=links),
        start,
        rng,
        target=20,
        note=LINKED,
    )
    insider(world, c, dept, k, "own-cases")
    return c


def link_hundreds(world: World, rng: random.Random, start: float, k: int) -> Campaign:
    dept = departement(world, 1)
    kind = world.case_kind("prefecture") or "renewal"
    links = world.service.policy.policy.cases.links_before_approval
    c = campaign(
        "link-hundreds",
        "links its targets by the hundred to its own cases, reading them once the link "
        "budget refuses more (prefecture insider)",
        Linker(targets(world, dept, rng)[:300], kind, per_case=links, read_later=True),
        start,
        rng,
        target=20,
        note=LINKED,
    )
    insider(world, c, dept, k, "link-hundreds")
    return c


def colleague_case(world: World, rng: random.Random, start: float, k: int) -> Campaign:
    """The colleagues' open cases of the unit (three, fed by the case-management system,
    a few subjects each): the insider reads a target through one; refused, it links the
    target there and reads again; a link that waits for four eyes sends it to the next."""
    dept = departement(world, 3)
    people = targets(world, dept, rng)
    cases = [world.open_case(unit_of(dept), f"COLL-{i:04d}") for i in range(3)]
    theirs = [case for case in cases if case is not None]
    for i, p in enumerate(people[:6]):
        if theirs:
            world.link(theirs[i % len(theirs)], p.public_id)
    mine = people[6:]

    def nxt(acct: Account, _r: random.Random) -> Call | None:
        st = acct.state
        last, call = acct.last, acct.last_call
        if call is not None and last is not None:
            if call.task == "person" and last.status == 404:
                return Call("link", {"case": call.args["case"], "id": call.args["id"]})
            if call.task == "link" and last.status == 200 and last.link_status == "active":
                return Call("person", {"id": call.args["id"], "case": call.args["case"]})
            if call.task == "link" and last.link_status == "pending":
                st["at"] = st.get("at", 0) + 1  # that case is full: the next colleague's
        if not theirs or acct.cursor >= len(mine) or st.get("at", 0) >= len(theirs):
            return None
        p = mine[acct.cursor]
        acct.cursor += 1
        return read(p, theirs[st.get("at", 0)])

    c = campaign(
        "colleague-case",
        "reads through colleagues' open cases of its unit, linking its targets into them "
        "(prefecture insider)",
        nxt,
        start,
        rng,
        target=20,
        note=LINKED,
    )
    insider(world, c, dept, k, "colleague-case")
    return c


def colluding_five(world: World, rng: random.Random, start: float, k: int) -> Campaign:
    """Five agents of one unit, each linking its share of the targets into one case of
    its own and reading each; a link that waits for four eyes is approved by the next
    agent of the ring, and then read."""
    dept = departement(world, 0)
    kind = world.case_kind("prefecture") or "renewal"
    people = targets(world, dept, rng)
    c: Campaign

    def approve(acct: Account, case: str, p: PersonRef) -> None:
        ring = [a for a in c.accounts if a.stop is None and a is not acct]
        if ring:
            helper = ring[acct.index % len(ring)]
            args = {"case": case, "id": p.public_id, "for": acct.index}
            helper.queue.append(Call("approve", args))

    shares = [people[i::5] for i in range(5)]
    linkers = [Linker(share, kind, per_case=10**6, on_pending=approve) for share in shares]

    def nxt(acct: Account, r: random.Random) -> Call | None:
        call, last = acct.last_call, acct.last
        if call is not None and call.task == "approve" and last is not None:
            if last.status == 200:  # approved: the colleague reads it now
                a = call.args
                c.accounts[a["for"]].queue.append(
                    Call("person", {"id": a["id"], "case": a["case"]})
                )
        return linkers[acct.index](acct, r)

    c = campaign(
        "colluding-five",
        "five agents of one unit linking into their own cases and approving each other's "
        "four-eyes links (prefecture insiders)",
        nxt,
        start,
        rng,
        target=100,
        note="records in a day, all five contained",
        must_contain=True,
    )
    for i in range(5):
        insider(world, c, dept, k, "colluding", i)
    return c


NEED_TO_KNOW: dict[str, Callable[[World, random.Random, float, int], Campaign]] = {
    "case-made-up": case_made_up,
    "case-unlinked": case_unlinked,
    "other-unit-case": other_unit_case,
    "colleague-case": colleague_case,
    "own-cases": own_cases,
    "link-hundreds": link_hundreds,
    "colluding-five": colluding_five,
}
