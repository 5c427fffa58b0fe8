"""The blind-index key versions' states in the registry database (`blind_index_keys`), read
by every process's vault (`vault/index_ring.py`) and changed by a rotation
(`gate/administration.py`, `registry/reindex.py`)."""

from __future__ import annotations

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from strongroom.errors import Unavailable
from strongroom.registry.models import BlindIndexKey
from strongroom.vault.index_ring import ACTIVE, INDEXING, RETIRED


class SqlIndexKeyStates:
    """`IndexKeyStates` on the registry database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def live(self) -> dict[int, str]:
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(BlindIndexKey.version, BlindIndexKey.state).where(
                        BlindIndexKey.state != RETIRED
                    )
                ).all()
        except SQLAlchemyError as exc:
            raise Unavailable(
                f"the blind-index key states are unavailable: {type(exc).__name__}"
            ) from exc
        return {int(v): str(state) for v, state in rows}


def versions(s: Session) -> list[BlindIndexKey]:
    return list(s.execute(select(BlindIndexKey).order_by(BlindIndexKey.version)).scalars())


def indexing(s: Session) -> int | None:
    """The version a rotation is filling, if one runs (or was interrupted)."""
    return s.execute(
        select(BlindIndexKey.version).where(BlindIndexKey.state == INDEXING)
    ).scalar_one_or_none()


def begin(s: Session, version: int, now: float) -> None:
    """Start filling `version`: from the next states read on, every process writes under it
    and searches under it and the active one."""
    s.add(BlindIndexKey(version=version, state=INDEXING, started_at=now))
    s.flush()


def complete(s: Session, version: int, now: float) -> list[int]:
    """`version` becomes the only active one; the versions it replaces are retired
    (returned: their keys are to be destroyed)."""
    old = [v.version for v in versions(s) if v.state == ACTIVE]
    s.execute(
        update(BlindIndexKey)
        .where(BlindIndexKey.state == ACTIVE)
        .values(state=RETIRED, finished_at=now)
    )
    s.execute(
        update(BlindIndexKey)
        .where(BlindIndexKey.version == version)
        .values(state=ACTIVE, finished_at=now)
    )
    return old
