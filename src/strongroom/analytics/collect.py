"""Reading the registry for analytics: counts per cell of every level the views need.

Birth dates and communes are encrypted; they are decrypted here, one person at a time, and
reduced at once to their generalization (an age band, a commune size band). What this
module keeps per person is a small integer per internal ID (the person's generalized
profile), never a plain value, and nothing of it leaves except counts. Honey records are
left out: they are not persons, and a count that included them would be wrong.

Rows of every universe are read in person order, so distinct persons per cell are counted
exactly with one remembered ID per cell (a cell sees all of a person's rows in a row).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, func, null, select

from strongroom.analytics.catalogue import Generalizer, dims_of
from strongroom.analytics.suppress import Key, Level, Stat
from strongroom.registry.canaries import canary_mark
from strongroom.registry.models import (
    Address,
    Ban,
    CanaryMark,
    Dealer,
    Identity,
    Permit,
    Person,
    Sale,
    Weapon,
)

BATCH = 20_000
NOBODY = -1


class Decryptor(Protocol):
    def decrypt(self, store: str, row_id: str, field: str, blob: bytes | None) -> str | None: ...


@dataclass
class People:
    """Each person's generalized profile, by internal ID: departement and age band in
    `profile`, the commune (its size band is known once every person is counted) in
    `commune`, and whether they hold a weapon in `holds`."""

    profile: array[int]
    commune: array[int]
    profiles: list[tuple[str, str]] = field(default_factory=list)
    commune_labels: list[str] = field(default_factory=list)
    holds: bytearray = field(default_factory=bytearray)
    count: int = 0

    def values(self, pid: int) -> tuple[str, str, str, str] | None:
        """(departement, age, commune, holds_weapons) of a person, None for a honey
        record or an ID that is no person."""
        if pid < 0 or pid >= len(self.profile):
            return None
        p = self.profile[pid]
        if p == NOBODY:
            return None
        dept, age = self.profiles[p]
        c = self.commune[pid]
        commune = self.commune_labels[c] if c != NOBODY else ""
        holds = "yes" if self.holds and self.holds[pid] else "no"
        return dept, age, commune, holds

    def __iter__(self) -> Iterator[tuple[int, tuple[str, str, str, str]]]:
        for pid in range(len(self.profile)):
            v = self.values(pid)
            if v is not None:
                yield pid, v


class Tally:
    """Counts per cell of each level: units, distinct persons, and the last person seen
    (rows arrive in person order)."""

    def __init__(self, dims: tuple[str, ...], levels: Iterable[Level]) -> None:
        self.dims = dims
        self.levels = sorted(set(levels))
        self._at: list[tuple[Callable[[tuple[str, ...]], Key], dict[Key, list[int]]]] = [
            (_getter(tuple(dims.index(d) for d in lv)), {}) for lv in self.levels
        ]
        self.cells: dict[Level, dict[Key, list[int]]] = {
            lv: t for lv, (_, t) in zip(self.levels, self._at, strict=True)
        }

    def add(self, pid: int, values: tuple[str, ...]) -> None:
        for key_of, table in self._at:
            key = key_of(values)
            cell = table.get(key)
            if cell is None:
                table[key] = [1, 1, pid]
            else:
                cell[0] += 1
                if cell[2] != pid:
                    cell[1] += 1
                    cell[2] = pid

    def stats(self) -> dict[Level, dict[Key, Stat]]:
        return {
            lv: {key: Stat(c[0], c[1]) for key, c in table.items()}
            for lv, table in self.cells.items()
        }


def _getter(at: tuple[int, ...]) -> Callable[[tuple[str, ...]], Key]:
    """A level's key from a row's values; itemgetter, the fastest way Python has (a
    build calls it once per row and level)."""
    if not at:
        return lambda _values: ()
    if len(at) == 1:
        (i,) = at
        return lambda values: (values[i],)
    return itemgetter(*at)


def today_of(now: float) -> date:
    return datetime.fromtimestamp(now, UTC).date()


def _stream(conn: Connection, stmt: Any) -> Iterator[Any]:
    result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(stmt)
    yield from result


def read_people(
    conn: Connection,
    vault: Decryptor,
    honey_key: bytes,
    gen: Generalizer,
    today: date,
    *,
    need_age: bool,
    need_commune: bool,
    need_holds: bool,
) -> People:
    marks = frozenset(bytes(m) for m in conn.execute(select(CanaryMark.mark)).scalars())
    top = int(conn.execute(select(func.max(Person.id))).scalar() or 0)
    people = People(array("i", [NOBODY]) * (top + 1), array("i", [NOBODY]) * (top + 1))
    profile_ids: dict[tuple[str, str], int] = {}
    communes: dict[tuple[str, str], int] = {}
    commune_names: list[str] = []
    registered: list[int] = []
    stmt = (
        select(
            Person.id,
            Person.public_id,
            Person.departement,
            Identity.birth_date_ct if need_age else null().label("birth_date_ct"),
            Address.city_ct if need_commune else null().label("city_ct"),
        )
        .outerjoin(Identity, Identity.person_id == Person.id)
        .outerjoin(Address, Address.person_id == Person.id)
        # An erased person is out of every release from then on (their tombstone is no one).
        .where(Person.erased_at.is_(None))
        .order_by(Person.id)
    )
    decrypt = vault.decrypt
    for pid, public_id, dept, birth_ct, city_ct in _stream(conn, stmt):
        if marks and canary_mark(honey_key, public_id) in marks:
            continue
        age = ""
        if need_age:
            birth = decrypt("identity", public_id, "birth_date", birth_ct)
            age = gen.age_of(date.fromisoformat(birth), today) if birth else "unknown"
        key = (gen.departement_of(dept), age)
        p = profile_ids.get(key)
        if p is None:
            p = profile_ids[key] = len(people.profiles)
            people.profiles.append(key)
        people.profile[pid] = p
        if need_commune:
            city = decrypt("address", public_id, "city", city_ct) or "unknown"
            ck = (dept, city)
            c = communes.get(ck)
            if c is None:
                c = communes[ck] = len(commune_names)
                commune_names.append(f"{city} ({dept})")
                registered.append(0)
            registered[c] += 1
            people.commune[pid] = c
        people.count += 1
    people.commune_labels = [
        gen.commune_of(name, n) for name, n in zip(commune_names, registered, strict=True)
    ]
    if need_holds:
        people.holds = bytearray(top + 1)
        holders = select(Weapon.holder_id).where(Weapon.holder_id.is_not(None)).distinct()
        for (pid,) in _stream(conn, holders):
            if 0 <= pid <= top:
                people.holds[pid] = 1
    return people


Row = tuple[int, tuple[str, ...]]


def _person_rows(people: People) -> Iterator[Row]:
    yield from people


def _permit_rows(conn: Connection, people: People, gen: Generalizer, today: date) -> Iterator[Row]:
    stmt = select(
        Permit.person_id, Permit.kind, Permit.categories, Permit.status, Permit.issued
    ).order_by(Permit.person_id)
    for pid, kind, categories, status, issued in _stream(conn, stmt):
        v = people.values(pid)
        if v is not None:
            yield pid, (v[0], v[1], v[2], kind, categories, status, gen.date_of(issued))


def _weapon_rows(conn: Connection, people: People, gen: Generalizer, today: date) -> Iterator[Row]:
    stmt = (
        select(Weapon.holder_id, Weapon.category, Weapon.status)
        .where(Weapon.holder_id.is_not(None))
        .order_by(Weapon.holder_id)
    )
    for pid, category, status in _stream(conn, stmt):
        v = people.values(pid)
        if v is not None:
            yield pid, (v[0], v[1], v[2], category, status)


def _sale_rows(conn: Connection, people: People, gen: Generalizer, today: date) -> Iterator[Row]:
    stmt = (
        select(Sale.buyer_id, Dealer.departement, Weapon.category, Sale.sold_at)
        .join(Dealer, Dealer.id == Sale.dealer_id)
        .join(Weapon, Weapon.id == Sale.weapon_id)
        .order_by(Sale.buyer_id)
    )
    for pid, dealer_dept, category, sold_at in _stream(conn, stmt):
        v = people.values(pid)
        if v is not None:
            day = datetime.fromtimestamp(sold_at, UTC).date()
            yield pid, (gen.departement_of(dealer_dept), v[1], category, gen.date_of(day))


def _ban_rows(conn: Connection, people: People, gen: Generalizer, today: date) -> Iterator[Row]:
    stmt = select(Ban.person_id, Ban.since, Ban.until).order_by(Ban.person_id)
    for pid, since, until in _stream(conn, stmt):
        v = people.values(pid)
        if v is not None:
            active = "yes" if since <= today and (until is None or until >= today) else "no"
            yield pid, (v[0], v[1], gen.date_of(since), active)


UNIVERSE_ROWS: dict[str, Callable[[Connection, People, Generalizer, date], Iterator[Row]]] = {
    "permits": _permit_rows,
    "weapons": _weapon_rows,
    "sales": _sale_rows,
    "bans": _ban_rows,
}


@dataclass
class Collected:
    people: People
    cells: dict[str, dict[Level, dict[Key, Stat]]]  # universe -> level -> key -> counts


def collect(
    engine: Engine,
    vault: Decryptor,
    honey_key: bytes,
    gen: Generalizer,
    today: date,
    levels: Mapping[str, set[Level]],
    *,
    holds_weapons: bool,
) -> Collected:
    """Counts for every level of `levels` (universe -> levels). One read transaction,
    so every universe sees the same registry."""
    used = {d for lvs in levels.values() for lv in lvs for d in lv}
    with engine.connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            # One snapshot for every query of the build: counts of one universe never mix
            # with another's from a later commit.
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        people = read_people(
            conn,
            vault,
            honey_key,
            gen,
            today,
            need_age="age" in used,
            need_commune="commune" in used,
            need_holds=holds_weapons,
        )
        cells: dict[str, dict[Level, dict[Key, Stat]]] = {}
        for universe, lvs in levels.items():
            tally = Tally(dims_of(universe), lvs)
            rows = (
                _person_rows(people)
                if universe == "persons"
                else UNIVERSE_ROWS[universe](conn, people, gen, today)
            )
            for pid, values in rows:
                tally.add(pid, values)
            cells[universe] = tally.stats()
    return Collected(people, cells)
