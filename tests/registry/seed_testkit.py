"""Shared helpers for the seed and at-rest tests: a migrated database, a real vault with
file keys, a seeded registry, and the decrypted view of it (the real plain values)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text

from strongroom.registry.db import make_engine, upgrade
from strongroom.registry.keystore import SqlWrappedKeyStore
from strongroom.registry.seed import SeedReport, seed
from strongroom.registry.seed_parallel import file_vault_factory
from strongroom.vault import FileKeyProvider, Vault

TODAY = date(2026, 11, 29)


@dataclass
class Seeded:
    engine: Engine
    vault: Any
    provider: Any
    report: SeedReport


def seeded(
    url: str,
    keys_dir: Path,
    *,
    persons: int,
    seed_value: int = 11,
    canaries: int | None = None,
    batch_size: int = 5000,
    sqlite_pragmas: tuple[str, ...] = (),
    workers: int = 0,
) -> Seeded:
    upgrade(url)
    engine = make_engine(url)
    for pragma in sqlite_pragmas:
        event.listen(engine, "connect", lambda c, _r, p=pragma: c.execute(f"PRAGMA {p}"))
    provider = FileKeyProvider.create(keys_dir)
    vault = Vault(provider, SqlWrappedKeyStore(engine))
    factory = file_vault_factory(keys_dir, url) if workers else None
    report = seed(
        engine,
        vault,
        persons=persons,
        seed=seed_value,
        canaries=canaries,
        batch_size=batch_size,
        today=TODAY,
        workers=workers,
        vault_factory=factory,
    )
    return Seeded(engine, vault, provider, report)


def people(s: Seeded, limit: int | None = None) -> list[dict[str, Any]]:
    """Every person with identity and address decrypted, in insertion order."""
    sql = (
        "SELECT p.public_id, p.departement, i.family_name_ct, i.given_names_ct, "
        "i.birth_date_ct, i.birth_place_ct, a.street_ct, a.city_ct, a.postcode_ct "
        "FROM persons p JOIN identities i ON i.person_id = p.id "
        "JOIN addresses a ON a.person_id = p.id ORDER BY p.id"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    out = []
    with s.engine.connect() as conn:
        for row in conn.execute(text(sql)):
            pid = row[0]
            rec = {"public_id": pid, "departement": row[1]}
            for name, blob in zip(
                ("family_name", "given_names", "birth_date", "birth_place"), row[2:6], strict=True
            ):
                rec[name] = s.vault.decrypt("identity", pid, name, bytes(blob))
            for name, blob in zip(("street", "city", "postcode"), row[6:9], strict=True):
                rec[name] = s.vault.decrypt("address", pid, name, bytes(blob))
            out.append(rec)
    return out
