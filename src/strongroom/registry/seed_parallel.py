"""Parallel batch building for the seed: worker processes plan and encrypt batches while
the parent writes them, in order.

Each worker rebuilds the pools and the planner from the seed (they are deterministic) and
its own vault from a picklable factory; persons are drawn from per-index RNG states, so the
rows do not depend on which worker built them. At most `workers + 1` batches are in flight,
which keeps memory bounded when the database is the slower side.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from strongroom.registry.canaries import canary_mark, honey_key_of
from strongroom.registry.seed_plan import PersonPlan, Planner
from strongroom.registry.seed_pools import build_pools
from strongroom.registry.seed_rows import Bases, canary_public_id, person_rows

STORES = ("identity", "address", "asset")


@dataclass
class Built:
    """One batch, ready to insert: rows per table, canary marks, a demo candidate."""

    rows: dict[str, list[tuple[Any, ...]]]
    marks: list[bytes]
    plans_for_fixture: list[tuple[PersonPlan, str]]


@dataclass(frozen=True)
class BatchSpec:
    seed: int
    persons: int
    today: date
    bases: Bases
    dealer_ids: tuple[str, ...]
    targets: dict[int, tuple[str, str]]
    # Honey records moved off a real person's family name and birth date (`namesakes`).
    births: dict[int, date] = field(default_factory=dict)
    # Generation ids of an older home where person keys take theirs (`erasure`).
    taken_dek_ids: frozenset[int] = frozenset()


class BatchBuilder:
    def __init__(self, spec: BatchSpec, vault: Any, planner: Planner | None = None) -> None:
        self.spec, self.vault = spec, vault
        self.planner = planner or Planner(
            build_pools(spec.seed), spec.seed, spec.persons, spec.today
        )
        self.rank = {i: k for k, i in enumerate(spec.targets)}
        self.honey_key = honey_key_of(vault)
        self.built = 0

    def rotate(self) -> None:
        new_generation = getattr(self.vault, "new_generation", None)
        if new_generation is not None:
            for store in STORES:
                new_generation(store)

    def build(self, start: int, stop: int, want_fixture: bool) -> Built:
        from strongroom.ids import new_public_id

        targets = self.spec.targets
        births = self.spec.births
        plans = [self.planner.person(i, targets.get(i), births.get(i)) for i in range(start, stop)]
        ids = [canary_public_id(self.rank[p.index]) if p.canary else new_public_id() for p in plans]
        marks = [
            canary_mark(self.honey_key, pid) for p, pid in zip(plans, ids, strict=True) if p.canary
        ]
        rows = person_rows(
            self.vault,
            plans,
            ids,
            self.spec.bases,
            list(self.spec.dealer_ids),
            self.spec.taken_dek_ids,
        )
        self.built += 1
        # Plans carry plain values: only the first batches send candidates back.
        fixture = list(zip(plans[:1000], ids[:1000], strict=True)) if want_fixture else []
        return Built(rows, marks, fixture)


_WORKER: BatchBuilder | None = None


def _init(spec: BatchSpec, vault_factory: Callable[[], Any], rotate_every: int) -> None:
    global _WORKER
    _WORKER = BatchBuilder(spec, vault_factory())
    _WORKER.rotate()
    _WORKER.rotate_every = rotate_every  # type: ignore[attr-defined]


def _work(start: int, stop: int, want_fixture: bool) -> Built:
    if _WORKER is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("seed worker not initialised")
    every = getattr(_WORKER, "rotate_every", 0)
    if every and _WORKER.built and _WORKER.built % every == 0:
        _WORKER.rotate()
    return _WORKER.build(start, stop, want_fixture)


def parallel_batches(
    spec: BatchSpec,
    vault_factory: Callable[[], Any],
    workers: int,
    batches: list[tuple[int, int]],
    rotate_every: int,
) -> Iterator[Built]:
    """Built batches in order, produced by `workers` processes."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init, initargs=(spec, vault_factory, rotate_every)) as pool:
        pending: deque[Any] = deque()
        todo = iter(enumerate(batches))
        for _ in range(workers + 1):
            nxt = next(todo, None)
            if nxt is None:
                break
            n, (start, stop) = nxt
            pending.append(pool.apply_async(_work, (start, stop, n < 2)))
        while pending:
            built = pending.popleft().get()
            nxt = next(todo, None)
            if nxt is not None:
                n, (start, stop) = nxt
                pending.append(pool.apply_async(_work, (start, stop, n < 2)))
            yield built


def _file_vault(keys_dir: str, url: str) -> Any:
    from strongroom.registry.db import make_engine
    from strongroom.registry.keystore import registry_vault
    from strongroom.vault import FileKeyProvider

    return registry_vault(FileKeyProvider(Path(keys_dir)), make_engine(url))


def file_vault_factory(keys_dir: str | Path, url: str) -> Callable[[], Any]:
    """A picklable factory for workers: the file key provider and the database's key store."""
    return partial(_file_vault, str(keys_dir), url)
