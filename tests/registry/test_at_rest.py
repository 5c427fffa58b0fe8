"""A copied database yields no personal data: seed a registry, decrypt a sample of real
values through the vault, then search the raw bytes of the SQLite file and its write-ahead
log (copied while the engine is open, the log not checkpointed) and of a `pg_dump` of the
PostgreSQL database for each value, as typed and case-folded. None may be found. The demo
fixtures' plain values are not stored either, and canary marks are bare keyed MACs.

Values shorter than six bytes are not searched: in megabytes of ciphertext a short string
turns up by chance (a 4-letter name matches random bytes about once per 2**28 positions,
case-folded). The positive controls prove the search sees rows in the copies."""

from __future__ import annotations

import hashlib
import random
import shutil
import subprocess
from datetime import date
from pathlib import Path

from seed_testkit import TODAY, Seeded, people, seeded
from sqlalchemy import text

from strongroom.registry.canaries import canary_mark
from strongroom.registry.seed_plan import Planner
from strongroom.registry.seed_pools import build_pools

PERSONS = 1000
SEED = 11  # the testkit's default
SAMPLE = 200
MIN_LEN = 6


def _needles(s: Seeded) -> dict[str, set[str]]:
    everyone = people(s)
    picked = sorted(random.Random(3).sample(range(len(everyone)), SAMPLE))
    values: dict[str, set[str]] = {
        k: set()
        for k in (
            "family_name",
            "given_names",
            "birth_date",
            "street",
            "city",
            "permit_number",
            "serial",
            "fixtures",
        )
    }
    # Permit numbers are kept nowhere, not even encrypted: the seed's plan gives them back.
    planner = Planner(build_pools(SEED), SEED, PERSONS, TODAY)
    for i in picked:
        values["permit_number"].update(pm.number for pm in planner.person(i).permits)
    with s.engine.connect() as conn:
        for pid, blob in conn.execute(
            text("SELECT public_id, serial_ct FROM weapons ORDER BY id LIMIT 300")
        ):
            values["serial"].add(s.vault.decrypt("asset", pid, "serial", bytes(blob)))
    for p in (everyone[i] for i in picked):
        values["family_name"].add(p["family_name"])
        values["given_names"].add(p["given_names"])
        values["given_names"].update(p["given_names"].split())
        iso = p["birth_date"]
        values["birth_date"].add(iso)
        values["birth_date"].add(date.fromisoformat(iso).strftime("%d/%m/%Y"))
        values["street"].add(p["street"])
        values["street"].add(p["street"].split(" ", 1)[1])  # without the house number
        values["city"].add(p["city"])
    values["fixtures"] = {
        v for k, v in s.report.fixtures.items() if k not in ("owner_id", "dealer_id", "departement")
    }
    return values


def _found(blob: bytes, values: dict[str, set[str]]) -> list[str]:
    """Kinds of values found in `blob`, in any case: both sides are lowered (ASCII letters
    by bytes.lower(), accented ones through the value's own lower/upper/casefold forms)."""
    lowered = blob.lower()
    hits = []
    for kind, group in values.items():
        for value in group:
            variants = {
                v.encode("utf-8").lower()
                for v in (value, value.casefold(), value.lower(), value.upper())
            }
            if any(len(n) >= MIN_LEN and n in lowered for n in variants):
                hits.append(f"{kind}:{len(value)} chars")  # never the value itself
    return hits


def _searched(values: dict[str, set[str]]) -> int:
    return sum(len(v.encode()) >= MIN_LEN for g in values.values() for v in g)


def _dealer_names(s: Seeded) -> list[str]:
    with s.engine.connect() as conn:
        return [n for (n,) in conn.execute(text("SELECT DISTINCT name FROM dealers"))]


def test_sqlite_file_and_wal_hold_no_pii(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    # No automatic checkpoint: every written page stays in the WAL, as a live copy has it.
    s = seeded(url, tmp_path / "keys", persons=PERSONS, sqlite_pragmas=("wal_autocheckpoint=0",))
    values = _needles(s)
    assert _searched(values) > 1000 and len(values["permit_number"]) > 150
    with s.engine.connect():  # the engine is open while the files are copied
        shutil.copyfile(tmp_path / "registry.db", tmp_path / "copy.db")
        shutil.copyfile(tmp_path / "registry.db-wal", tmp_path / "copy.db-wal")
    main = (tmp_path / "copy.db").read_bytes()
    wal = (tmp_path / "copy.db-wal").read_bytes()
    assert len(wal) > 1_000_000, "the WAL should hold the seeded pages"
    # Positive control: clear business data is visible in the copied bytes.
    assert all(n.encode() in main + wal for n in _dealer_names(s))
    assert _found(main, values) == []
    assert _found(wal, values) == []
    s.engine.dispose()


def test_pg_dump_holds_no_pii(pg_url: str, tmp_path: Path) -> None:
    s = seeded(pg_url, tmp_path / "keys", persons=PERSONS)
    values = _needles(s)
    dsn = pg_url.replace("postgresql+psycopg://", "postgresql://")
    dump = subprocess.run(["pg_dump", "--no-owner", dsn], check=True, capture_output=True).stdout
    assert all(n.encode() in dump for n in _dealer_names(s))
    assert b"COPY public.identities" in dump
    assert _found(dump, values) == []
    s.engine.dispose()


def test_canary_marks_are_keyed_macs_only(tmp_path: Path) -> None:
    s = seeded(f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "keys", persons=400, canaries=40)
    with s.engine.connect() as conn:
        cols = [r[1] for r in conn.execute(text("PRAGMA table_info(canary_marks)"))]
        marks = {bytes(m) for (m,) in conn.execute(text("SELECT mark FROM canary_marks"))}
        ids = [p for (p,) in conn.execute(text("SELECT public_id FROM persons"))]
    assert cols == ["mark"] and len(marks) == 40
    assert all(len(m) == 32 for m in marks)
    unkeyed = set()
    for pid in ids:
        for algo in ("sha256", "sha1", "md5", "sha3_256", "blake2s"):
            unkeyed.add(hashlib.new(algo, pid.encode()).digest())
        unkeyed.add(pid.encode()[:32])
    assert not marks & unkeyed
    key = s.provider.honey_key()
    assert len(marks & {canary_mark(key, pid) for pid in ids}) == 40
    assert not marks & {canary_mark(bytes(32), pid) for pid in ids}
    s.engine.dispose()
