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
    export_id = _approved(env, ["address.departement", "weapon.category"])
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
    export_id = _approved(env, fields)
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


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("deltas", [False, True], ids=["changed", "changed_by"])
def test_releases_with_random_changes_give_back_no_small_cell(seed: int, deltas: bool) -> None:
    """Six releases of one table under its ledger, a few cells changing between each: the
    attacker holds every file and knows which cells changed (and, `changed_by`, by how
    much). An exact solve over all of them fixes no cell that was small in the release it
    belongs to, except, to the attacker who knows the deltas, one a release published
    before it became small, zero included (what left cannot be taken back)."""
    from strongroom.exports.suppression import protect_table
    from tests.exports.test_exports_releases import solve

    rng = random.Random(seed)
    cells = {
        (f"{d:02d}", c): rng.choice([0, 1, 3, 8, 12, 15, 40, 90])
        for d in range(1, 8)
        for c in "ABC"
    }
    ledger, knowledge = None, None
    version: dict[tuple[str, str], int] = {}  # a cell's unknown changes with its count
    system: list[tuple[dict, int]] = []
    truth: dict[tuple[tuple[str, str], int], int] = {}
    shown: set[tuple[str, str]] = set()  # cells some release published (zero included)
    previous: dict[tuple[str, str], int] = {}
    hidden_before: set[tuple[str, str]] = set()
    for _release in range(6):
        table, done = protect_table(cells, 10, ("d", "c"), ledger, knowledge)
        ledger, knowledge = done.ledger, done.knowledge
        _, _, full = with_margins(cells)
        for cell, was in previous.items():
            n = full.get(cell, 0)
            if n != was:
                version[cell] += 1
                if deltas:
                    old, new = (cell, version[cell] - 1), (cell, version[cell])
                    system.append(({new: 1, old: -1}, n - was))
        for cell, n in full.items():
            version.setdefault(cell, 0)
            truth[(cell, version[cell])] = n
            if table[cell] is not None:  # published: the unknown is known
                system.append(({(cell, version[cell]): 1}, n))
                shown.add(cell)
        for cell in set(previous) - set(full):  # a row or column gone: zeros now
            truth[(cell, version[cell])] = 0
            system.append(({(cell, version[cell]): 1}, 0))
        rows, cols, _ = with_margins(cells)
        for line in _lines(rows, cols):
            row: dict = {}
            for i, cell in enumerate(line):
                var = (cell, version[cell])
                row[var] = row.get(var, 0) + (-1 if i == len(line) - 1 else 1)
            system.append((row, 0))
        hidden = {c for c, v in table.items() if v is None}
        assert hidden_before & set(full) <= hidden, "hidden once, hidden after"
        hidden_before |= hidden
        previous = dict(full)
        for _ in range(rng.randint(1, 3)):  # the registry changes
            cell = rng.choice(sorted(cells))
            cells[cell] = max(0, cells[cell] + rng.choice([-5, -2, -1, 1, 2, 10]))
    recovered = solve(system)
    for var, value in recovered.items():
        assert value == truth[var]
    small = {var for var in recovered if 0 < truth[var] < 10}
    if deltas:
        small = {var for var in small if var[0] not in shown}
    assert small == set(), small


def test_each_release_number_is_in_its_exports_journal_entry(sqlite_env: Env) -> None:
    """The journal says which release of its dataset each aggregate export was (the
    ledger's order an auditor reads exports against); a row export has none."""
    env = sqlite_env
    first = _approved(env, ["address.departement", "weapon.category"])
    b"".join(env.desk.download(env.requester, first)[1].chunks())
    second = _approved(env, ["address.departement"])
    env.desk.generate(env.requester, second)  # generated first, downloaded later
    b"".join(env.desk.download(env.requester, second)[1].chunks())
    rows = env.desk.request(
        env.requester,
        dataset="departement_permits_expiring",
        fields=["ref.permit_id", "permit.expires"],
        justification=JUSTIFICATION,
    ).body["id"]
    env.desk.approve(env.approver, rows)
    b"".join(env.desk.download(env.requester, rows)[1].chunks())

    def released(export_id: str) -> list[tuple[str, int | None]]:
        return [
            (e["detail"]["step"], e["detail"].get("release"))
            for e in env.entries()
            if e.get("detail", {}).get("export") == export_id and e["detail"].get("step")
        ]

    assert released(first) == [("download", 1)]
    assert released(second) == [("generate", 2), ("download", 2)]
    assert released(rows) == [("download", None)]
    assert env.store.release_of(first) == 1 and env.store.release_of(rows) is None


def _approved(env: Env, fields: list[str]) -> str:
    export_id = str(
        env.desk.request(
            env.requester,
            dataset="weapons_by_departement_category",
            fields=fields,
            justification=JUSTIFICATION,
        ).body["id"]
    )
    env.desk.approve(env.approver, export_id)
    return export_id
