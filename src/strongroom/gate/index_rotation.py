"""Rotating the blind-index key online: a new key version, every indexed row re-indexed under
it in batches while the servers keep answering, then the old version retired.

1. A new version is minted by the key provider (keys/vault.json or the HSM) and recorded
   as `indexing` in the registry database. Every process's vault reads the states within
   its cache's lifetime (`vault/index_ring.py`): from then on writes use the new version
   and searches compute both and look for either.
2. After that lifetime (so no process still writes under the old version behind the walk),
   the rows not under the new version are re-indexed a batch per transaction
   (`registry/reindex.py`), with progress; passes repeat until none is left.
3. The new version becomes the only active one, the old is retired in the database, then
   destroyed in the provider: the index values a copy of the database holds from before
   can no longer be computed by anyone.

Interrupted anywhere, the next run finds the `indexing` version and carries on from the
rows still under the old one. Journaled when it starts (or resumes) and when it ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from strongroom.errors import Conflict
from strongroom.registry import index_versions, reindex
from strongroom.registry.repository import Registry
from strongroom.vault import RotatingKeyProvider, Vault, VaultError

Progress = Callable[[int, int], None]
Record = Callable[[str, dict[str, Any]], None]
BATCH = 500


def rotating(vault: Vault) -> RotatingKeyProvider:
    if not isinstance(vault.provider, RotatingKeyProvider):
        raise VaultError(f"{type(vault.provider).__name__} cannot rotate keys")
    return vault.provider


def start(registry: Registry, vault: Vault, now: float) -> tuple[int, bool]:
    """The version to fill: the one an interrupted run left `indexing`, else a new one.
    Returns (version, resumed)."""
    provider = rotating(vault)
    with registry.session() as s, s.begin():
        running = index_versions.indexing(s)
        if running is not None:
            return running, True
        blocked = reindex.unindexable(s)
        if blocked:
            raise Conflict(
                f"{blocked} permits of living persons were written before permit numbers "
                "were sealed: their blind index cannot be recomputed under a new key",
                reason="unindexable",
            )
        known = max((v.version for v in index_versions.versions(s)), default=0)
        minted = [v for v in provider.blind_index_versions() if v > known]
        # A version minted by a run that stopped before recording it is used, not leaked.
        version = minted[0] if minted else provider.add_blind_index_version()
        index_versions.begin(s, version, now)
    return version, False


def fill(
    registry: Registry,
    vault: Vault,
    version: int,
    progress: Progress | None = None,
    batch: int = BATCH,
) -> int:
    """Re-index every row not under `version`; returns how many were."""
    ix = vault.index_writer()
    if ix.version != version:
        raise Conflict(
            f"blind-index key version {ix.version} writes, not {version}", reason="conflict"
        )
    with registry.session() as s:
        total = reindex.pending(s, version)
    done = 0
    while True:
        before = done
        for table in reindex.INDEXED:
            after = 0
            while True:
                with registry.session() as s, s.begin():
                    n, last = reindex.reindex_batch(s, vault, ix, table, after, batch)
                if last is None:
                    break
                done, after = done + n, last
                if progress is not None:
                    progress(done, max(total, done))
        if done == before:
            return done


def finish(registry: Registry, vault: Vault, version: int, now: float) -> list[int]:
    """Make `version` the only active one and destroy the versions it replaces."""
    with registry.session() as s, s.begin():
        left = reindex.pending(s, version)
        if left:
            raise Conflict(
                f"{left} rows are still under an older blind-index key: run the rotation again",
                reason="reindex_incomplete",
            )
        retired = index_versions.complete(s, version, now)
    provider = rotating(vault)
    # Every older key, including one a run stopped before destroying.
    for old in provider.blind_index_versions():
        if old < version:
            provider.retire_blind_index_version(old)
    vault.index_ring.refresh()
    return retired


def rotate(
    registry: Registry,
    vault: Vault,
    record: Record,
    *,
    why: str,
    now: Callable[[], float],
    progress: Progress | None = None,
    batch: int = BATCH,
    settle: float | None = None,
) -> dict[str, Any]:
    version, resumed = start(registry, vault, now())
    record(
        "blind_index_rotation_started",
        {"version": version, "resumed": resumed, "why": why},
    )
    vault.index_ring.refresh()
    # Every process's cached states expire within the ring's lifetime: after it, all of
    # them write under the new version, so the walk leaves nothing behind.
    time.sleep(2 * vault.index_ring.ttl if settle is None else settle)
    reindexed = fill(registry, vault, version, progress, batch)
    retired = finish(registry, vault, version, now())
    out = {"version": version, "reindexed": reindexed, "retired": retired, "resumed": resumed}
    record("blind_index_rotated", {**out, "why": why})
    return out


def status(registry: Registry) -> dict[str, Any]:
    """The versions, their states and how many rows each indexes, per table."""
    with registry.session() as s:
        versions = [
            {
                "version": v.version,
                "state": v.state,
                "started_at": v.started_at,
                "finished_at": v.finished_at,
            }
            for v in index_versions.versions(s)
        ]
        rows = {
            table: {str(v): n for v, n in sorted(counts.items())}
            for table, counts in reindex.usage(s).items()
        }
        running = index_versions.indexing(s)
        left = reindex.pending(s, running) if running is not None else 0
    total = sum(n for counts in rows.values() for n in counts.values())
    return {
        "versions": versions,
        "rows": rows,
        "indexing": running,
        "progress": {"done": total - left, "total": total},
    }
