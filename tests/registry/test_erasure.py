"""Crypto-shredding (issue 25): `strongroom person erase` destroys a person's own data keys,
and what that means for a copy of the database taken before (the backup story): readable
with the live keys until the KEK version that wrapped the keys is retired, unreadable after.
Real homes: SQLite files, the file key provider, the CLI."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from strongroom.cli.main import app
from strongroom.compose import Service, compose
from strongroom.config import Home
from strongroom.registry.db import make_engine
from strongroom.registry.erasure import FIELDS, PERSON_STORES, on_own_keys, own_keys
from strongroom.registry.keystore import SqlWrappedKeyStore
from strongroom.registry.models import Address, DataKey, Identity, Person
from strongroom.vault import FileKeyProvider, Vault, VaultError

REASON = "GDPR Art. 17: retention period elapsed (file 2026-0042)"


def run(home: Path, *args: str):  # noqa: ANN201 - typer's Result
    return CliRunner().invoke(app, list(args), env={"STRONGROOM_HOME": str(home)})


def ok(home: Path, *args: str) -> str:
    result = run(home, *args)
    assert result.exit_code == 0, result.output
    return str(result.output)


@pytest.fixture
def home(tmp_path: Path, db_url: str) -> Path:
    """A seeded home whose registry is SQLite or PostgreSQL."""
    path = tmp_path / "home"
    ok(path, "init", "--database", db_url)
    ok(path, "seed", "--persons", "12")
    return path


@pytest.fixture
def sqlite_home(tmp_path: Path) -> Path:
    """A seeded home on SQLite files: its backup is a file copy (SQLite's backup API)."""
    path = tmp_path / "home"
    ok(path, "init")
    ok(path, "seed", "--persons", "12")
    return path


def url_of(svc: Service) -> str:
    return svc.engine.url.render_as_string(hide_password=False)


def persons(home: Path) -> list[tuple[int, str]]:
    svc = compose(Home(home))
    try:
        with svc.registry.session() as s:
            rows = s.execute(select(Person.id, Person.public_id).order_by(Person.id)).all()
    finally:
        svc.close()
    return [(int(pk), str(pid)) for pk, pid in rows]


def family_name(vault: Vault, engine_url: str, pid: str) -> str | None:
    """A person's family name, decrypted from the database at `engine_url` by `vault`."""
    engine = make_engine(engine_url)
    try:
        with engine.connect() as conn:
            blob = conn.execute(
                select(Identity.family_name_ct)
                .join(Person, Person.id == Identity.person_id)
                .where(Person.public_id == pid)
            ).scalar_one()
    finally:
        engine.dispose()
    return vault.decrypt("identity", pid, "family_name", blob)


def vault_over(home: Path, db: Path) -> Vault:
    """The live keys (the home's key files as they are now) over a database file: what an
    attacker holding a backup and, later, the server's keys could do."""
    engine = make_engine(f"sqlite:///{db}")
    return Vault(FileKeyProvider(Home(home).keys_dir), SqlWrappedKeyStore(engine))


def backup(home: Path, to: Path) -> Path:
    """An online backup of the registry database (SQLite's backup API, WAL included)."""
    src = sqlite3.connect(Home(home).path / "registry.db")
    dst = sqlite3.connect(to)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    return to


def test_seeded_persons_are_each_under_keys_of_their_own(home: Path) -> None:
    svc = compose(Home(home))
    try:
        with svc.registry.session() as s:
            pks = [pk for pk, _ in persons(home)]
            keys = [own_keys(s, pk) for pk in pks]
            assert all(set(k) == set(PERSON_STORES) for k in keys)
            ids = [i for k in keys for i in k.values()]
            assert len(set(ids)) == len(ids) == 2 * len(pks)
            assert all(on_own_keys(s, pk) for pk in pks)
            # Weapons' serials stay on the shared asset generations.
            shared = s.execute(
                select(DataKey.id).where(DataKey.store == "asset", DataKey.person_id.is_(None))
            ).all()
            assert shared
    finally:
        svc.close()


def test_erase_from_the_cli(home: Path) -> None:
    (victim_pk, victim), (_other_pk, other) = persons(home)[:2]
    names = {}
    svc = compose(Home(home))
    try:
        url = url_of(svc)
        for pid in (victim, other):
            names[pid] = family_name(svc.vault, url, pid)
    finally:
        svc.close()

    refused = run(home, "person", "erase", victim)
    assert refused.exit_code == 2 and "--reason" in refused.output
    bad = run(home, "person", "erase", "not-an-id", "--reason", REASON)
    assert bad.exit_code == 2 and "public ID" in bad.output
    missing = run(
        home, "person", "erase", "6f1c2a4e-0000-4000-8000-000000000000", "--reason", REASON
    )
    assert missing.exit_code == 2 and "no person" in missing.output

    out = json.loads(ok(home, "person", "erase", victim, "--reason", REASON))
    assert out["person"] == victim and out["data_keys_destroyed"] == 2
    again = run(home, "person", "erase", victim, "--reason", REASON)
    assert again.exit_code == 2 and "already erased" in again.output

    svc = compose(Home(home))
    try:
        with svc.registry.session() as s:
            tomb = s.execute(select(Person).where(Person.public_id == victim)).scalar_one()
            assert tomb.erased_at == out["erased_at"]
            assert own_keys(s, victim_pk) == {}
            assert s.get(Identity, victim_pk) is None and s.get(Address, victim_pk) is None
            assert svc.registry.person_by_public_id(s, victim) is None
            assert svc.registry.person_by_public_id(s, other) is not None
        # Another person still reads, in the same process's vault.
        assert family_name(svc.vault, url_of(svc), other) == names[other]
        entry = svc.journal.entry(svc.journal.size() - 1)
        assert entry["endpoint"] == "person erase" and entry["kind"] == "admin"
        assert entry["subjects"] == [victim] and entry["detail"]["why"] == REASON
        assert names[victim] not in json.dumps(entry)
    finally:
        svc.close()

    report = json.loads(ok(home, "investigate", "subject", victim))
    assert report["erased"]["when"] is not None and report["erased"]["why"] == REASON
    assert "OK" in ok(home, "journal", "verify", "--offline")


def _as_before_per_person_keys(svc: Service, pk: int, pid: str, *, keep_keys: bool = False) -> None:
    """Make one person look like a home written before per-person keys: fields under the
    stores' shared generations, no key of their own (or, `keep_keys`, keys that no longer
    encrypt everything: an interrupted move)."""
    # Encrypted first: a new generation's key is written in its own transaction, which
    # SQLite would make wait behind ours.
    values = {}
    with svc.registry.session() as s:
        for store, table in (("identity", Identity), ("address", Address)):
            cols = [getattr(table, f"{f}_ct") for f in FIELDS[store]]
            row = s.execute(select(*cols).where(table.person_id == pk)).one()
            plain = [
                svc.vault.decrypt(store, pid, f, b) for f, b in zip(FIELDS[store], row, strict=True)
            ]
            values[table] = {
                f"{f}_ct": svc.vault.encrypt(store, pid, f, v)
                for f, v in zip(FIELDS[store], plain, strict=True)
            }
    with svc.registry.session() as s, s.begin():
        for table, cts in values.items():
            s.execute(update(table).where(table.person_id == pk).values(**cts))
        if not keep_keys:
            s.execute(DataKey.__table__.delete().where(DataKey.person_id == pk))


def test_a_person_on_shared_keys_is_refused_until_isolated(home: Path) -> None:
    everyone = persons(home)
    pk, pid = everyone[3]
    svc = compose(Home(home))
    try:
        names = {p: family_name(svc.vault, url_of(svc), p) for _, p in everyone}
        _as_before_per_person_keys(svc, pk, pid)
        _as_before_per_person_keys(svc, *everyone[4])
        _as_before_per_person_keys(svc, *everyone[5], keep_keys=True)
        with svc.registry.session() as s:
            assert [on_own_keys(s, k) for k, _ in everyone[3:7]] == [False, False, False, True]
    finally:
        svc.close()
    refused = run(home, "person", "erase", pid, "--reason", REASON)
    assert refused.exit_code == 2
    assert "shared data keys" in refused.output and "keys isolate" in refused.output

    out = ok(home, "keys", "isolate", "--why", "before the first erasure")
    assert "3 of 12 persons moved to keys of their own" in out
    assert "0 of 12" in ok(home, "keys", "isolate")  # resumable: nothing left to do
    svc = compose(Home(home))
    try:
        with svc.registry.session() as s:
            assert all(on_own_keys(s, k) for k, _ in everyone)
            assert all(set(own_keys(s, k)) == set(PERSON_STORES) for k, _ in everyone)
        assert {p: family_name(svc.vault, url_of(svc), p) for _, p in everyone} == names
    finally:
        svc.close()
    ok(home, "person", "erase", pid, "--reason", REASON)


def test_erasure_reaches_a_backup_when_its_kek_version_is_retired(
    sqlite_home: Path, tmp_path: Path
) -> None:
    home = sqlite_home
    (_pk, victim), (_pk2, other) = persons(home)[:2]
    svc = compose(Home(home))
    try:
        live_url = url_of(svc)
        victim_name = family_name(svc.vault, live_url, victim)
        other_name = family_name(svc.vault, live_url, other)
    finally:
        svc.close()
    old = backup(home, tmp_path / "before-erasure.db")

    ok(home, "person", "erase", victim, "--reason", REASON)
    # The erasure alone does not reach the copy: its wrapped key is there, under KEK v1,
    # which the live keys still hold. (Without this the test below could not fail.)
    assert family_name(vault_over(home, old), f"sqlite:///{old}", victim) == victim_name

    # The schedule: rotate every backup-retention period, retiring all but the version
    # just replaced. One period on, v1 is still kept (backups of that period need it).
    for store in PERSON_STORES:
        ok(home, "keys", "rotate", "--store", store, "--retire", "--keep-previous")
    assert FileKeyProvider(Home(home).keys_dir).kek_versions("identity") == [1, 2]
    assert family_name(vault_over(home, old), f"sqlite:///{old}", victim) == victim_name
    recent = backup(home, tmp_path / "after-first-rotation.db")

    # A period later: v1 goes, and with it the old backup's keys.
    for store in PERSON_STORES:
        ok(home, "keys", "rotate", "--store", store, "--retire", "--keep-previous")
    assert FileKeyProvider(Home(home).keys_dir).kek_versions("identity") == [2, 3]
    with pytest.raises(VaultError):
        family_name(vault_over(home, old), f"sqlite:///{old}", victim)
    # The backup still in retention reads (its keys are under v2), the erased person is
    # not in it, and the live registry reads everyone else.
    assert family_name(vault_over(home, recent), f"sqlite:///{recent}", other) == other_name
    svc = compose(Home(home))
    try:
        assert family_name(svc.vault, live_url, other) == other_name
    finally:
        svc.close()
    assert "OK" in ok(home, "journal", "verify", "--offline")
    shutil.rmtree(tmp_path / "home", ignore_errors=True)


def test_the_live_sqlite_file_keeps_no_byte_of_the_erased_keys(sqlite_home: Path) -> None:
    """Deleted rows linger in SQLite's free pages unless zeroed (secure_delete): the
    erased person's wrapped keys and ciphertexts must not be found in the file."""
    pk, pid = persons(sqlite_home)[0]
    svc = compose(Home(sqlite_home))
    try:
        with svc.registry.session() as s:
            keys = [
                bytes(w)
                for w in s.execute(select(DataKey.wrapped).where(DataKey.person_id == pk)).scalars()
            ]
            cts = [
                bytes(b)
                for b in s.execute(
                    select(Identity.family_name_ct, Address.street_ct)
                    .join(Address, Address.person_id == Identity.person_id)
                    .where(Identity.person_id == pk)
                ).one()
            ]
    finally:
        svc.close()
    db = Home(sqlite_home).path / "registry.db"
    assert all(k in db.read_bytes() or k in _wal(db) for k in keys)  # the control
    ok(sqlite_home, "person", "erase", pid, "--reason", REASON)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stored = db.read_bytes() + _wal(db)
    assert [k for k in keys + cts if k in stored] == []


def _wal(db: Path) -> bytes:
    wal = db.with_name(db.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""
