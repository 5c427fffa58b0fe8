"""The simulated deployment: a seeded home, the whole stack on a `FakeClock`, and the plain
values the simulated people type (names, birth dates, permit numbers, serials).

Those values are simulation tooling, read once at set-up: identities and serials are
decrypted through the vault for a sample of persons; permit numbers are not stored
anywhere in clear, so they are re-derived from the seed's plan (`registry.seed_plan`) and
matched to their holders through the permit blind index. None of it is ever printed,
journaled or written to the report.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from strongroom.auth.acr import ACR_PHR
from strongroom.clock import FakeClock
from strongroom.config import Home
from strongroom.context import Caller
from strongroom.errors import Conflict

# Monday 2026-01-05 00:00 in Paris (UTC+1): simulated weeks start on a Monday at midnight.
EPOCH = 1_767_567_600.0
SAMPLE = 5000
PLAN_SCAN = 4000


@dataclass(frozen=True, slots=True)
class PersonRef:
    pk: int
    public_id: str
    departement: str
    canary: bool
    family_name: str = ""
    birth_date: str = ""
    serials: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Triple:
    """What a buyer shows a dealer: permit number, family name, birth date."""

    permit_number: str
    family_name: str
    birth_date: str
    departement: str


@dataclass
class Registry:
    """What the simulation knows of the registry (plain values kept in memory only)."""

    persons: list[PersonRef]  # every person, identity filled for the sample
    sample: list[PersonRef]  # decrypted, non-canary: what legitimate users ask about
    triples: list[Triple]
    dealers: list[tuple[str, str]]  # (public ID, département)
    family_names: list[str]
    by_dept: dict[str, list[PersonRef]] = field(default_factory=dict)  # every person
    sample_by_dept: dict[str, list[PersonRef]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for p in self.persons:
            self.by_dept.setdefault(p.departement, []).append(p)
        for p in self.sample:
            self.sample_by_dept.setdefault(p.departement, []).append(p)

    def canaries_in(self, dept: str) -> list[PersonRef]:
        return [p for p in self.by_dept.get(dept, []) if p.canary]


def clone_home(src: Home, dst: Path) -> Home:
    """Copy a home whose databases are SQLite files inside it (a seeded template): its
    config names them relative to the home, so the copy uses its own."""
    shutil.copytree(src.path, dst)
    return Home(dst)


def seed_template(path: Path, *, persons: int, seed: int, policy: Path | None = None) -> Home:
    """Initialize and seed a home for simulation, dated on the simulated clock's first day
    so permits are as valid on simulated days as on the seed's."""
    from strongroom.initialize import initialize
    from strongroom.registry.db import make_engine
    from strongroom.registry.keystore import registry_vault
    from strongroom.registry.seed import seed as run_seed
    from strongroom.vault import FileKeyProvider

    home = Home(path)
    initialize(home)
    if policy is not None:
        shutil.copyfile(policy, home.policy_path)
    engine = make_engine(home.settings().registry_url)
    try:
        vault = registry_vault(FileKeyProvider(home.keys_dir), engine)
        run_seed(engine, vault, persons=persons, seed=seed, today=sim_date(EPOCH))
    finally:
        engine.dispose()
    return home


def sim_date(ts: float) -> date:
    return datetime.fromtimestamp(ts, UTC).date()


