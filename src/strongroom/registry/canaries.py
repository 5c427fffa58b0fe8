"""Honey records: synthetic subjects that no legitimate task ever needs to read.

The database keeps only `HMAC-SHA256(honey_key, public_id)` (RFC 2104) in `canary_marks`:
without the honey key, a copy of the database cannot tell a canary from a real person, nor
even test a guess. With it, the service recognises a canary in one set lookup.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from strongroom.errors import Unavailable
from strongroom.registry.models import CanaryMark

RELOAD_SECONDS = 60.0


def canary_mark(honey_key: bytes, public_id: str) -> bytes:
    mac = hmac.HMAC(honey_key, hashes.SHA256())
    mac.update(public_id.encode("ascii"))
    return mac.finalize()


def honey_key_of(vault_or_key: Any) -> bytes:
    """The honey key from raw bytes, a key provider or a vault holding one."""
    if isinstance(vault_or_key, bytes | bytearray):
        return bytes(vault_or_key)
    for holder in (vault_or_key, getattr(vault_or_key, "provider", None)):
        if holder is not None and callable(getattr(holder, "honey_key", None)):
            return bytes(holder.honey_key())
    raise TypeError("expected a honey key, a key provider or a vault")


class CanarySet:
    """The marks, loaded once and kept in memory; reloaded at most every RELOAD_SECONDS
    (operational time, not the domain clock) so a reseed is seen without a restart."""

    def __init__(self, engine: Engine, honey_key: bytes) -> None:
        self.engine = engine
        self._key = honey_key
        self._marks: frozenset[bytes] | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def _load(self) -> frozenset[bytes]:
        try:
            with Session(self.engine) as s:
                return frozenset(bytes(m) for m in s.execute(select(CanaryMark.mark)).scalars())
        except SQLAlchemyError as exc:
            raise Unavailable("the registry database is unavailable") from exc

    def marks(self) -> frozenset[bytes]:
        now = time.monotonic()
        with self._lock:
            if self._marks is None or now - self._loaded_at > RELOAD_SECONDS:
                self._marks, self._loaded_at = self._load(), now
            return self._marks

    def refresh(self) -> None:
        with self._lock:
            self._marks = None

    def contains(self, public_id: str) -> bool:
        if not public_id.isascii():
            return False
        return canary_mark(self._key, public_id) in self.marks()

    def any_of(self, public_ids: Iterable[str]) -> list[str]:
        return [p for p in public_ids if self.contains(p)]


_SETS: dict[tuple[int, bytes], CanarySet] = {}
_SETS_LOCK = threading.Lock()


def is_canary(engine_or_session: Engine | Session, vault_or_key: Any, public_id: str) -> bool:
    """True if `public_id` names a honey record. One cached set per (engine, key)."""
    engine = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    key = honey_key_of(vault_or_key)
    cache_key = (id(engine), canary_mark(key, "cache"))
    with _SETS_LOCK:
        found = _SETS.get(cache_key)
        if found is None or found.engine is not engine:
            found = _SETS[cache_key] = CanarySet(engine, key)  # type: ignore[arg-type]
    return found.contains(public_id)
