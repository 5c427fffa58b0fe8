"""A seeded registry looks like a real one: every person has an identity and an address,
0..3 permits of the three kinds, weapons mostly category C with A rare, a few suspended or
revoked permits and bans, one dealer at least per département, sales consistent with the
buyer's permits, and honey records spread over every département and first letter."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from seed_testkit import people, seeded
from sqlalchemy import text

from strongroom.ids import is_public_id
from strongroom.registry.canaries import CanarySet, canary_mark, is_canary
from strongroom.registry.seed_pools import build_pools

PERSONS = 3000


@pytest.fixture
def registry(db_url: str, tmp_path: Path):  # noqa: ANN201
    s = seeded(db_url, tmp_path / "keys", persons=PERSONS, batch_size=700)
    yield s
    s.engine.dispose()


def _scalar(s, sql: str):  # noqa: ANN001, ANN202
    with s.engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def _rows(s, sql: str) -> list[tuple]:  # noqa: ANN001
    with s.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_counts_and_shapes(registry) -> None:  # noqa: ANN001
    s, counts = registry, registry.report.counts
    assert counts["persons"] == counts["identities"] == counts["addresses"] == PERSONS
    assert (
        _scalar(
            s,
            "SELECT COUNT(*) FROM persons p WHERE NOT EXISTS (SELECT 1 FROM "
            "identities i WHERE i.person_id = p.id) OR NOT EXISTS (SELECT 1 FROM "
            "addresses a WHERE a.person_id = p.id)",
        )
        == 0
    )
    for table, n in counts.items():
        if table == "data_keys":  # the batches' person keys; generations are written apart
            assert n == 2 * PERSONS
            sql = "SELECT COUNT(*) FROM data_keys WHERE person_id IS NOT NULL"
            assert _scalar(s, sql) == n
            continue
        assert _scalar(s, f"SELECT COUNT(*) FROM {table}") == n, table
    per_person = Counter(
        n
        for (n,) in _rows(
            s,
            (
                "SELECT COUNT(pm.id) FROM persons p LEFT JOIN permits pm ON pm.person_id = p.id "
                "GROUP BY p.id"
            ),
        )
    )
    assert set(per_person) <= {0, 1, 2, 3}
    assert 0.05 < per_person[0] / PERSONS < 0.15
    assert 0.55 < per_person[1] / PERSONS < 0.75
    assert per_person[2] > per_person[3] > 0
    kinds = Counter(k for (k,) in _rows(s, "SELECT kind FROM permits"))
    assert kinds["hunting"] > kinds["sport"] > kinds["collector"] > 0
    status = Counter(k for (k,) in _rows(s, "SELECT status FROM permits"))
    assert status["valid"] > 0.9 * counts["permits"]
    assert status["suspended"] > 0 and status["revoked"] > 0
    cats = Counter(k for (k,) in _rows(s, "SELECT category FROM weapons"))
    assert cats["C"] > cats["B"] > cats["A"] > 0
    assert cats["A"] < 0.02 * counts["weapons"]
    assert 0 < counts["bans"] < 0.02 * PERSONS
    assert counts["sales"] > 0 and counts["transfers"] > counts["sales"]


def test_dealers_and_sales_are_consistent(registry) -> None:  # noqa: ANN001
    s = registry
    depts = set(build_pools(11).departements)
    assert len(depts) == 101 and {"2A", "2B", "971", "976"} <= depts
    assert {d for (d,) in _rows(s, "SELECT DISTINCT departement FROM dealers")} == depts
    assert {d for (d,) in _rows(s, "SELECT DISTINCT departement FROM persons")} <= depts
    bad = _rows(
        s,
        """
        SELECT s.id FROM sales s
        JOIN dealers d ON d.id = s.dealer_id JOIN persons p ON p.id = s.buyer_id
        JOIN permits pm ON pm.id = s.permit_id JOIN weapons w ON w.id = s.weapon_id
        WHERE d.departement <> p.departement OR pm.person_id <> s.buyer_id
           OR w.holder_id <> s.buyer_id
           OR pm.categories NOT LIKE '%' || w.category || '%'""",
    )
    assert bad == []
    stock = _rows(s, "SELECT status, holder_id FROM weapons WHERE dealer_id IS NOT NULL")
    assert stock and all(st == "for_sale" and h is None for st, h in stock)
    assert all(is_public_id(p) for (p,) in _rows(s, "SELECT public_id FROM dealers"))


def test_canaries_spread_over_letters_and_departements(registry) -> None:  # noqa: ANN001
    s = registry
    key = s.provider.honey_key()
    everyone = people(s)
    canaries = [p for p in everyone if is_canary(s.engine, key, p["public_id"])]
    assert len(canaries) == s.report.canaries == 128
    marks = {bytes(m) for (m,) in _rows(s, "SELECT mark FROM canary_marks")}
    assert marks == {canary_mark(key, p["public_id"]) for p in canaries}
    pools = build_pools(11)
    assert {p["family_name"][0] for p in canaries} == set(pools.by_letter)
    assert {p["departement"] for p in canaries} == set(pools.departements)
    assert {p["public_id"][0] for p in canaries} == set("0123456789abcdef")
    # The cached set and the function agree, and a wrong key finds nothing.
    cached = CanarySet(s.engine, key)
    assert sum(cached.contains(p["public_id"]) for p in everyone) == 128
    wrong = CanarySet(s.engine, bytes(32))
    assert not any(wrong.contains(p["public_id"]) for p in everyone)


def test_demo_fixtures_verify(registry) -> None:  # noqa: ANN001
    s = registry
    f = s.report.fixtures
    assert set(f) >= {
        "owner_id",
        "departement",
        "permit_number",
        "family_name",
        "birth_date",
        "weapon_serial",
        "dealer_id",
        "stock_serial",
    }
    assert f["family_name"] not in repr(s.report) and f["permit_number"] not in repr(s.report)
    v = s.vault
    with s.engine.connect() as conn:
        owner = conn.execute(
            text(
                "SELECT p.id, p.departement, i.name_dob_bidx FROM permits pm "
                "JOIN persons p ON p.id = pm.person_id JOIN identities i ON i.person_id = p.id "
                "WHERE pm.number_bidx = :b AND pm.status = 'valid'"
            ),
            {"b": v.blind_index("permit", f["permit_number"])},
        ).one()
        held = conn.execute(
            text("SELECT holder_id FROM weapons WHERE serial_bidx = :b"),
            {"b": v.blind_index("serial", f["weapon_serial"])},
        ).scalar()
        stock = conn.execute(
            text(
                "SELECT d.public_id, d.departement FROM weapons w JOIN dealers d ON "
                "d.id = w.dealer_id WHERE w.serial_bidx = :b AND w.status = 'for_sale'"
            ),
            {"b": v.blind_index("serial", f["stock_serial"])},
        ).one()
        owner_pid = conn.execute(
            text("SELECT public_id FROM persons WHERE id = :i"), {"i": owner[0]}
        ).scalar()
    assert owner_pid == f["owner_id"] and owner[1] == f["departement"]
    assert bytes(owner[2]) == v.blind_index("name_dob", f["family_name"], f["birth_date"])
    assert held == owner[0]
    assert tuple(stock) == (f["dealer_id"], f["departement"])
    assert not is_canary(s.engine, s.provider.honey_key(), f["owner_id"])
