"""`strongroom seed`: a synthetic, realistic French firearms registry, deterministic for a
seed and a reference date (`today`, which places permit and ban dates), except public IDs:
those are always fresh random UUIDv4, so outsiders cannot predict them even knowing the seed.

Persons are planned one by one (`seed_plan`), encrypted by the vault (`seed_rows`) and written
in batches, one transaction per batch (`seed_sql`), so memory stays bounded whatever the size.
Honey records are ordinary persons planned to cover every département and every first letter
of family names; only `HMAC(honey_key, public_id)` marks them, written at the end in sorted
order so that neither position nor transaction ties a mark to a batch. Before any row is
written, a honey record whose family name and birth date a real person of the plan also
holds (or is a day from) takes another birth date (`namesakes`): no honest exact search
lists a honey record.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from strongroom.errors import BadRequest, Conflict, Unavailable
from strongroom.ids import new_public_id
from strongroom.registry.erasure import taken_low_ids
from strongroom.registry.namesakes import honey_births
from strongroom.registry.seed_parallel import BatchBuilder, BatchSpec, Built, parallel_batches
from strongroom.registry.seed_plan import MAX_PERSONS, PersonPlan, Planner
from strongroom.registry.seed_pools import build_pools
from strongroom.registry.seed_rows import Bases, dealer_rows
from strongroom.registry.seed_sql import (
    ORDER,
    advance_sequences,
    bulk_load,
    insert_rows,
    max_ids,
)

ROTATE_EVERY = 20  # batches per data-key generation


def default_canaries(persons: int) -> int:
    """About one in a thousand, and at least enough (128) to cover the 101 départements
    and every first letter, unless the population is tiny."""
    return max(min(persons // 20, 128), persons // 1000)


@dataclass
class SeedReport:
    persons: int
    counts: dict[str, int]
    canaries: int
    seconds: float
    persons_per_second: float
    workers: int = 0
    # Synthetic plain values for the demo's curl examples. Returned to the caller only,
    # never stored in the database, never printed by repr().
    fixtures: dict[str, str] = field(default_factory=dict, repr=False)


def _batches(total: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, total, size):
        yield start, min(total, start + size)


class _FixturePicker:
    """The first ordinary person who can stand for the demo: a valid permit for months to
    come, a weapon, no ban, and a dealer in the same département with stock the permit
    covers."""

    def __init__(self, planner: Planner, dealer_ids: list[str], today: date) -> None:
        self.planner, self.dealer_ids = planner, dealer_ids
        self.horizon = today + timedelta(days=120)
        self.found: dict[str, str] = {}

    def offer(self, plan: PersonPlan, public_id: str) -> None:
        if self.found or plan.canary or plan.ban is not None or not plan.weapons:
            return
        for pm in plan.permits:
            if pm.status != "valid" or pm.expires < self.horizon:
                continue
            cats = pm.categories.split(",")
            for k in self.planner.dealers_by_dept.get(plan.departement, []):
                stock = [w for w in self.planner.dealers[k].stock if w.category in cats]
                if stock:
                    self.found = {
                        "owner_id": public_id,
                        "departement": plan.departement,
                        "permit_number": pm.number,
                        "family_name": plan.family_name,
                        "birth_date": plan.birth_date.isoformat(),
                        "weapon_serial": plan.weapons[0].serial,
                        "dealer_id": self.dealer_ids[k],
                        "stock_serial": stock[0].serial,
                    }
                    return


def seed(
    engine: Engine,
    vault: Any,
    *,
    persons: int,
    seed: int,
    batch_size: int = 5000,
    progress: Callable[[int], None] | None = None,
    canaries: int | None = None,
    today: date | None = None,
    workers: int = 0,
    vault_factory: Callable[[], Any] | None = None,
    sqlite_cache_mib: int = 512,
) -> SeedReport:
    """Seed `persons` synthetic owners (with their permits, weapons, sales, transfers and
    bans), the dealers of their départements and the honey records among them.

    With `workers` > 0 and a picklable `vault_factory` (see `seed_parallel`), worker
    processes plan and encrypt batches while this process writes them. On SQLite the load
    runs with a page cache of `sqlite_cache_mib` (the random-key indexes are its cost)."""
    if not 0 < persons <= MAX_PERSONS:
        raise BadRequest(f"persons must be between 1 and {MAX_PERSONS:,}")
    if batch_size < 1:
        raise BadRequest("batch_size must be positive")
    if workers and vault_factory is None:
        raise BadRequest("parallel seeding needs a vault factory for the workers")
    started = time.perf_counter()
    today = today or date.today()
    planner = Planner(build_pools(seed), seed, persons, today)
    n_canaries = default_canaries(persons) if canaries is None else min(canaries, persons)
    counts = dict.fromkeys(ORDER, 0)
    marks: list[bytes] = []
    dbapi_error = getattr(engine.dialect.dbapi, "Error", SQLAlchemyError)
    try:
        bases = Bases(**max_ids(engine))
        if bases.persons:
            # Permit numbers and serials are unique within one seed's plan, not across
            # plans: a second seed on top of the first could collide halfway through.
            raise Conflict("the registry already holds persons: seed an empty database")
        dealer_ids = [new_public_id() for _ in planner.dealers]
        targets = planner.canary_targets(n_canaries)
        spec = BatchSpec(
            seed,
            persons,
            today,
            bases,
            tuple(dealer_ids),
            targets,
            honey_births(planner, targets, workers=workers),
            taken_low_ids(vault),
        )
        picker = _FixturePicker(planner, dealer_ids, today)
        builder = BatchBuilder(spec, vault, planner)
        builder.rotate()
        rows = dealer_rows(vault, planner, planner.dealers, bases, dealer_ids)
        batches = list(_batches(persons, batch_size))
        if workers:
            built_batches = parallel_batches(spec, vault_factory, workers, batches, ROTATE_EVERY)  # type: ignore[arg-type]
        else:
            built_batches = _sequential(builder, batches)
        # One connection for the whole load, tuned for it and restored after.
        with engine.connect() as conn, bulk_load(conn, cache_mib=sqlite_cache_mib):
            with conn.begin():
                insert_rows(conn, rows)
            _add(counts, rows)
            for (_start, stop), built in zip(batches, built_batches, strict=True):
                for plan, pid in built.plans_for_fixture:
                    picker.offer(plan, pid)
                marks.extend(built.marks)
                with conn.begin():
                    insert_rows(conn, built.rows)
                _add(counts, built.rows)
                if progress is not None:
                    progress(stop)
            with conn.begin():
                insert_rows(conn, {"canary_marks": [(m,) for m in sorted(marks)]})
                advance_sequences(conn)
        counts["canary_marks"] += len(marks)
    except (SQLAlchemyError, dbapi_error) as exc:
        raise Unavailable(f"seeding the registry failed: {type(exc).__name__}") from exc
    seconds = time.perf_counter() - started
    return SeedReport(
        persons=persons,
        counts=counts,
        canaries=len(marks),
        seconds=seconds,
        persons_per_second=persons / seconds if seconds else 0.0,
        workers=workers,
        fixtures=dict(picker.found),
    )


def _sequential(builder: BatchBuilder, batches: list[tuple[int, int]]) -> Iterator[Built]:
    for n, (start, stop) in enumerate(batches):
        if n and n % ROTATE_EVERY == 0:
            builder.rotate()
        yield builder.build(start, stop, n < 2)


def _add(counts: dict[str, int], rows: dict[str, list[tuple[Any, ...]]]) -> None:
    for table, batch in rows.items():
        counts[table] += len(batch)
