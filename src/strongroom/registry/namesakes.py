"""Honey records never share a family name and birth date with a real person.

A police officer's exact search (family name + birth date) lists every person holding that
pair; a honey record among them would be "read" by an honest officer, and a honey read
suspends the account on its own. So a honey record's pair, and the days either side of its
birth date (`NEAR_DAYS`: the simulated officers' typo, a birth date off by a day), are kept
free of real persons:

- at seeding (`honey_births`), before any row is written: the plan's real persons are
  scanned for namesakes of each honey record's drawn pair (family name compared as the
  blind index normalizes it), and a colliding honey record takes another birth date, drawn
  like every birth date, so the honey records' ages keep the population's distribution. The
  family name, hence the first letter the record covers, stays. Deciding before the writes
  means no later UPDATE singles the honey rows out (a PostgreSQL row version, its
  transaction) to someone holding a copy of the database;
- when a real person is added (`add_person`), in the same transaction: honey records near
  the newcomer's pair are moved to another birth date (re-encrypted, new blind index). The
  newcomer is never refused: a real person must be registrable, and a refusal would tell
  the clerk that a honey record holds that name and birth date.

Collisions are found through the `name_dob` blind index and the keyed canary marks;
nothing is decrypted (`shared_name_dob` checks a whole registry that way).
"""

from __future__ import annotations

import multiprocessing
import secrets
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session

from strongroom.ids import new_public_id
from strongroom.registry.canaries import canary_mark
from strongroom.registry.erasure import add_person_keys, own_keys
from strongroom.registry.models import Address, CanaryMark, Identity, Person
from strongroom.registry.seed_plan import Planner
from strongroom.registry.seed_pools import build_pools
from strongroom.vault.blind_index import normalize

NEAR_DAYS = 1
FIRST_CANDIDATES = 16  # birth dates tried per honey record in the first scan
MAX_ROUNDS = 8  # each further scan tries twice as many
PARALLEL_SCAN_FROM = 500_000  # persons; below, one process scans faster than a pool starts
SCAN_CHUNK = 250_000
REIDENTIFY_TRIES = 64
# pg_advisory_xact_lock key serializing person additions (they are rare: registrations).
_ADD_LOCK = 0x5352_4E41_4D45  # "SRNAME"


class NamesakeError(RuntimeError):
    """No free birth date was found for a honey record (a registry saturated with
    namesakes: not expected below hundreds of millions of persons)."""


# --- at seeding ---------------------------------------------------------------------------
def _key(family_index: int, day: date) -> int:
    return (family_index << 20) | day.toordinal()


def _family_index(planner: Planner) -> dict[str, int]:
    """Family names by their normalized form: names the blind index folds together
    ("Lefèvre", "LEFEVRE") are one name here too."""
    canon: dict[str, int] = {}
    return {
        name: canon.setdefault(normalize(name), len(canon)) for name in planner.pools.family_names
    }


def _scan(
    planner: Planner,
    families: dict[str, int],
    start: int,
    stop: int,
    skip: frozenset[int] | set[int],
    keys: set[int],
) -> set[int]:
    """The candidate keys a real person of [start, stop) sits on or near."""
    hits: set[int] = set()
    near = range(-NEAR_DAYS, NEAR_DAYS + 1)
    for i in range(start, stop):
        if i in skip:
            continue
        family, birth = planner.name_dob(i)
        fi = families[family] << 20
        o = birth.toordinal()
        for d in near:
            k = fi | (o + d)
            if k in keys:
                hits.add(k)
    return hits


_SCANNER: tuple[Planner, dict[str, int]] | None = None


def _scan_init(seed: int, persons: int, today: date) -> None:
    global _SCANNER
    planner = Planner(build_pools(seed), seed, persons, today)
    _SCANNER = (planner, _family_index(planner))


def _scan_work(start: int, stop: int, skip: frozenset[int], keys: set[int]) -> set[int]:
    if _SCANNER is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("namesake scanner not initialised")
    return _scan(_SCANNER[0], _SCANNER[1], start, stop, skip, keys)


