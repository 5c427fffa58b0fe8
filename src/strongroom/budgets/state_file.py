"""The embedded deployment's budgets kept across restarts: a SQLite file in the home that
the in-process backend's changes are written to, behind the decisions.

Decisions stay in memory (one lock, no I/O on the request path); a background thread
writes what changed every `interval` seconds and on close. Counts are stored as deltas
added in SQL (`count = count + delta`) and subjects as their latest disclosure time, so
two processes that used one home one after the other (the server, then a CLI command)
both leave their share, and neither overwrites the other's. On open the backend is
restored from the file, so a restarted server refuses what the old one would have.

A crash loses at most the last `interval` of changes; several processes serving at once
still need Redis (the server refuses `--workers N` without it).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    select,
)
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.exc import SQLAlchemyError

from strongroom.budgets import window as win
from strongroom.budgets.memory import Changes, MemoryBackend
from strongroom.clock import Clock
from strongroom.journal.engines import make_engine

log = logging.getLogger("strongroom.budgets")

FLUSH_INTERVAL_SECONDS = 0.5

metadata = MetaData()

counts = Table(
    "budget_counts",
    metadata,
    Column("budget", String(128), nullable=False),
    Column("value", String(512), nullable=False),
    Column("kind", String(1), nullable=False),  # c: units counted, w: would-refuse
    Column("bucket", Integer, nullable=False),
    Column("count", Integer, nullable=False),
    Column("window", Integer, nullable=False),
    Column("expires_at", Float, nullable=False),
    PrimaryKeyConstraint("budget", "value", "kind", "bucket"),
)

subjects = Table(
    "budget_subjects",
    metadata,
    Column("budget", String(128), nullable=False),
    Column("value", String(512), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("at", Float, nullable=False),
    Column("window", Integer, nullable=False),
    Column("expires_at", Float, nullable=False),
    PrimaryKeyConstraint("budget", "value", "subject"),
)


class BudgetStateFile:
    """Restores `backend` from `path` now, then keeps writing its changes there."""

    def __init__(
        self,
        path: Path,
        backend: MemoryBackend,
        clock: Clock,
        *,
        interval: float = FLUSH_INTERVAL_SECONDS,
    ) -> None:
        self.path = path
        self.backend = backend
        self.clock = clock
        # WAL without an fsync per commit: a commit outlives the process, which is what a
        # restart needs; an OS crash may take the last moments, like the flush interval.
        self.engine = make_engine(f"sqlite:///{path}", durable=False)
        metadata.create_all(self.engine)
        self._restore()
        self._stop = threading.Event()
        self._flush_lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name="budget-state", daemon=True
        )
        self._thread.start()

    def flush(self) -> None:
        """Write what changed since the last flush. A failed write keeps the changes for
        the next one (the decisions themselves never wait for the file)."""
        with self._flush_lock:
            changes = self.backend.take_changes()
            if not changes:
                return
            try:
                self._write(changes)
            except SQLAlchemyError as exc:
                log.error("budget state not written (%s); retrying", type(exc).__name__)
                self.backend.requeue(changes)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.flush()
        self.engine.dispose()

    # --- internals -----------------------------------------------------------------------
    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.flush()

    def _write(self, changes: Changes) -> None:
        now = self.clock.now()
        with self.engine.begin() as conn:
            if changes.counts:
                rows = [
                    {
                        "budget": name,
                        "value": value,
                        "kind": kind,
                        "bucket": idx,
                        "count": delta,
                        "window": window,
                        "expires_at": win.expires_at(idx, window),
                    }
                    for (name, value, kind, idx), (delta, window) in changes.counts.items()
                ]
                stmt = insert(counts)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["budget", "value", "kind", "bucket"],
                        set_={"count": counts.c.count + stmt.excluded.count},
                    ),
                    rows,
                )
            if changes.subjects:
                rows = [
                    {
                        "budget": name,
                        "value": value,
                        "subject": subject,
                        "at": at,
                        "window": window,
                        "expires_at": at + window,
                    }
                    for (name, value, subject), (at, window) in changes.subjects.items()
                ]
                stmt = insert(subjects)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["budget", "value", "subject"],
                        set_={"at": stmt.excluded.at, "expires_at": stmt.excluded.expires_at},
                        where=stmt.excluded.at > subjects.c.at,
                    ),
                    rows,
                )
            conn.execute(delete(counts).where(counts.c.expires_at < now))
            conn.execute(delete(subjects).where(subjects.c.expires_at < now))

    def _restore(self) -> None:
        now = self.clock.now()
        with self.engine.connect() as conn:
            count_rows = conn.execute(
                select(
                    counts.c.budget,
                    counts.c.value,
                    counts.c.kind,
                    counts.c.bucket,
                    counts.c.count,
                    counts.c.window,
                ).where(counts.c.expires_at >= now)
            ).all()
            subject_rows = conn.execute(
                select(
                    subjects.c.budget,
                    subjects.c.value,
                    subjects.c.subject,
                    subjects.c.at,
                    subjects.c.window,
                ).where(subjects.c.expires_at >= now)
            ).all()
        self.backend.restore(
            (((b, v, k, i), c, w) for b, v, k, i, c, w in count_rows),
            (((b, v, s), at, w) for b, v, s, at, w in subject_rows),
            now,
        )
