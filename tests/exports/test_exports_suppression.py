"""Small-cell suppression: primary cells hidden, no hidden cell recoverable from the
published totals, and the aggregate export end to end."""

from __future__ import annotations

import csv
import io
import random

import pytest

from strongroom.exports.suppression import TOTAL, _lines, determined, suppress, with_margins
from tests.exports.conftest import JUSTIFICATION, Env, add_holders


def check_table(cells: dict[tuple[str, str], int], k: int = 10) -> dict:
    table = suppress(cells, k)
    rows, cols, full = with_margins(cells)
    hidden = {cell for cell, v in table.items() if v is None}
    for cell, n in full.items():
        if 0 < n < k:
            assert cell in hidden, cell  # every small cell, margins included
        if cell not in hidden:
            assert table[cell] == n  # what is published is true
    for line in _lines(rows, cols):
        assert sum(c in hidden for c in line) != 1, line  # no equation with one unknown
    assert determined(_lines(rows, cols), full, hidden) == []  # nor any combination
    return table


@pytest.mark.parametrize("seed", range(12))
def test_random_tables_leak_no_small_cell(seed: int) -> None:
    rng = random.Random(seed)
    cells = {
        (f"{d:02d}", c): rng.choice([0, 1, 2, 4, 7, 9, 10, 15, 60, 300])
        for d in range(1, rng.randint(3, 12))
        for c in "ABC"
    }
    check_table(cells, k=rng.choice([5, 10]))


def test_single_small_cell_gets_complements_in_its_row_and_column() -> None:
    cells = {
        ("01", "A"): 3,
        ("01", "B"): 50,
        ("01", "C"): 40,
        ("02", "A"): 30,
        ("02", "B"): 60,
        ("02", "C"): 70,
    }
    table = check_table(cells)
    assert table[("01", "A")] is None
    assert sum(table[("01", c)] is None for c in "ABC") >= 2
    assert sum(table[(r, "A")] is None for r in ("01", "02")) >= 2
    assert table[(TOTAL, TOTAL)] == 253


def test_no_small_cell_suppresses_nothing_and_zero_is_published() -> None:
    cells = {("01", "A"): 0, ("01", "B"): 50, ("02", "A"): 30, ("02", "B"): 60}
    table = check_table(cells)
    assert None not in table.values()


def test_aggregate_export_is_suppressed(sqlite_env: Env) -> None:
    env = sqlite_env  # 130 holders in 75 (65 per category), 10 in 13 (5 per category)
    export_id = env.desk.request(
        env.requester,
        dataset="weapons_by_departement_category",
        fields=["address.departement", "weapon.category"],
        justification=JUSTIFICATION,
    ).body["id"]
    env.desk.approve(env.approver, export_id)
    _, download = env.desk.download(env.requester, export_id)
    rows = list(csv.DictReader(io.StringIO(b"".join(download.chunks()).decode())))
    table = {(r["address.departement"], r["weapon.category"]): r["count"] for r in rows}
    assert table[("13", "B")] == "" and table[("13", "C")] == ""  # 5 each: hidden
    assert table[("13", TOTAL)] == "10"  # the row total is no small cell
    # Their columns need a second hidden cell, or 13's counts are column total - 75's.
    assert table[("75", "B")] == "" and table[("75", "C")] == ""
    assert table[("75", TOTAL)] == "130" and table[(TOTAL, "B")] == "70"
    assert table[(TOTAL, TOTAL)] == "140"
    assert not any(v and 0 < int(v) < 10 for v in table.values())
    assert env.store.get(export_id).canary_count == 0  # counts carry no canary


def _holders(env: Env, counts: dict[tuple[str, str], int]) -> None:
    add_holders(env.store.engine, counts)


def _published(env: Env, fields: list[str]) -> dict[tuple[str, str], int | None]:
    export_id = env.desk.request(
        env.requester,
        dataset="weapons_by_departement_category",
        fields=fields,
        justification=JUSTIFICATION,
    ).body["id"]
    env.desk.approve(env.approver, export_id)
    _, download = env.desk.download(env.requester, export_id)
    rows = list(csv.DictReader(io.StringIO(b"".join(download.chunks()).decode())))
    if len(fields) == 2:
        keys = [(r["address.departement"], r["weapon.category"]) for r in rows]
    else:  # a one-way table by département: its counts are the row totals
        keys = [(r["address.departement"], TOTAL) for r in rows]
    return {
        key: (int(r["count"]) if r["count"] else None) for key, r in zip(keys, rows, strict=True)
    }


def test_two_exports_together_give_back_no_suppressed_cell(sqlite_env: Env) -> None:
    """The differencing attack: the same requester takes the table by département and
    category, then the counts by département alone. Whatever one file hides, the other
    must not show, and together their equations must fix no small cell. (With each export
    suppressed on its own, the one-way file showed a département total the two-way file
    hid as a complement, and 13's 5 category-B weapons followed.)"""
    env = sqlite_env
    _holders(env, {("01", "C"): 9, ("02", "B"): 12})
    cells = {("75", "B"): 65, ("75", "C"): 65, ("13", "B"): 5, ("13", "C"): 5}
    cells |= {("01", "C"): 9, ("02", "B"): 12}
    rows, cols, full = with_margins(cells)
    two_way = _published(env, ["address.departement", "weapon.category"])
    one_way = _published(env, ["address.departement"])
    assert {k: v for k, v in two_way.items() if v is not None} == {
        k: full[k] for k, v in two_way.items() if v is not None
    }  # what is published is true
    for key, value in one_way.items():
        assert value is None or value == full[key], key
        assert (value is None) == (two_way[key] is None), key
    known = {k for k, v in {**two_way, **one_way}.items() if v is not None}
    hidden = set(full) - known
    assert {c for c in full if 0 < full[c] < 10} <= hidden
    assert determined(_lines(rows, cols), full, hidden) == []