def honey_births(
    planner: Planner, targets: dict[int, tuple[str, str]], *, workers: int = 0
) -> dict[int, date]:
    """The birth date each honey record (index -> département, letter) takes instead of
    its drawn one, when the drawn one is on or near a real person's family name and birth
    date. Deterministic for a plan. With `workers` and a large plan, the real persons are
    scanned by a process pool."""
    if not targets:
        return {}
    families = _family_index(planner)
    drawn = {i: planner.name_dob(i, t) for i, t in targets.items()}
    skip = frozenset(targets)
    chosen: dict[int, date] = {}
    taken: set[int] = set()
    pending = sorted(targets)
    lo, hi = 0, FIRST_CANDIDATES
    pool = None
    try:
        for _ in range(MAX_ROUNDS):
            candidates: dict[int, list[date]] = {}
            for i in pending:
                births = planner.birth_alternatives(i, max(0, lo - 1), hi - max(lo, 1))
                candidates[i] = ([drawn[i][1]] if lo == 0 else []) + births
            keys = {
                _key(families[drawn[i][0]], b) for i, births in candidates.items() for b in births
            }
            if workers and planner.persons >= PARALLEL_SCAN_FROM:
                if pool is None:
                    ctx = multiprocessing.get_context("spawn")
                    pool = ctx.Pool(
                        workers,
                        initializer=_scan_init,
                        initargs=(planner.seed, planner.persons, planner.today),
                    )
                parts = [
                    pool.apply_async(
                        _scan_work, (s, min(planner.persons, s + SCAN_CHUNK), skip, keys)
                    )
                    for s in range(0, planner.persons, SCAN_CHUNK)
                ]
                hits: set[int] = set().union(*(p.get() for p in parts))
            else:
                hits = _scan(planner, families, 0, planner.persons, skip, keys)
            still = []
            for i in pending:
                fi = families[drawn[i][0]]
                free = next(
                    (
                        b
                        for b in candidates[i]
                        if _key(fi, b) not in hits and _key(fi, b) not in taken
                    ),
                    None,
                )
                if free is None:
                    still.append(i)
                    continue
                taken.add(_key(fi, free))
                if free != drawn[i][1]:
                    chosen[i] = free
            pending = still
            if not pending:
                return chosen
            lo, hi = hi, hi * 2
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    raise NamesakeError(f"{len(pending)} honey record(s) found no birth date free of namesakes")


# --- in the database ----------------------------------------------------------------------
def _honey_marks(s: Session, honey_key: bytes, public_ids: Iterable[str]) -> set[str]:
    """Which of these persons are honey records (their keyed mark is on file)."""
    by_mark = {canary_mark(honey_key, p): p for p in public_ids if p.isascii()}
    if not by_mark:
        return set()
    found = s.execute(select(CanaryMark.mark).where(CanaryMark.mark.in_(list(by_mark)))).scalars()
    return {by_mark[bytes(m)] for m in found}


def shared_name_dob(engine: Engine, honey_key: bytes) -> list[bytes]:
    """The `name_dob` blind index values held by both a honey record and a real person
    (empty: no honest exact search can list a honey record). Nothing is decrypted."""
    with Session(engine) as s:
        shared = (
            select(Identity.name_dob_bidx)
            .group_by(Identity.name_dob_bidx)
            .having(func.count() > 1)
            .subquery()
        )
        rows = s.execute(
            select(Identity.name_dob_bidx, Person.public_id)
            .join(Person, Person.id == Identity.person_id)
            .where(Identity.name_dob_bidx.in_(select(shared.c.name_dob_bidx)))
        ).all()
        holders: dict[bytes, list[str]] = defaultdict(list)
        for bidx, pid in rows:
            holders[bytes(bidx)].append(str(pid))
        honey = _honey_marks(s, honey_key, [p for ps in holders.values() for p in ps])
    return sorted(
        b
        for b, pids in holders.items()
        if any(p in honey for p in pids) and any(p not in honey for p in pids)
    )


