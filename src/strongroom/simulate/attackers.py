"""What attackers know and type: leaked name and birth-date pairs, buyer triples, guessed
values, ID lists; and the stolen or rogue accounts they use.

Each scenario gets its own network (/24) so prefix-level budgets and blocks judge each on
its own; accounts of one scenario share it unless the scenario rotates proxies.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

from strongroom.simulate.calls import Call
from strongroom.simulate.campaign import Account, Campaign
from strongroom.simulate.world import PersonRef, Triple, World

ATTACK_UA = "python-requests/2.31"
JUSTIFICATION = "Routine permit compliance review for the assigned case"
FIRST_BIRTH = date(1935, 1, 1)


def network(k: int) -> str:
    """The /24 of scenario k (198.51.k.0/24)."""
    return f"198.51.{k % 250}"


def account(
    world: World,
    campaign: Campaign,
    role: str,
    *,
    ip: str,
    label: str,
    departement: str | None = None,
    dealer: str | None = None,
    ips: tuple[str, ...] = (),
    user_agent: str = ATTACK_UA,
) -> Account:
    pid = world.add_principal(role, departement=departement, dealer=dealer, label=label)
    session = f"atk-{label}-{len(campaign.accounts)}"
    case = None
    kind = world.case_kind(role)
    if role == "prefecture" and kind is not None:
        # The insider opens a case of its own unit, as any agent may, and links its
        # targets to it (`read`): the way around need to know that is left.
        opener = world.caller(
            pid, role, ip=ip, user_agent=user_agent, session=session, purpose="case_management"
        )
        case = world.service.cases.open(
            opener, kind=kind, reference=f"ATK-{len(campaign.accounts):04d}"
        ).body["id"]
    elif role == "prefecture":
        case = f"CASE-ATK-{len(campaign.accounts):04d}"  # a policy without cases
    caller = world.caller(
        pid,
        role,
        ip=ip,
        user_agent=user_agent,
        session=session,
        case=case,
        justification=JUSTIFICATION if case else None,
    )
    return campaign.add(caller, ips)


def random_dob(rng: random.Random) -> str:
    return (FIRST_BIRTH + timedelta(days=rng.randrange(26_000))).isoformat()


def search(family_name: str, birth_date: str) -> Call:
    return Call("search", {"query": {"family_name": family_name, "birth_date": birth_date}})


def read(p: PersonRef) -> Call:
    return Call("person", {"id": p.public_id, "_canary": p.canary, "link": True})


class Leaked:
    """A shuffled list of real (name, birth date) pairs, mixed with guesses: the share of
    real pairs is what a leaked or bought list gives; the rest is guessing."""

    def __init__(self, world: World, rng: random.Random, hit_share: float) -> None:
        self.pairs = [(p.family_name, p.birth_date) for p in world.registry.sample]
        rng.shuffle(self.pairs)
        self.names = world.registry.family_names
        self.hit_share = hit_share
        self.i = 0

    def next(self, rng: random.Random) -> tuple[str, str]:
        if rng.random() < self.hit_share and self.pairs:
            self.i += 1
            return self.pairs[self.i % len(self.pairs)]
        return rng.choice(self.names), random_dob(rng)

    def call(self, _acct: Account, rng: random.Random) -> Call:
        return search(*self.next(rng))


class Triples:
    """Buyer triples for permit checks: real ones from a leaked list, or guessed permit
    numbers with a real name and birth date."""

    def __init__(self, world: World, rng: random.Random, hit_share: float) -> None:
        reg = world.registry
        # Without known permit numbers (registry seed unknown) every number is a guess.
        self.triples = list(reg.triples) or [
            Triple("FR-00-00000000", p.family_name, p.birth_date, p.departement) for p in reg.sample
        ]
        rng.shuffle(self.triples)
        self.hit_share = hit_share
        self.i = 0

    def call(self, _acct: Account, rng: random.Random) -> Call:
        t = self.triples[self.i % len(self.triples)]
        self.i += 1
        number = t.permit_number
        if rng.random() >= self.hit_share:
            number = f"FR-{t.departement}-{rng.randrange(10**8):08d}"
        return Call(
            "verify",
            {"permit_number": number, "family_name": t.family_name, "birth_date": t.birth_date},
        )


class IdList:
    """Person IDs of one département in a harvesting order, canaries among them as they
    fall (an insider's view of the département's files)."""

    def __init__(self, people: list[PersonRef], rng: random.Random) -> None:
        self.people = list(people)
        rng.shuffle(self.people)

    def call(self, acct: Account, _rng: random.Random) -> Call | None:
        if acct.cursor >= len(self.people):
            return None
        p = self.people[acct.cursor]
        acct.cursor += 1
        return read(p)


def random_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def daily_allowance(world: World, role: str, unit: str = "subjects") -> float:
    """The most `unit` per day a principal of `role` may use under every enforcing budget
    of the policy (what a careful harvester paces itself to)."""
    best = float("inf")
    for b in world.service.policy.policy.budgets:
        if b.shadow or b.unit != unit or b.key not in ("principal", "session"):
            continue
        if b.roles and role not in b.roles:
            continue
        best = min(best, b.limit * 86_400 / b.window_seconds)
    return best


def fastest_gap(world: World, role: str, endpoint: str) -> float:
    """Seconds between requests at the highest rate every per-principal request or record
    budget allows for this role and endpoint (one record per request)."""
    gap = 0.0
    for b in world.service.policy.policy.budgets:
        if b.shadow or b.unit not in ("requests", "records") or b.key != "principal":
            continue
        if (b.roles and role not in b.roles) or (b.endpoints and endpoint not in b.endpoints):
            continue
        gap = max(gap, b.window_seconds / b.limit)
    return gap


def departements_by_size(world: World) -> list[str]:
    by = world.registry.by_dept
    return sorted(by, key=lambda d: (-len(by[d]), d))


def canary_departement(world: World) -> str | None:
    for d in departements_by_size(world):
        if world.registry.canaries_in(d) and len(world.registry.by_dept[d]) >= 3:
            return d
    return None
