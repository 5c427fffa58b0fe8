"""The journal's full verification run, its progress and its result, in the registry
database: the journal page of any worker shows the run another worker started, a restart
keeps the last result, and at most one run is under way across every worker.

One row (`name` = "journal"). Starting is a conditional UPDATE (or the first INSERT, the
primary key refusing a second): of two workers starting at once, exactly one wins. The
worker running it beats a heartbeat; a run whose heartbeat stopped (its worker died) counts
as failed, and a new one may start.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from strongroom.registry.errors import storage_errors

metadata = sa.MetaData()

verification_runs = sa.Table(
    "journal_verification_runs",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # running | done | failed
    sa.Column("started_by", sa.String(64), nullable=True),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("checked", sa.BigInteger, nullable=False),
    sa.Column("total", sa.BigInteger, nullable=False),
    sa.Column("heartbeat", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float, nullable=True),
    sa.Column("report", sa.JSON, nullable=True),
)

NAME = "journal"
# The running worker beats every HEARTBEAT seconds; STALE without one and it is gone.
HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 60.0


class VerificationRuns:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        with storage_errors():  # first use on a home `strongroom init` has not upgraded yet
            metadata.create_all(engine, checkfirst=True)

    def status(self, now: float) -> dict[str, Any]:
        t = verification_runs
        with self._begin() as conn:
            row = conn.execute(sa.select(t).where(t.c.name == NAME)).mappings().first()
        if row is None:
            return {"state": "never_run"}
        state: dict[str, Any] = {
            k: row[k] for k in ("state", "started_by", "started_at", "checked", "total")
        }
        if row["state"] == "running" and now - float(row["heartbeat"]) > STALE_SECONDS:
            state.update(state="failed", finished_at=row["heartbeat"])
        elif row["state"] != "running":
            state["finished_at"] = row["finished_at"]
        if row["report"] is not None:
            state["report"] = row["report"]
        return state

    def start(self, run_id: str, started_by: str | None, total: int, now: float) -> bool:
        """Whether this run may start: none running (or the running one's worker gone)."""
        t = verification_runs
        values = {
            "run_id": run_id,
            "state": "running",
            "started_by": started_by,
            "started_at": now,
            "checked": 0,
            "total": total,
            "heartbeat": now,
            "finished_at": None,
            "report": None,
        }
        with self._begin() as conn:
            taken = conn.execute(
                t.update()
                .where(
                    t.c.name == NAME,
                    sa.or_(t.c.state != "running", t.c.heartbeat < now - STALE_SECONDS),
                )
                .values(**values)
            )
        if taken.rowcount == 1:
            return True
        with storage_errors():
            try:
                with self.engine.begin() as conn:
                    conn.execute(t.insert().values(name=NAME, **values))
            except IntegrityError:
                return False  # the row exists: a run under way (so the UPDATE found)
        return True

    def progress(self, run_id: str, checked: int, total: int, now: float) -> None:
        self._update(run_id, checked=checked, total=total, heartbeat=now)

    def beat(self, run_id: str, now: float) -> None:
        self._update(run_id, heartbeat=now)

    def finish(self, run_id: str, now: float, report: dict[str, Any] | None) -> None:
        values: dict[str, Any] = {"state": "failed", "finished_at": now, "heartbeat": now}
        if report is not None:
            values.update(state="done", checked=report["size"], report=report)
        self._update(run_id, **values)

    def _update(self, run_id: str, **values: Any) -> None:
        t = verification_runs
        with self._begin() as conn:
            conn.execute(
                t.update()
                .where(t.c.name == NAME, t.c.run_id == run_id, t.c.state == "running")
                .values(**values)
            )

    @contextlib.contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        with storage_errors(), self.engine.begin() as conn:
            yield conn