def _lock_additions(s: Session) -> None:
    """One person addition at a time on PostgreSQL (a honey record moved by one must not
    land on the pair another is adding). SQLite serializes writers by itself."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADD_LOCK})


def _holders(s: Session, bidxs: list[bytes]) -> list[tuple[int, str, bytes]]:
    rows = s.execute(
        select(Person.id, Person.public_id, Identity.name_dob_bidx)
        .join(Identity, Identity.person_id == Person.id)
        .where(Identity.name_dob_bidx.in_(bidxs))
    ).all()
    return [(int(pk), str(pid), bytes(b)) for pk, pid, b in rows]


def _near(vault: Any, family_name: str, day: date) -> list[bytes]:
    # Under every live blind-index key version: a rotation may not have reached a holder.
    return [
        digest
        for d in range(-NEAR_DAYS, NEAR_DAYS + 1)
        for digest in vault.blind_indexes(
            "name_dob", family_name, (day + timedelta(days=d)).isoformat()
        )
    ]


def move_honey_namesakes(
    s: Session, vault: Any, honey_key: bytes, family_name: str, birth_date: date
) -> int:
    """Before a real person with this family name and birth date is written: move every
    honey record on or near that pair to a birth date free of real namesakes (re-encrypted,
    new blind index). Returns how many moved. Runs in the caller's transaction."""
    _lock_additions(s)
    near = _holders(s, _near(vault, family_name, birth_date))
    honey = _honey_marks(s, honey_key, [pid for _, pid, _ in near])
    moved = 0
    for pk, pid, _ in near:
        if pid not in honey:
            continue
        for _ in range(REIDENTIFY_TRIES):
            # A birth date up to three years earlier (never younger: the record stays an
            # adult), clear of the newcomer's own neighbourhood.
            new = birth_date - timedelta(days=2 * NEAR_DAYS + 1 + secrets.randbelow(3 * 365))
            others = [h for h in _holders(s, _near(vault, family_name, new)) if h[0] != pk]
            if others and set(o[1] for o in others) - _honey_marks(
                s, honey_key, [o[1] for o in others]
            ):
                continue  # a real person there already
            # Under the record's own key when it has one, so it stays erasable alone.
            own = own_keys(s, pk).get("identity")
            key = None if own is None else vault.person_key("identity", own)
            ix = vault.index_writer()
            s.execute(
                update(Identity)
                .where(Identity.person_id == pk)
                .values(
                    birth_date_ct=vault.encrypt(
                        "identity", pid, "birth_date", new.isoformat(), key=key
                    ),
                    name_dob_bidx=ix.digest("name_dob", family_name, new.isoformat()),
                    bidx_key=ix.version,
                )
            )
            moved += 1
            break
        else:
            raise NamesakeError("no free birth date found for a honey record")
    return moved


def add_person(
    s: Session,
    vault: Any,
    honey_key: bytes,
    *,
    departement: str,
    family_name: str,
    given_names: str,
    birth_date: date,
    birth_place: str | None,
    street: str,
    city: str,
    postcode: str,
) -> str:
    """Add a real person (identity and address encrypted under a new public ID), after
    moving any honey record off their family name and birth date. The caller commits.
    Returns the public ID."""
    move_honey_namesakes(s, vault, honey_key, family_name, birth_date)
    pid = new_public_id()
    dob = birth_date.isoformat()
    person = Person(public_id=pid, departement=departement)
    s.add(person)
    s.flush()
    # Keys of this person only, committed with the rows: erasure shreds them (`erasure`).
    keys = add_person_keys(s, vault, person.id)

    def enc(store: str, field: str, value: str) -> bytes:
        return bytes(vault.encrypt(store, pid, field, value, key=keys[store]))

    ix = vault.index_writer()

    s.add(
        Identity(
            person_id=person.id,
            family_name_ct=enc("identity", "family_name", family_name),
            given_names_ct=enc("identity", "given_names", given_names),
            birth_date_ct=enc("identity", "birth_date", dob),
            birth_place_ct=enc("identity", "birth_place", birth_place) if birth_place else None,
            name_dob_bidx=ix.digest("name_dob", family_name, dob),
            bidx_key=ix.version,
        )
    )
    s.add(
        Address(
            person_id=person.id,
            street_ct=enc("address", "street", street),
            city_ct=enc("address", "city", city),
            postcode_ct=enc("address", "postcode", postcode),
        )
    )
    s.flush()
    return pid
