"""The same seed gives the same registry (names, dates, addresses, permits, weapons), on
both backends and with different keys; only the public IDs, which must stay unpredictable,
differ. Another seed gives another registry."""

from __future__ import annotations

from pathlib import Path

import pytest
from seed_testkit import people, seeded
from sqlalchemy import text

from strongroom.errors import BadRequest, Conflict
from strongroom.registry.seed import seed

PLAIN = (
    "departement",
    "family_name",
    "given_names",
    "birth_date",
    "birth_place",
    "street",
    "city",
    "postcode",
)


def _assets(s) -> list[tuple]:  # noqa: ANN001
    with s.engine.connect() as conn:
        permits = conn.execute(
            text(
                "SELECT p.id, kind, categories, issued, expires, status FROM permits p "
                "ORDER BY p.id"
            )
        ).all()
        weapons = conn.execute(
            text(
                "SELECT w.id, w.public_id, w.serial_ct, category, make, model, calibre, status "
                "FROM weapons w ORDER BY w.id"
            )
        ).all()
    serials = [s.vault.decrypt("asset", w[1], "serial", bytes(w[2])) for w in weapons]
    # str(): SQLite returns dates as ISO text, PostgreSQL as date objects.
    return (
        [tuple(map(str, p)) for p in permits]
        + [tuple(map(str, (*w[:1], *w[3:]))) for w in weapons]
        + serials
    )


def test_same_seed_same_registry(db_url: str, tmp_path: Path) -> None:
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    first = seeded(db_url, tmp_path / "keys1", persons=300, seed_value=5)
    second = seeded(other_url, tmp_path / "keys2", persons=300, seed_value=5)
    a, b = people(first), people(second)
    assert len(a) == len(b) == 300
    assert [[r[k] for k in PLAIN] for r in a] == [[r[k] for k in PLAIN] for r in b]
    assert _assets(first) == _assets(second)
    assert first.report.counts == second.report.counts
    # Public IDs are fresh randomness, not a function of the seed.
    assert not {r["public_id"] for r in a} & {r["public_id"] for r in b}
    same = (
        "departement",
        "permit_number",
        "family_name",
        "birth_date",
        "weapon_serial",
        "stock_serial",
    )
    assert first.report.fixtures and all(
        first.report.fixtures[k] == second.report.fixtures[k] for k in same
    )
    first.engine.dispose()
    second.engine.dispose()


def test_other_seed_other_registry(tmp_path: Path) -> None:
    a = seeded(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "ka", persons=100, seed_value=1)
    b = seeded(f"sqlite:///{tmp_path / 'b.db'}", tmp_path / "kb", persons=100, seed_value=2)
    names_a = [(r["family_name"], r["birth_date"]) for r in people(a)]
    names_b = [(r["family_name"], r["birth_date"]) for r in people(b)]
    assert sum(x == y for x, y in zip(names_a, names_b, strict=True)) < 5


def test_worker_processes_build_the_same_registry(tmp_path: Path) -> None:
    """Batches built in parallel by two worker processes, each with its own vault and data
    keys, give the registry that one process builds."""
    alone = seeded(
        f"sqlite:///{tmp_path / 'alone.db'}",
        tmp_path / "k1",
        persons=400,
        seed_value=8,
        batch_size=50,
    )
    crowd = seeded(
        f"sqlite:///{tmp_path / 'crowd.db'}",
        tmp_path / "k2",
        persons=400,
        seed_value=8,
        batch_size=50,
        workers=2,
    )
    assert crowd.report.workers == 2
    a, b = people(alone), people(crowd)
    assert [[r[k] for k in PLAIN] for r in a] == [[r[k] for k in PLAIN] for r in b]
    assert _assets(alone) == _assets(crowd)
    assert alone.report.counts == crowd.report.counts
    # Every data key a worker minted is in the database: everything decrypts above.
    with crowd.engine.connect() as conn:
        stores = {s for (s,) in conn.execute(text("SELECT store FROM data_keys"))}
    assert stores == {"identity", "address", "asset"}
    alone.engine.dispose()
    crowd.engine.dispose()


def test_a_second_seed_is_refused(tmp_path: Path) -> None:
    s = seeded(f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "keys", persons=50)
    with pytest.raises(Conflict):
        seed(s.engine, s.vault, persons=50, seed=2)
    with s.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM persons")).scalar() == 50
    with pytest.raises(BadRequest):
        seed(s.engine, s.vault, persons=0, seed=2)
    s.engine.dispose()
