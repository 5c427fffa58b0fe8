"""Containments in SQL (SQLite or PostgreSQL), so every worker behind the load balancer
enforces the same decisions, and a lift the CLI writes into the home reaches the server.
The tables have their own `metadata`: Alembic creates them with the registry's schema
(registry/schema.py), and so does first use, for a home `strongroom init` has not upgraded
yet."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Index,
    MetaData,
    String,
    Table,
    Text,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from strongroom.detect.containment import Containment, LiftRequest
from strongroom.errors import Conflict, NotFound, Unavailable

metadata = MetaData()

containments = Table(
    "detect_containments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("action", String(32), nullable=False),
    Column("principal", String(64), nullable=False),
    Column("session", String(128)),
    Column("ip_prefix", String(64)),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float),
    Column("risk", Float, nullable=False, default=0.0),
    Column("families", Text, nullable=False, default="[]"),
    Column("factor", Float, nullable=False, default=1.0),
    Column("lifted_at", Float),
    Column("lifted_by", String(64)),
    Column("lifted_why", Text),
    Index("ix_detect_containments_open", "lifted_at", "expires_at"),
)

# One row per four-eyes containment a first administrator asked to lift; its primary key
# makes a second request for the same containment a conflict, whichever worker takes it.
lift_requests = Table(
    "detect_lift_requests",
    metadata,
    Column("containment", String(36), primary_key=True),
    Column("requested_by", String(64), nullable=False),
    Column("requested_at", Float, nullable=False),
    Column("why", Text, nullable=False),
)

_COLUMNS = (
    "id",
    "action",
    "principal",
    "session",
    "ip_prefix",
    "created_at",
    "expires_at",
    "risk",
    "factor",
    "lifted_at",
    "lifted_by",
    "lifted_why",
)


def _row(c: Containment) -> dict[str, Any]:
    row = {k: getattr(c, k) for k in _COLUMNS}
    row["families"] = json.dumps(list(c.families))
    return row


def _containment(row: Any) -> Containment:
    m = row._mapping
    return Containment(
        families=tuple(json.loads(m["families"] or "[]")), **{k: m[k] for k in _COLUMNS}
    )


class SqlContainmentStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        try:
            metadata.create_all(engine, checkfirst=True)
        except SQLAlchemyError as exc:
            raise Unavailable("cannot create the containment table") from exc

    def add(self, containment: Containment) -> None:
        self._run(lambda conn: conn.execute(insert(containments).values(**_row(containment))))

    def active(self, now: float) -> list[Containment]:
        q = select(containments).where(
            containments.c.lifted_at.is_(None),
            or_(containments.c.expires_at.is_(None), containments.c.expires_at > now),
        )
        return [_containment(r) for r in self._run(lambda conn: conn.execute(q).all())]

    def list(self, *, include_lifted: bool = True, limit: int = 1000) -> list[Containment]:
        q = select(containments).order_by(containments.c.created_at.desc()).limit(limit)
        if not include_lifted:
            q = q.where(containments.c.lifted_at.is_(None))
        return [_containment(r) for r in self._run(lambda conn: conn.execute(q).all())]

    def get(self, containment_id: str) -> Containment | None:
        q = select(containments).where(containments.c.id == containment_id)
        row = self._run(lambda conn: conn.execute(q).first())
        return None if row is None else _containment(row)

    def lift(self, containment_id: str, *, by: str, why: str, now: float) -> Containment:
        # Conditional update: of two administrators lifting at once, exactly one wins.
        q = (
            update(containments)
            .where(containments.c.id == containment_id, containments.c.lifted_at.is_(None))
            .values(lifted_at=now, lifted_by=by, lifted_why=why)
        )
        changed = self._run(lambda conn: conn.execute(q).rowcount)
        found = self.get(containment_id)
        if found is None:
            raise NotFound("no such containment")
        if not changed:
            raise Conflict("this containment was already lifted")
        return found

    def request_lift(self, request: LiftRequest) -> LiftRequest:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(lift_requests).values(**request.to_dict()))
        except IntegrityError:
            pending = self.lift_requests().get(request.containment)
            by = pending.requested_by if pending else "another administrator"
            raise Conflict(
                f"a lift was already requested by {by}: a second administrator approves it",
                reason="lift_pending",
            ) from None
        except SQLAlchemyError as exc:
            raise Unavailable("the containment store is unavailable") from exc
        return request

    def lift_requests(self) -> dict[str, LiftRequest]:
        rows = self._run(lambda conn: conn.execute(select(lift_requests)).all())
        return {r.containment: LiftRequest(**r._mapping) for r in rows}

    def _run(self, fn: Any) -> Any:
        try:
            with self.engine.begin() as conn:
                return fn(conn)
        except SQLAlchemyError as exc:
            raise Unavailable("the containment store is unavailable") from exc
