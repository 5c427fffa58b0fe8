"""`AnalyticsDesk.build` over a seeded registry (SQLite; PostgreSQL in
test_analytics_grant.py): what a release holds and does not, its journal entries, and the
differencing attacks of test_analytics_suppress.py run on real releases: over a pair of
views, over a margin, and over two releases, each recovering small cells with its defence
switched off and none with the build as the command line runs it."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from analytics_attack import recovered, recovered_across
from analytics_testkit import (
    PERSONS,
    SEED,
    Small,
    copy_home,
    open_service,
    policy_text,
    read_release,
    truth,
)
from sqlalchemy import func, select, update

from strongroom.analytics import BuildMode
from strongroom.cli.seeding import seed_home
from strongroom.compose import Service
from strongroom.config import Home
from strongroom.initialize import initialize
from strongroom.registry.canaries import canary_mark
from strongroom.registry.models import CanaryMark, Person, Weapon


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = Home(tmp_path_factory.mktemp("analytics") / "home")
    initialize(home)
    home.policy_path.write_text(policy_text(), encoding="utf-8")
    seed_home(home, persons=PERSONS, seed=SEED)
    return home.path


@pytest.fixture
def svc(template: Path, tmp_path: Path) -> Iterator[Service]:
    service = open_service(copy_home(template, tmp_path / "home"))
    try:
        yield service
    finally:
        service.close()


def _tables(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as db:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: db.execute(f'SELECT * FROM "{n}"').fetchall() for n in names}


def test_a_release_holds_counts_and_pseudonyms_only(svc: Service) -> None:
    report = svc.analytics.build(svc.admin.operator())
    assert report.release == 1 and report.target == str(svc.home.analytics_path)
    tables = _tables(svc.home.analytics_path)
    assert set(tables) == {
        "owners_by_region_age",
        "owner_rows",
        "owner_rows_coarse",
        "weapons_by_category",
        "release_info",
    }
    with svc.engine.connect() as conn:
        public_ids = set(conn.execute(select(Person.public_id)).scalars())
    text = repr(tables)
    assert not any(pid in text for pid in public_ids)
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text.replace(tables["release_info"][0][1], ""))
    rows = tables["owner_rows"]
    assert all(re.fullmatch(r"[0-9a-f]{24}", r[0]) for r in rows)
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)  # not in registry order
    # Nothing under k: every class of a row view has k rows or more, every count shown is
    # k or more (or zero, never listed).
    classes: dict[tuple, int] = {}
    for r in rows:
        classes[r[1:]] = classes.get(r[1:], 0) + 1
    assert min(classes.values()) >= 10
    counts = [r[-2] for r in tables["owners_by_region_age"] if r[-2] is not None]
    assert min(counts) >= 10
    assert all((r[-2] is None) == bool(r[-1]) for r in tables["owners_by_region_age"])


def test_honey_records_are_not_counted(svc: Service) -> None:
    report = svc.analytics.build(svc.admin.operator())
    with svc.engine.connect() as conn:
        persons = conn.execute(select(func.count()).select_from(Person)).scalar_one()
        canaries = conn.execute(select(func.count()).select_from(CanaryMark)).scalar_one()
    assert canaries > 0
    assert report.persons == persons - canaries
    with sqlite3.connect(svc.home.analytics_path) as db:
        (total,) = db.execute(
            "SELECT n FROM owners_by_region_age WHERE region = 'total' AND age_band = 'total'"
        ).fetchone()
    assert total == persons - canaries


def test_pseudonyms_join_neither_two_views_nor_two_releases(svc: Service) -> None:
    svc.analytics.build(svc.admin.operator())
    first = _tables(svc.home.analytics_path)
    svc.analytics.build(svc.admin.operator(), refresh=True)
    second = _tables(svc.home.analytics_path)
    fine = {r[0] for r in first["owner_rows"]}
    coarse = {r[0] for r in first["owner_rows_coarse"]}
    later = {r[0] for r in second["owner_rows"]}
    assert fine and coarse and later
    assert not fine & coarse
    assert not fine & later


def test_each_build_and_refresh_is_journaled(svc: Service) -> None:
    first = svc.analytics.build(svc.admin.operator())
    second = svc.analytics.build(svc.admin.operator(), refresh=True)
    journal = svc.journal
    entries = [journal.entry(i) for i in range(journal.size())]
    built = [e for e in entries if e.get("reason") in ("analytics_built", "analytics_refreshed")]
    assert [e["endpoint"] for e in built] == ["analytics build", "analytics refresh"]
    assert built[0]["principal"].startswith("operator:")
    assert built[0]["detail"]["release"] == 1 and built[1]["detail"]["release"] == 2
    assert set(built[0]["detail"]["views"]) == {
        "owners_by_region_age",
        "owner_rows",
        "owner_rows_coarse",
        "weapons_by_category",
    }
    assert built[0]["detail"]["suppressed"] == {v.name: v.suppressed for v in first.views}
    assert sum(built[1]["detail"]["suppressed"].values()) == second.suppressed > 0
    assert built[1]["detail"]["withheld_persons"]["owner_rows"] > 0


PAIR = ["owners_by_region_age", "owner_rows"]


def test_a_count_view_and_a_row_view_audited_apart_give_classes_back(svc: Service) -> None:
    svc.analytics.build(svc.admin.operator(), mode=BuildMode(linked=False))
    got = Small.of(recovered(read_release(svc, PAIR)), truth(svc, PAIR))
    # (region, age) published, the class with weapons shown: the one without follows.
    assert got.cells, "expected the pair of views to give a withheld class back"
    assert all("holds_weapons" in c[0] for c in got.cells)


def test_audited_together_the_pair_of_views_gives_nothing_back(svc: Service) -> None:
    svc.analytics.build(svc.admin.operator())
    assert Small.of(recovered(read_release(svc, PAIR)), truth(svc, PAIR)).cells == {}


def test_without_complements_the_margins_give_small_cells_back(svc: Service) -> None:
    view = ["owners_by_region_age"]
    svc.analytics.build(svc.admin.operator(), mode=BuildMode(complementary=False))
    assert Small.of(recovered(read_release(svc, view)), truth(svc, view)).cells
    svc.analytics.build(svc.admin.operator(), mode=BuildMode(ledger=False))
    assert Small.of(recovered(read_release(svc, view)), truth(svc, view)).cells == {}


def _real_holders(svc: Service, category: str, count: int) -> list[int]:
    """`count` persons (no honey record) holding a weapon of `category`."""
    key = svc.keys.honey_key()
    with svc.engine.connect() as conn:
        marks = set(conn.execute(select(CanaryMark.mark)).scalars())
        rows = conn.execute(
            select(Person.id, Person.public_id)
            .join(Weapon, Weapon.holder_id == Person.id)
            .where(Weapon.category == category)
            .distinct()
            .order_by(Person.id)
        ).all()
    return [pid for pid, public in rows if canary_mark(key, public) not in marks][:count]


def _set_category(svc: Service, holders: list[int], old: str, new: str) -> None:
    """One weapon of `old` category of each holder becomes `new`."""
    with svc.engine.begin() as conn:
        for pid in holders:
            wid = conn.execute(
                select(Weapon.id).where(Weapon.holder_id == pid, Weapon.category == old).limit(1)
            ).scalar_one()
            conn.execute(update(Weapon).where(Weapon.id == wid).values(category=new))


def _three_category_a_holders(svc: Service) -> None:
    """Exactly three persons hold a category A weapon: a cell under k, on purpose."""
    with svc.engine.begin() as conn:
        conn.execute(
            update(Weapon)
            .where(Weapon.category == "A", Weapon.holder_id.is_not(None))
            .values(category="C")
        )
    _set_category(svc, _real_holders(svc, "C", 3), "C", "A")


@pytest.mark.parametrize("ledger", [False, True], ids=["no-ledger", "ledger"])
def test_two_releases_give_a_suppressed_cell_back_only_without_the_ledger(
    svc: Service, ledger: bool
) -> None:
    view = ["weapons_by_category"]
    mode = BuildMode(ledger=ledger)
    _three_category_a_holders(svc)
    before = truth(svc, view)
    svc.analytics.build(svc.admin.operator(), mode=mode)
    first = read_release(svc, view)
    assert first.unknown  # the three, and a complement
    assert Small.of(recovered(first), before).cells == {}

    # Eight more holders get a category A weapon instead of a C: A reaches 11, C loses 8,
    # B and the total do not move.
    holding_a = _real_holders(svc, "A", 3)
    more = [p for p in _real_holders(svc, "C", 20) if p not in holding_a]
    _set_category(svc, more[:8], "C", "A")
    after = truth(svc, view)
    unchanged = {c for c in set(before) | set(after) if before.get(c, 0) == after.get(c, 0)}
    svc.analytics.build(svc.admin.operator(), refresh=True, mode=mode)
    second = read_release(svc, view)

    got = Small.of(recovered_across(first, second, unchanged), before).cells
    if ledger:
        assert got == {}
        assert first.unknown <= second.unknown  # hidden once, hidden for good
    else:
        assert set(got.values()) == {3}
        assert not second.unknown
