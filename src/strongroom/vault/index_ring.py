"""The blind-index key versions in use, and which one writes.

A rotation of the blind-index key (`strongroom keys rotate --blind-index`) re-indexes every
row under a new version while the servers keep answering. The versions' states are shared
by every process (the registry's `blind_index_keys` table, `IndexKeyStates`):

    active     searches compute it; writes use it when no rotation runs
    indexing   a rotation fills it: writes use it, searches compute it and the active one
    retired    its key destroyed, no row holds its values (not returned by `live`)

Each process keeps a snapshot for `ttl` seconds, so several workers agree within a few
seconds without a restart; a rotation waits that long after it starts before it walks the
rows, so no worker still writes under the old version behind it. Without a state source
(a vault in memory, a test) version 1 is the only one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from strongroom.vault.blind_index import BlindIndexer
from strongroom.vault.errors import UnknownKeyError

DEFAULT_TTL = 2.0
ACTIVE, INDEXING, RETIRED = "active", "indexing", "retired"


class IndexKeyStates(Protocol):
    def live(self) -> Mapping[int, str]:
        """Every version not retired, with its state (active or indexing)."""
        ...


class IndexKeySource(Protocol):
    def blind_index_key(self, version: int = 1) -> bytes: ...


@dataclass(frozen=True)
class _Snapshot:
    at: float
    writer: BlindIndexer
    readers: tuple[BlindIndexer, ...]
    states: Mapping[int, str]


class IndexKeyRing:
    def __init__(
        self,
        keys: IndexKeySource,
        states: IndexKeyStates | None = None,
        *,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keys, self.states, self.ttl, self._clock = keys, states, ttl, clock
        self._indexers: dict[int, BlindIndexer] = {}
        self._snapshot: _Snapshot | None = None
        self._lock = threading.Lock()

    def writer(self) -> BlindIndexer:
        """The version new and changed rows are indexed under."""
        return self._current().writer

    def readers(self) -> tuple[BlindIndexer, ...]:
        """Every version a search computes, the writer first."""
        return self._current().readers

    def live(self) -> Mapping[int, str]:
        return self._current().states

    def refresh(self) -> None:
        """Read the states now (after this process changed them)."""
        with self._lock:
            self._snapshot = self._read()

    def _current(self) -> _Snapshot:
        snap = self._snapshot
        if snap is not None and self._clock() - snap.at < self.ttl:
            return snap
        with self._lock:
            snap = self._snapshot
            if snap is None or self._clock() - snap.at >= self.ttl:
                snap = self._snapshot = self._read()
        return snap

    def _read(self) -> _Snapshot:
        states = dict(self.states.live()) if self.states is not None else {}
        if not states:
            states = {1: ACTIVE}
        order = sorted(states, reverse=True)
        readers = []
        for version in order:
            try:
                readers.append(self._indexer(version))
            except UnknownKeyError:
                # A version retired between the states read and the key's: nothing holds
                # its values any more. The writer's key must exist.
                if version == order[0]:
                    raise
        # Keys of versions no longer live leave this process's memory.
        for gone in set(self._indexers) - set(states):
            del self._indexers[gone]
        return _Snapshot(self._clock(), readers[0], tuple(readers), states)

    def _indexer(self, version: int) -> BlindIndexer:
        found = self._indexers.get(version)
        if found is None:
            found = self._indexers[version] = BlindIndexer(
                self.keys.blind_index_key(version), version
            )
        return found
