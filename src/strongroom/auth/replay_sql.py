"""The DPoP replay cache of the embedded deployment (no Redis): the registry database.

In one process's memory, a proof accepted by one worker could be replayed against another
worker or node of the same registry, and after a restart any proof still inside its window
could be replayed. Here each proof's key is a row, stored by one
upsert: when workers race on the same proof the database's primary key lets exactly one
through, and a key whose window has passed is taken again in the same statement. Expired
rows are swept in one indexed delete at most once a `sweep_seconds` per process.

On PostgreSQL the insert does not wait for its WAL to reach the disk (`synchronous_commit
= off` for that transaction only): a crash of the database server itself may forget the
last fraction of a second of proofs, as Redis (which keeps nothing on disk here) would
forget all of them, and the wait is most of the statement's cost.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from strongroom.auth.store import seen_proofs
from strongroom.clock import SYSTEM_CLOCK, Clock
from strongroom.errors import Unavailable

SWEEP_SECONDS = 60.0

log = logging.getLogger("strongroom.auth.replay")

_INSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


class SqlReplayCache:
    """`ReplayCache` in the registry database, shared by every worker and kept across
    restarts; fails closed (503) when the database cannot answer."""

    def __init__(
        self, engine: sa.Engine, clock: Clock = SYSTEM_CLOCK, sweep_seconds: float = SWEEP_SECONDS
    ) -> None:
        insert = _INSERTS.get(engine.dialect.name)
        if insert is None:
            raise ValueError(f"no DPoP replay cache for {engine.dialect.name} databases")
        self.engine = engine
        self.clock = clock
        self.sweep_seconds = sweep_seconds
        self._no_flush_wait = engine.dialect.name == "postgresql"
        # Built once: building a statement costs more than running it.
        # One statement: stored if new, or taken again if its window has passed (the
        # upsert's WHERE is evaluated on the row as it is once locked), else nothing.
        self._add = (
            insert(seen_proofs)
            .values(key=sa.bindparam("k"), expires_at=sa.bindparam("exp"))
            .on_conflict_do_update(
                index_elements=[seen_proofs.c.key],
                set_={"expires_at": sa.bindparam("exp")},
                where=seen_proofs.c.expires_at <= sa.bindparam("now"),
            )
            .returning(seen_proofs.c.key)
        )
        self._sweep = seen_proofs.delete().where(seen_proofs.c.expires_at <= sa.bindparam("now"))
        self._next_sweep = 0.0
        self._sweep_lock = threading.Lock()

    def add(self, key: str, ttl: int) -> bool:
        now = self.clock.now()
        params = {"k": key, "exp": now + ttl, "now": now}
        try:
            with self.engine.begin() as conn:
                if self._no_flush_wait:
                    conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                # RETURNING, not rowcount: through psycopg an upsert's rowcount reads -1.
                stored = conn.execute(self._add, params).first() is not None
        except sa.exc.SQLAlchemyError as exc:
            raise Unavailable("DPoP replay cache unavailable") from exc
        self._maybe_sweep(now)
        return stored

    def sweep(self) -> int:
        """Delete the keys whose window has passed; how many went."""
        with self.engine.begin() as conn:
            return int(conn.execute(self._sweep, {"now": self.clock.now()}).rowcount or 0)

    def _maybe_sweep(self, now: float) -> None:
        # One thread of the process sweeps while the others go on: a sweep a minute keeps
        # the table at about a minute's proofs without a delete on every request.
        if now < self._next_sweep or not self._sweep_lock.acquire(blocking=False):
            return
        try:
            self._next_sweep = now + self.sweep_seconds
            self.sweep()
        except sa.exc.SQLAlchemyError as exc:
            # The proof was checked and stored; a sweep missed is only retried later.
            log.warning("sweeping the DPoP replay cache failed: %s", type(exc).__name__)
        finally:
            self._sweep_lock.release()
