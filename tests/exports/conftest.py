"""A real export desk over a real registry database (SQLite or PostgreSQL), the real
gate, policy and journal. Budgets and detectors are open stand-ins: those layers are
exercised by their own suites, and exports are charged one unit per step anyway."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from strongroom.clock import FakeClock
from strongroom.context import Caller
from strongroom.exports import ExportDesk, ExportStore, Watermark, export_key
from strongroom.gate import Pipeline
from strongroom.ids import new_public_id
from strongroom.journal import Journal
from strongroom.policy import compile_policy, load_default_policy
from strongroom.registry.db import make_engine
from strongroom.registry.models import Base, Permit, Person, Weapon
from strongroom.registry.repository import Registry

DEP = "75"
TODAY = date(2026, 1, 1)  # FakeClock's start
JUSTIFICATION = "Renewal letters for permits expiring this semester"


class OpenBudgets:
    """Stand-in for budgets/: reserves nothing, refuses nothing."""

    def reserve(self, keys: Any, **_: Any) -> None:
        return None

    def settle(self, reservation: Any, records: int, subjects: Any) -> None:
        return None

    def headers(self, reservation: Any) -> dict[str, str]:
        return {}


class QuietDetector:
    """Stand-in for detect/: contains nobody."""

    def observe(self, event: Any) -> list[Any]:
        return []

    def check(self, principal: str, session: str | None, ip: str | None, **_: Any) -> None:
        return None

    def throttle_factor(self, principal: str) -> float:
        return 1.0


@dataclass
class Env:
    desk: ExportDesk
    store: ExportStore
    journal: Journal
    clock: FakeClock
    policy: Any
    exports_dir: Path
    person_ids: list[str]
    permit_ids: list[str]
    requester: Caller
    approver: Caller

    def caller(self, role: str, principal: str | None = None, **kw: Any) -> Caller:
        defaults: dict[str, Any] = {
            "prefecture": {
                "purpose": "case_work",
                "case": "CASE-2026-77",
                "justification": JUSTIFICATION,
                "departement": DEP,
            },
            "admin": {"purpose": "administration"},
        }.get(role, {})
        return Caller(
            principal_id=principal or new_public_id(),
            role=role,
            scopes=frozenset(self.policy.role(role).scopes),
            **{**defaults, **kw},
        )

    def entries(self) -> list[dict[str, Any]]:
        return [self.journal.entry(i) for i in range(self.journal.size())]


def seed(engine: Any, *, persons: int, departement: str = DEP) -> tuple[list[str], list[str]]:
    """Persons of one département, each with one valid permit expiring within 180 days
    and one weapon; plus a few in another département and some expiring later."""
    person_ids, permit_ids = [], []
    from sqlalchemy.orm import Session

    with Session(engine) as s, s.begin():
        for i in range(persons + 20):
            dep = departement if i < persons + 10 else "13"
            person = Person(public_id=new_public_id(), departement=dep)
            s.add(person)
            s.flush()
            later = i >= persons and dep == departement  # expires beyond the window
            expires = TODAY + timedelta(days=(400 + i) if later else 1 + (i * 7) % 170)
            permit = Permit(
                public_id=new_public_id(),
                person_id=person.id,
                number_bidx=os.urandom(16),
                kind=("hunting", "sport")[i % 2],
                categories=("C", "B,C")[i % 2],
                issued=expires - timedelta(5475),
                expires=expires,
                status="valid",
            )
            s.add(permit)
            s.add(
                Weapon(
                    public_id=new_public_id(),
                    serial_bidx=os.urandom(16),
                    serial_ct=b"-",
                    category="BC"[i % 2],
                    make="Beretta",
                    model="686",
                    calibre="12",
                    status="registered",
                    holder_id=person.id,
                )
            )
            if dep == departement and not later:
                person_ids.append(person.public_id)
                permit_ids.append(permit.public_id)
    return person_ids, permit_ids


def add_holders(engine: Any, counts: dict[tuple[str, str], int]) -> None:
    """Registry change: one new holder per weapon, (département, category) -> how many."""
    from sqlalchemy.orm import Session

    with Session(engine) as s, s.begin():
        for (dep, category), n in counts.items():
            for _ in range(n):
                person = Person(public_id=new_public_id(), departement=dep)
                s.add(person)
                s.flush()
                s.add(
                    Weapon(
                        public_id=new_public_id(),
                        serial_bidx=os.urandom(16),
                        serial_ct=b"-",
                        category=category,
                        make="Browning",
                        model="B525",
                        calibre="12",
                        status="registered",
                        holder_id=person.id,
                    )
                )


def build_env(url: str, tmp: Path, *, persons: int = 120) -> Env:
    clock = FakeClock()
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    store = ExportStore(engine)
    store.create_tables()
    person_ids, permit_ids = seed(engine, persons=persons)
    policy = compile_policy(load_default_policy(), b"p" * 32, clock=clock)
    journal = Journal.open(f"sqlite:///{tmp / 'journal.db'}", signer=None, clock=clock)
    pipeline = Pipeline(
        registry=Registry(engine),
        policy=policy,
        budgets=OpenBudgets(),  # type: ignore[arg-type]
        journal=journal,
        detector=QuietDetector(),  # type: ignore[arg-type]
        clock=clock,
    )
    exports_dir = tmp / "exports"
    desk = ExportDesk(
        pipeline=pipeline,
        store=store,
        engine=engine,
        spec=policy.policy.exports,
        watermark=Watermark(export_key(b"h" * 32)),
        exports_dir=exports_dir,
        clock=clock,
        is_honey=lambda _public_id: False,  # this registry is seeded without honey records
    )
    env = Env(
        desk=desk,
        store=store,
        journal=journal,
        clock=clock,
        policy=policy,
        exports_dir=exports_dir,
        person_ids=person_ids,
        permit_ids=permit_ids,
        requester=None,
        approver=None,
    )  # type: ignore[arg-type]
    env.requester = env.caller("prefecture")
    env.approver = env.caller("admin")
    return env


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[Env]:
    e = build_env(db_url, tmp_path)
    yield e
    e.journal.close()
    e.store.engine.dispose()


@pytest.fixture
def sqlite_env(tmp_path: Path) -> Iterator[Env]:
    e = build_env(f"sqlite:///{tmp_path / 'registry.db'}", tmp_path)
    yield e
    e.journal.close()
    e.store.engine.dispose()
