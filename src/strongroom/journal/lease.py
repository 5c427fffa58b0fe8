"""Leases in the registry database: one worker or node of a deployment does a periodic job
(sending checkpoints to the witnesses) and the others skip it, on SQLite and PostgreSQL
alike, across the workers of one server and the nodes sharing one database.

A lease is a row: its holder and until when it holds. Taking or renewing it is one upsert
that succeeds only for the holder or once the lease has run out, so two workers never both
hold it; a holder that died is replaced when its lease runs out. The holder keeps what its
job has reached in the row (`state`), so the next holder takes over from there and the
others can report it.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from strongroom.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger("strongroom.journal.lease")

metadata = sa.MetaData()

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(64), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("state", sa.JSON, nullable=True),
)

_INSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


class Lease:
    """The lease `name` for this process (`holder`, random by default) for `ttl` seconds at
    a time. Database errors are logged and count as not holding: the job waits a round."""

    def __init__(
        self,
        engine: sa.Engine,
        name: str,
        *,
        ttl: float,
        clock: Clock = SYSTEM_CLOCK,
        holder: str | None = None,
    ) -> None:
        insert = _INSERTS.get(engine.dialect.name)
        if insert is None:
            raise ValueError(f"no leases on {engine.dialect.name} databases")
        self.engine = engine
        self.name = name
        self.ttl = ttl
        self.clock = clock
        self.holder = holder or uuid.uuid4().hex
        self._take = (
            insert(leases)
            .values(name=name, holder=sa.bindparam("me"), expires_at=sa.bindparam("until"))
            .on_conflict_do_update(
                index_elements=[leases.c.name],
                set_={"holder": sa.bindparam("me"), "expires_at": sa.bindparam("until")},
                where=sa.or_(
                    leases.c.holder == sa.bindparam("me"),
                    leases.c.expires_at <= sa.bindparam("now"),
                ),
            )
            .returning(leases.c.holder)
        )
        self._mine = sa.and_(leases.c.name == name, leases.c.holder == self.holder)

    def hold(self) -> bool:
        """Take or renew the lease; True if this process holds it now."""
        now = self.clock.now()
        params = {"me": self.holder, "until": now + self.ttl, "now": now}
        try:
            with self.engine.begin() as conn:
                return conn.execute(self._take, params).first() is not None
        except sa.exc.SQLAlchemyError as exc:
            log.warning("lease %s: the database did not answer (%s)", self.name, type(exc).__name__)
            return False

    def state(self) -> dict[str, Any]:
        """What the holder (this process or another) recorded; empty when none."""
        try:
            with self.engine.connect() as conn:
                found = conn.execute(
                    sa.select(leases.c.state).where(leases.c.name == self.name)
                ).scalar()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("lease %s: the database did not answer (%s)", self.name, type(exc).__name__)
            return {}
        return dict(found) if isinstance(found, dict) else {}

    def record(self, state: dict[str, Any]) -> None:
        """Keep `state` in the row, if this process still holds the lease."""
        self._update(state=state)

    def release(self) -> None:
        """Let another process take the lease at once (a stopping worker)."""
        self._update(expires_at=0.0)

    def _update(self, **values: Any) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(leases.update().where(self._mine).values(**values))
        except sa.exc.SQLAlchemyError as exc:
            log.warning("lease %s: the database did not answer (%s)", self.name, type(exc).__name__)
