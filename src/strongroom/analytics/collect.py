"""Reading the registry for analytics: counts per cell of every level the views need.

A build reads the registry person by person (in batches of internal IDs): each person's
*contribution*, their generalized profile and the generalized values of their permits,
weapons, sales and bans, is added to the counts, and kept sealed (`changes.py`) so that a
refresh can take it out again. A refresh reads only the persons the change log names,
those whose age band or ban changed with the calendar, and subtracts each one's old
contribution before adding the new: the counts equal a full build's for the same
registry. What cannot be applied person by person (a dealer's département, a honey mark,
counts written by a release that was never published, a long gap) is counted in full,
and the report says why.

Birth dates and communes are encrypted; they are decrypted here, one person at a time,
and reduced at once to their generalization (an age band, a commune tag whose size band
is known once every person is counted). Honey records and erased persons are left out.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, and_, func, null, or_, select

from strongroom.analytics import changes as log
from strongroom.analytics.catalogue import Generalizer, dims_of
from strongroom.analytics.sealed import StateKeys
from strongroom.analytics.suppress import Key, Level, Stat
from strongroom.registry.canaries import canary_mark
from strongroom.registry.models import (
    Address,
    Ban,
    CanaryMark,
    DataKey,
    Dealer,
    Identity,
    Permit,
    Person,
    Sale,
    Weapon,
)

BATCH = 2000  # persons read at a time: memory stays flat whatever the registry's size
LONGEST_GAP = timedelta(days=400)  # beyond, a refresh counts in full (age weeks to scan)

Values = tuple[str, ...]
PersonValues = tuple[str, str, str, str]  # departement, age, commune, holds_weapons
Where = Callable[[Any], Any]


class Decryptor(Protocol):
    def decrypt(self, store: str, row_id: str, field: str, blob: bytes | None) -> str | None: ...

    def load_keys(self, rows: Iterable[tuple[int, str, int, bytes]]) -> None: ...


@dataclass
class Contribution:
    """One person's part of the counts: their profile, and per other universe the units
    they count in each combination of values."""

    person: PersonValues
    rows: dict[str, Counter[Values]] = field(default_factory=dict)
    recheck: date | None = None  # when their age band changes next

    def encode(self) -> bytes:
        rows = {u: [[*v, n] for v, n in c.items()] for u, c in self.rows.items()}
        return json.dumps([list(self.person), rows], separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes) -> Contribution:
        person, rows = json.loads(data)
        return cls(
            person=tuple(person),
            rows={u: Counter({tuple(r[:-1]): int(r[-1]) for r in rs}) for u, rs in rows.items()},
        )


def _getter(at: tuple[int, ...]) -> Callable[[Values], Key]:
    """A level's key from a row's values; itemgetter, the fastest way Python has."""
    if not at:
        return lambda _values: ()
    if len(at) == 1:
        (i,) = at
        return lambda values: (values[i],)
    return itemgetter(*at)


class Counts:
    """Units and distinct persons per cell of each level, communes by their tag; and the
    persons registered per commune (a commune's size band)."""

    def __init__(self, levels: Mapping[str, set[Level]]) -> None:
        self.levels = {u: sorted(lvs) for u, lvs in levels.items()}
        self.cells: dict[str, dict[Level, dict[Key, list[int]]]] = {
            u: {lv: {} for lv in lvs} for u, lvs in self.levels.items()
        }
        self.communes: dict[str, int] = {}
        self.persons = 0
        self._at = {
            u: [(lv, _getter(tuple(dims_of(u).index(d) for d in lv))) for lv in lvs]
            for u, lvs in self.levels.items()
        }

    def apply(self, c: Contribution, sign: int) -> None:
        self.persons += sign
        commune = c.person[2]
        if commune:
            left = self.communes.get(commune, 0) + sign
            if left:
                self.communes[commune] = left
            else:
                del self.communes[commune]
        for universe, at in self._at.items():
            rows = Counter({c.person: 1}) if universe == "persons" else c.rows.get(universe)
            if not rows:
                continue
            tables = self.cells[universe]
            for lv, key_of in at:
                merged: dict[Key, int] = {}
                for values, units in rows.items():
                    key = key_of(values)
                    merged[key] = merged.get(key, 0) + units
                table = tables[lv]
                for key, units in merged.items():
                    cell = table.get(key)
                    if cell is None:
                        table[key] = [sign * units, sign]
                    else:
                        cell[0] += sign * units
                        cell[1] += sign
                        if cell[1] == 0:
                            del table[key]

    def commune_label(self, gen: Generalizer, commune: str) -> str:
        return (
            commune if gen.commune == "none" else gen.commune_of("", self.communes.get(commune, 0))
        )

    def published(self, gen: Generalizer) -> dict[str, dict[Level, dict[Key, Stat]]]:
        """The counts as views show them: a commune tag becomes its size band."""
        out: dict[str, dict[Level, dict[Key, Stat]]] = {}
        for universe, tables in self.cells.items():
            out[universe] = {}
            for lv, table in tables.items():
                if "commune" not in lv or gen.commune == "none":
                    out[universe][lv] = {k: Stat(c[0], c[1]) for k, c in table.items()}
                    continue
                i = lv.index("commune")
                merged: dict[Key, list[int]] = {}
                for key, (n, persons) in table.items():
                    band = (*key[:i], self.commune_label(gen, key[i]), *key[i + 1 :])
                    m = merged.setdefault(band, [0, 0])
                    m[0] += n
                    m[1] += persons
                out[universe][lv] = {k: Stat(n, p) for k, (n, p) in merged.items()}
        return out

    def encode(self, day: date) -> bytes:
        doc = {
            "day": day.isoformat(),
            "persons": self.persons,
            "communes": self.communes,
            "cells": {
                u: [[list(lv), [[list(k), *c] for k, c in t.items()]] for lv, t in ts.items()]
                for u, ts in self.cells.items()
            },
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes, levels: Mapping[str, set[Level]]) -> tuple[Counts, date] | None:
        """The counts kept by the last release, None when they were kept for other levels."""
        doc = json.loads(data)
        kept = {u: {tuple(lv) for lv, _ in ts} for u, ts in doc["cells"].items()}
        if kept != {u: set(lvs) for u, lvs in levels.items()}:
            return None
        counts = cls(levels)
        counts.persons = int(doc["persons"])
        counts.communes = {k: int(v) for k, v in doc["communes"].items()}
        for u, ts in doc["cells"].items():
            for lv, cells in ts:
                counts.cells[u][tuple(lv)] = {tuple(k): [n, p] for k, n, p in cells}
        return counts, date.fromisoformat(doc["day"])


class Reader:
    """Contributions of the persons a filter on their internal ID selects."""

    def __init__(
        self,
        conn: Connection,
        vault: Decryptor,
        honey_key: bytes,
        gen: Generalizer,
        today: date,
        keys: StateKeys,
        levels: Mapping[str, set[Level]],
        *,
        holds_weapons: bool,
    ) -> None:
        self.conn, self.vault, self.honey_key = conn, vault, honey_key
        self.gen, self.today, self.keys = gen, today, keys
        self.universes = set(levels)
        used = {d for lvs in levels.values() for lv in lvs for d in lv}
        self.need_age = "age" in used
        self.need_commune = "commune" in used
        self.need_holds = holds_weapons
        self.marks = frozenset(bytes(m) for m in conn.execute(select(CanaryMark.mark)).scalars())

    def read(self, where: Where) -> dict[int, Contribution | None]:
        """Every person the filter selects: their contribution, None for a honey record or
        an erased person."""
        out: dict[int, Contribution | None] = {}
        stmt = (
            select(
                Person.id,
                Person.public_id,
                Person.departement,
                Person.erased_at,
                Identity.birth_date_ct if self.need_age else null().label("b"),
                Address.city_ct if self.need_commune else null().label("c"),
            )
            .outerjoin(Identity, Identity.person_id == Person.id)
            .outerjoin(Address, Address.person_id == Person.id)
            .where(where(Person.id))
        )
        if self.need_age or self.need_commune:
            # The persons' own data keys in one query, not one query per person.
            keys = select(DataKey.id, DataKey.store, DataKey.kek_version, DataKey.wrapped)
            self.vault.load_keys(self.conn.execute(keys.where(where(DataKey.person_id))))
        decrypt, gen = self.vault.decrypt, self.gen
        for pid, public_id, dept, erased_at, birth_ct, city_ct in self.conn.execute(stmt):
            if erased_at is not None or (
                self.marks and canary_mark(self.honey_key, public_id) in self.marks
            ):
                out[pid] = None
                continue
            age, commune, recheck = "", "", None
            if self.need_age:
                birth = decrypt("identity", public_id, "birth_date", birth_ct)
                if birth:
                    born = date.fromisoformat(birth)
                    age = gen.age_of(born, self.today)
                    recheck = gen.age_changes_on(born, self.today)
                else:
                    age = "unknown"
            if self.need_commune:
                city = decrypt("address", public_id, "city", city_ct) or "unknown"
                commune = (
                    f"{city} ({dept})"
                    if gen.commune == "none"
                    else self.keys.commune_tag(dept, city)
                )
            out[pid] = Contribution((gen.departement_of(dept), age, commune, "no"), {}, recheck)
        self._assets(out, where)
        return out

    def _assets(self, out: dict[int, Contribution | None], where: Where) -> None:
        gen, today = self.gen, self.today

        def add(universe: str, c: Contribution, values: Values) -> None:
            c.rows.setdefault(universe, Counter())[values] += 1

        if "permits" in self.universes:
            permits = select(
                Permit.person_id, Permit.kind, Permit.categories, Permit.status, Permit.issued
            ).where(where(Permit.person_id))
            for pid, kind, categories, status, issued in self.conn.execute(permits):
                c = out.get(pid)
                if c is not None:
                    p = c.person
                    add(
                        "permits",
                        c,
                        (p[0], p[1], p[2], kind, categories, status, gen.date_of(issued)),
                    )
        if "weapons" in self.universes or self.need_holds:
            weapons = select(Weapon.holder_id, Weapon.category, Weapon.status).where(
                where(Weapon.holder_id)
            )
            for holder, category, status in self.conn.execute(weapons):
                c = out.get(holder) if holder is not None else None
                if c is None:
                    continue
                if self.need_holds:
                    c.person = (c.person[0], c.person[1], c.person[2], "yes")
                if "weapons" in self.universes:
                    p = c.person
                    add("weapons", c, (p[0], p[1], p[2], category, status))
        if "sales" in self.universes:
            stmt = (
                select(Sale.buyer_id, Dealer.departement, Weapon.category, Sale.sold_at)
                .join(Dealer, Dealer.id == Sale.dealer_id)
                .join(Weapon, Weapon.id == Sale.weapon_id)
                .where(where(Sale.buyer_id))
            )
            for pid, dealer_dept, category, sold_at in self.conn.execute(stmt):
                c = out.get(pid)
                if c is not None:
                    day = datetime.fromtimestamp(sold_at, UTC).date()
                    values = (
                        gen.departement_of(dealer_dept),
                        c.person[1],
                        category,
                        gen.date_of(day),
                    )
                    add("sales", c, values)
        if "bans" in self.universes:
            bans = select(Ban.person_id, Ban.since, Ban.until).where(where(Ban.person_id))
            for pid, since, until in self.conn.execute(bans):
                c = out.get(pid)
                if c is not None:
                    active = "yes" if since <= today and (until is None or until >= today) else "no"
                    add("bans", c, (c.person[0], c.person[1], gen.date_of(since), active))


def today_of(now: float) -> date:
    return datetime.fromtimestamp(now, UTC).date()


@dataclass
class Collected:
    counts: Counts
    cells: dict[str, dict[Level, dict[Key, Stat]]]  # universe -> level -> key -> counts
    how: str  # full | incremental
    why_full: str | None = None  # why a refresh counted in full
    recounted: int = 0  # persons whose contribution was read from the registry

    @property
    def persons(self) -> int:
        return self.counts.persons


class Collector:
    """Counts for a release, in one snapshot of the registry: in full, or from the last
    release's counts and the persons changed since."""

    def __init__(
        self,
        engine: Engine,
        vault: Decryptor,
        honey_key: bytes,
        gen: Generalizer,
        keys: StateKeys,
        levels: Mapping[str, set[Level]],
        *,
        holds_weapons: bool,
    ) -> None:
        self.engine, self.vault, self.honey_key = engine, vault, honey_key
        self.gen, self.keys, self.levels = gen, keys, levels
        self.holds_weapons = holds_weapons

    def _reader(self, conn: Connection, today: date) -> Reader:
        return Reader(
            conn,
            self.vault,
            self.honey_key,
            self.gen,
            today,
            self.keys,
            self.levels,
            holds_weapons=self.holds_weapons,
        )

    def collect(self, today: date, release: int, *, incremental: bool) -> Collected:
        """Count, write every changed person's sealed contribution and mark the release
        pending (committed before the release is published: `save` ends the pending)."""
        with self.engine.connect() as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                # One snapshot for every query: counts of one universe never mix with
                # another's from a later commit, and the change rows deleted are the ones
                # this snapshot applied.
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            why = "the first release" if not incremental else self._obstacle(conn, today)
            log.mark_pending(conn, release)
            if why is None:
                return self._incremental(conn, today)
            data = self._full(conn, today, write=True)
            data.why_full = why
            return data

    def count_all(self, today: date) -> Collected:
        """Counts in full, writing nothing (the tests' reference)."""
        with self.engine.connect() as conn, conn.begin():
            return self._full(conn, today, write=False)

    def _obstacle(self, conn: Connection, today: date) -> str | None:
        kept = log.load_tallies(conn)
        if kept is None:
            return "the last release's counts were not kept"
        prior = Counts.decode(self.keys.open(kept[1], b"counts"), self.levels)
        if prior is None:
            return "the last release counted other levels"
        self._prior, self._day = prior
        if not self._day <= today <= self._day + LONGEST_GAP:
            return f"the last release counted on {self._day.isoformat()}"
        self._changes = log.read_changes(conn)
        if self._changes.unmapped:
            return "changes to " + ", ".join(sorted(self._changes.unmapped))
        return None

    def _full(self, conn: Connection, today: date, *, write: bool) -> Collected:
        reader = self._reader(conn, today)
        counts = Counts(self.levels)
        upto = log.last_seq(conn)
        if write:
            log.clear_states(conn)
        top = int(conn.execute(select(func.max(Person.id))).scalar() or 0)
        read = 0
        for lo in range(0, top + 1, BATCH):
            batch = reader.read(_between(lo, lo + BATCH - 1))
            rows = []
            for pid, c in batch.items():
                if c is None:
                    continue
                counts.apply(c, +1)
                rows.append(self._state_row(pid, c))
            read += len(batch)
            if write:
                log.write_states(conn, (), rows)
        if write:
            log.consume(conn, upto)
        return Collected(counts, counts.published(self.gen), "full", recounted=read)

    def _incremental(self, conn: Connection, today: date) -> Collected:
        counts, day, changed = self._prior, self._day, self._changes
        due = set(changed.persons)
        if today > day:
            due |= _ban_crossings(conn, day, today)
            if self._reader_needs_age():
                weeks = {
                    self.keys.week_tag(day + timedelta(days=i))
                    for i in range(1, (today - day).days + 1)
                }
                due |= log.persons_due(conn, weeks)
        reader = self._reader(conn, today)
        old = log.states_of(conn, due)
        listed = sorted(due)
        gone: list[int] = []
        for i in range(0, len(listed), BATCH):
            chunk = listed[i : i + BATCH]
            now = reader.read(_among(chunk))
            rows = []
            for pid in chunk:
                before = old.get(pid)
                if before is not None:
                    counts.apply(Contribution.decode(self.keys.open(before, _bound(pid))), -1)
                after = now.get(pid)
                if after is None:
                    gone.append(pid)
                else:
                    counts.apply(after, +1)
                    rows.append(self._state_row(pid, after))
            log.write_states(conn, [], rows)
        log.write_states(conn, gone, [])
        log.consume(conn, changed.last_seq)
        return Collected(counts, counts.published(self.gen), "incremental", recounted=len(due))

    def _reader_needs_age(self) -> bool:
        return any("age" in lv for lvs in self.levels.values() for lv in lvs)

    def _state_row(self, pid: int, c: Contribution) -> dict[str, Any]:
        return {
            "person_id": pid,
            "recheck": None if c.recheck is None else self.keys.week_tag(c.recheck),
            "state": self.keys.seal(c.encode(), _bound(pid)),
        }

    def save(self, conn: Connection, data: Collected, release: int, today: date) -> None:
        """In the release's transaction: the counts the next refresh starts from."""
        log.save_tallies(conn, release, self.keys.seal(data.counts.encode(today), b"counts"))

    def person_rows(self, counts: Counts) -> Iterator[tuple[int, PersonValues]]:
        """Every counted person's published profile (row views), from the sealed
        contributions, in internal ID order."""
        with self.engine.connect() as conn:
            for pid, state in log.all_states(conn):
                p = Contribution.decode(self.keys.open(state, _bound(pid))).person
                yield pid, (p[0], p[1], counts.commune_label(self.gen, p[2]) if p[2] else "", p[3])


def _between(lo: int, hi: int) -> Where:
    return lambda col: col.between(lo, hi)


def _among(pids: list[int]) -> Where:
    return lambda col: col.in_(pids)


def _bound(pid: int) -> bytes:
    return b"person:" + str(pid).encode()


def _ban_crossings(conn: Connection, last: date, today: date) -> set[int]:
    """Persons with a ban that came into force or ended between the two days."""
    stmt = select(Ban.person_id).where(
        or_(
            and_(Ban.since > last, Ban.since <= today),
            and_(Ban.until.is_not(None), Ban.until >= last, Ban.until < today),
        )
    )
    return {int(p) for p in conn.execute(stmt).scalars()}


def collect(
    engine: Engine,
    vault: Decryptor,
    honey_key: bytes,
    gen: Generalizer,
    today: date,
    levels: Mapping[str, set[Level]],
    *,
    holds_weapons: bool,
    keys: StateKeys | None = None,
) -> Collected:
    """Counts for every level of `levels` (universe -> levels), in full, writing nothing."""
    keys = keys or StateKeys(b"\0" * 32)
    return Collector(
        engine, vault, honey_key, gen, keys, levels, holds_weapons=holds_weapons
    ).count_all(today)