def load_registry(service: Any, *, seed: int, sample: int = SAMPLE) -> Registry:
    """Read what the simulated people know: every person's ID and département, identity
    and serials for a deterministic sample, and buyer triples re-derived from the plan."""
    from strongroom.registry.models import Dealer, Person, Weapon
    from strongroom.registry.seed_pools import build_pools

    vault, canaries = service.vault, service.canaries
    with service.registry.session() as s:
        rows = s.execute(
            select(Person.id, Person.public_id, Person.departement).order_by(Person.id)
        ).all()
        dealers = [
            (str(d), str(dep))
            for d, dep in s.execute(
                select(Dealer.public_id, Dealer.departement).order_by(Dealer.id)
            )
        ]
    persons = [
        PersonRef(int(pk), str(pid), str(dep), canaries.contains(str(pid))) for pk, pid, dep in rows
    ]
    step = max(1, len(persons) // sample)
    chosen = {p.pk: p for p in persons[::step] if not p.canary}
    identities = _identities(service, chosen)
    serials: dict[int, list[str]] = {}
    with service.registry.session() as s:
        for chunk in _chunks(list(chosen), 500):
            for wpid, ct, holder in s.execute(
                select(Weapon.public_id, Weapon.serial_ct, Weapon.holder_id)
                .where(Weapon.holder_id.in_(chunk))
                .order_by(Weapon.id)
            ):
                serials.setdefault(int(holder), []).append(
                    vault.decrypt("asset", str(wpid), "serial", ct) or ""
                )
    filled = {
        pk: replace(
            p,
            family_name=identities[pk][0],
            birth_date=identities[pk][1],
            serials=tuple(serials.get(pk, ())),
        )
        for pk, p in chosen.items()
        if pk in identities
    }
    persons = [filled.get(p.pk, p) for p in persons]
    pools = build_pools(seed)
    return Registry(
        persons=persons,
        sample=list(filled.values()),
        triples=_triples(service, seed, len(persons), {p.pk: p for p in persons}),
        dealers=dealers,
        family_names=sorted(set(pools.family_names)),
    )


def _chunks(items: list[Any], n: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _identities(service: Any, chosen: dict[int, PersonRef]) -> dict[int, tuple[str, str]]:
    from strongroom.registry.models import Identity

    out: dict[int, tuple[str, str]] = {}
    with service.registry.session() as s:
        for chunk in _chunks(list(chosen), 500):
            for pk, fam, dob in s.execute(
                select(Identity.person_id, Identity.family_name_ct, Identity.birth_date_ct).where(
                    Identity.person_id.in_(chunk)
                )
            ):
                pid = chosen[int(pk)].public_id
                out[int(pk)] = (
                    service.vault.decrypt("identity", pid, "family_name", fam) or "",
                    service.vault.decrypt("identity", pid, "birth_date", dob) or "",
                )
    return out


def _triples(service: Any, seed: int, n_persons: int, by_pk: dict[int, PersonRef]) -> list[Triple]:
    """Permit numbers of the plan's first persons, kept when the registry holds them (the
    blind index finds the permit) and their holder is no canary."""
    from strongroom.registry.models import Permit
    from strongroom.registry.seed_plan import Planner
    from strongroom.registry.seed_pools import build_pools

    planner = Planner(build_pools(seed), seed, max(1, n_persons), sim_date(EPOCH))
    numbers: dict[bytes, str] = {}
    for i in range(min(n_persons, PLAN_SCAN)):
        for pm in planner.person(i).permits:
            numbers[service.vault.blind_index("permit", pm.number)] = pm.number
    holders: list[tuple[str, int]] = []
    with service.registry.session() as s:
        for chunk in _chunks(list(numbers), 500):
            for bidx, person_pk in s.execute(
                select(Permit.number_bidx, Permit.person_id)
                .where(Permit.number_bidx.in_(chunk))
                .order_by(Permit.id)
            ):
                holders.append((numbers[bytes(bidx)], int(person_pk)))
    wanted = {pk: by_pk[pk] for _, pk in holders if pk in by_pk and not by_pk[pk].canary}
    ids = _identities(service, wanted)
    return [
        Triple(number, ids[pk][0], ids[pk][1], wanted[pk].departement)
        for number, pk in holders
        if pk in ids
    ]


class World:
    """The stack under simulation, its clock and what its users know."""

    def __init__(
        self, home: Home, *, seed: int, start: float = EPOCH, sample: int = SAMPLE
    ) -> None:
        from strongroom.compose import compose

        self.home = home
        self.clock = FakeClock(start)
        self.start = start
        self.service = compose(home, clock=self.clock)
        self.registry = load_registry(self.service, seed=seed, sample=sample)
        # Who each unit has had on its cases (through the operator's path): the persons a
        # unit's later work relates to.
        self.unit_of_case: dict[str, str] = {}
        self.known: dict[str, dict[str, None]] = {}

    def add_principal(
        self,
        role: str,
        *,
        departement: str | None = None,
        dealer: str | None = None,
        label: str = "",
    ) -> str:
        return str(
            self.service.admin.add_principal(
                role=role, departement=departement, dealer=dealer, label=label
            )
        )

    def case_kind(self, role: str) -> str | None:
        """A kind of case the policy lets this role open, if it declares any."""
        kinds = self.service.policy.policy.cases.kinds
        return next((k for k, spec in kinds.items() if role in spec.roles), None)

    def open_case(self, unit: str, reference: str) -> str | None:
        """A case opened by the case-management system (the local operator's path); None
        under a policy that declares no case for the unit's role (no need-to-know)."""
        kind = self.case_kind(unit.partition(":")[0])
        if kind is None:
            return None
        operator = self.service.admin.operator()
        case = str(
            self.service.cases.open_as_operator(
                operator, unit=unit, kind=kind, reference=reference
            )["id"]
        )
        self.unit_of_case[case] = unit
        return case

    def link(self, case: str, subject: str) -> None:
        with contextlib.suppress(Conflict):  # linked already: the caseload came back to it
            self.service.cases.link_as_operator(
                self.service.admin.operator(), case, subject, "on the agent's caseload"
            )
        unit = self.unit_of_case.get(case)
        if unit is not None:
            self.known.setdefault(unit, {})[subject] = None

    def known_to(self, unit: str) -> list[str]:
        """The persons the unit has had on its cases, oldest first."""
        return list(self.known.get(unit, ()))

    def caller(
        self,
        principal: str,
        role: str,
        *,
        ip: str,
        session: str,
        user_agent: str,
        purpose: str | None = None,
        case: str | None = None,
        justification: str | None = None,
    ) -> Caller:
        """A caller as the auth layer would build it after an MFA login now, checked
        against the principals table like every API request."""
        policy = self.service.policy
        caller = Caller(
            principal_id=principal,
            role=role,
            scopes=frozenset(policy.role(role).scopes),
            purpose=purpose or policy.role(role).default_purpose,
            case=case,
            justification=justification,
            session_id=session,
            client_id=f"sim-{role}",
            ip=ip,
            user_agent=user_agent,
            # Simulated staff sign in with a passkey, as the shipped policy expects of
            # investigations and break-glass.
            acr=ACR_PHR,
            auth_time=self.clock.now(),
        )
        return self.service.pipeline.bind_principal(caller)

    def close(self) -> None:
        self.service.close()
