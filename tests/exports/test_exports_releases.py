"""Aggregate exports across time (issue 21): the differencing attack between two exports of
one dataset with a registry change between them, over HTTP against a real deployment
(seeded home, Service, tokens; SQLite and PostgreSQL), the second export served by a
restarted Service so the suppression ledger has to come from the database.

The attacker holds both files and knows which cells the change touched (it made the
change: ten category-B weapons registered in one département), and even by how much. Its
unknowns are the suppressed cells, one per cell and export, except that a cell the change
did not touch is the same unknown in both files; the change adds "new count = old count +
delta" for each cell it touched. Exact elimination over the rationals then gives back
every unknown the two files fix. Without the ledger, the second export published a
complement the first had hidden (it had stopped being needed), and the first export's
small cell followed from its row total.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from strongroom.api.app import create_app
from strongroom.compose import compose
from strongroom.exports.suppression import TOTAL
from tests.deployment import Deployment, build_deployment
from tests.exports.conftest import Env, add_holders

DATASET = "weapons_by_departement_category"
AXES = ["address.departement", "weapon.category"]
CASE = "CASE-2026-0021"
WHY = "National counts for the annual firearms report"
K = 10
VICTIM_DEP = "990"  # a département code the seeded registry does not use

Cell = tuple[str, str]
Table = dict[Cell, int | None]
Var = tuple[Cell, int]  # (cell, export 1 or 2)


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[list[Deployment]]:
    """The deployment, then each restart of it (the last one is closed at the end)."""
    running = [build_deployment(tmp_path / "home", persons=300, registry_url=db_url)]
    yield running
    running[-1].client.close()
    running[-1].service.close()


def restart(running: list[Deployment]) -> Deployment:
    """The same home served by a new Service: nothing survives but the databases."""
    d = running[-1]
    d.client.close()
    d.service.close()
    service = compose(d.home, clock=d.clock)
    client = TestClient(create_app(service), raise_server_exceptions=False)
    running.append(Deployment(d.home, service, client, d.fixtures, d.principals, d.clock))
    return running[-1]


def export(d: Deployment, fields: list[str]) -> Table:
    """Request, approve (a second person) and download one aggregate export over HTTP."""
    headers = d.headers("prefecture", case=CASE, justification=WHY)
    r = d.client.post(
        "/v1/exports",
        headers=headers,
        json={"dataset": DATASET, "fields": fields, "justification": WHY, "format": "csv"},
    )
    assert r.status_code == 201, r.text
    export_id = r.json()["id"]
    r = d.client.post(
        f"/v1/exports/{export_id}/approve", headers=d.headers("admin"), json={"note": "ok"}
    )
    assert r.status_code == 200, r.text
    r = d.client.get(f"/v1/exports/{export_id}/download", headers=headers)
    assert r.status_code == 200, r.text
    out: Table = {}
    for row in csv.DictReader(io.StringIO(r.text)):
        key = (row[AXES[0]], row[AXES[1]] if len(fields) == 2 else TOTAL)
        out[key] = int(row["count"]) if row["count"] else None
    return out


def true_table(d: Deployment) -> dict[Cell, int]:
    """The registry's counts with margins, read directly (the test's ground truth)."""
    from strongroom.exports.datasets import WeaponsByDepartementCategory
    from strongroom.exports.suppression import with_margins

    with d.service.engine.connect() as conn:
        cells = WeaponsByDepartementCategory().cells(conn)
    return with_margins(cells)[2]


def equations(table: Table, epoch: int, changed: set[Cell]) -> list[tuple[dict[Var, int], int]]:
    """A two-way table's row and column sums: coefficients over its suppressed cells, and
    the right-hand side from its published ones. A cell missing from the file is a zero."""
    rows = sorted({r for r, _ in table if r != TOTAL})
    cols = sorted({c for _, c in table if c != TOTAL})
    lines = [[(r, c) for c in cols] + [(r, TOTAL)] for r in [*rows, TOTAL]]
    lines += [[(r, c) for r in rows] + [(TOTAL, c)] for c in [*cols, TOTAL]]
    out = []
    for line in lines:
        coefs: dict[Var, int] = {}
        rhs = 0
        for i, cell in enumerate(line):
            sign = -1 if i == len(line) - 1 else 1
            value = table.get(cell, 0)
            if value is None:
                var = (cell, epoch if cell in changed else 1)
                coefs[var] = coefs.get(var, 0) + sign
            else:
                rhs -= sign * value
        coefs = {v: c for v, c in coefs.items() if c}
        if coefs:
            out.append((coefs, rhs))
    return out


def solve(system: list[tuple[dict[Var, int], int]]) -> dict[Var, Fraction]:
    """Every unknown the equations fix, with its value (Gauss-Jordan over Fractions)."""
    pivots: dict[Var, tuple[dict[Var, Fraction], Fraction]] = {}
    for raw, raw_rhs in system:
        row = {v: Fraction(c) for v, c in raw.items()}
        rhs = Fraction(raw_rhs)
        for p, (prow, prhs) in pivots.items():
            if p in row:
                f = row[p]
                for v, c in prow.items():
                    row[v] = row.get(v, Fraction(0)) - f * c
                rhs -= f * prhs
                row = {v: c for v, c in row.items() if c}
        if not row:
            continue
        p = next(iter(row))
        lead = row[p]
        row = {v: c / lead for v, c in row.items()}
        rhs /= lead
        for q, (qrow, qrhs) in list(pivots.items()):
            if p in qrow:
                f = qrow[p]
                new = {
                    v: qrow.get(v, Fraction(0)) - f * row.get(v, Fraction(0)) for v in {*qrow, *row}
                }
                pivots[q] = ({v: c for v, c in new.items() if c}, qrhs - f * rhs)
        pivots[p] = (row, rhs)
    return {p: rhs for p, (row, rhs) in pivots.items() if len(row) == 1}


def attack(t1: Table, t2: Table, changed: dict[Cell, int]) -> dict[Var, Fraction]:
    system = equations(t1, 1, set(changed)) + equations(t2, 2, set(changed))
    for cell, delta in changed.items():
        # The attacker made the change: it knows each touched cell moved by `delta`.
        coefs: dict[Var, int] = {}
        rhs = delta
        for epoch, table, sign in ((2, t2, 1), (1, t1, -1)):
            value = table.get(cell, 0)
            if value is None:
                coefs[(cell, epoch)] = sign
            else:
                rhs -= sign * value
        if coefs:
            system.append((coefs, rhs))
    return solve(system)


def ledger_tables_match_the_store(d: Deployment) -> None:
    """The home was migrated to head by `initialize`: what migration 0013 built is what
    the export store declares."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from strongroom.exports.store import metadata

    with d.service.engine.connect() as conn:
        context = MigrationContext.configure(conn)
        ours = set(metadata.tables)
        diff = [
            x
            for x in compare_metadata(context, metadata)
            if not (x[0] == "remove_table" and x[1].name not in ours)
            and not (x[0] == "remove_index" and x[1].table.name not in ours)
        ]
    assert diff == [], diff


def releases(d: Deployment) -> list[tuple[int, int]]:
    from sqlalchemy import select

    from strongroom.exports.store import suppression_releases as t

    with d.service.engine.connect() as conn:
        q = select(t.c.release, t.c.suppressed).where(t.c.dataset == DATASET)
        return [(int(r), int(n)) for r, n in conn.execute(q.order_by(t.c.release))]


def test_two_releases_with_a_registry_change_give_back_no_small_cell(
    served: list[Deployment],
) -> None:
    d = served[0]
    ledger_tables_match_the_store(d)
    # Export 1: a département with 3 category-B weapons and 12 of category C. Its B cell is
    # small; C is its row's complement (the row total, 15, is published).
    add_holders(d.service.engine, {(VICTIM_DEP, "B"): 3, (VICTIM_DEP, "C"): 12})
    truth1 = true_table(d)
    t1 = export(d, AXES)
    assert t1[(VICTIM_DEP, "B")] is None and t1[(VICTIM_DEP, "C")] is None
    assert t1[(VICTIM_DEP, TOTAL)] == 15

    # The registry changes: ten more category-B weapons in that département. The second
    # export comes from a restarted service: what the first hid is known from the database.
    add_holders(d.service.engine, {(VICTIM_DEP, "B"): 10})
    d = restart(served)
    truth2 = true_table(d)
    t2 = export(d, AXES)
    by_dep = export(d, AXES[:1])

    for table, truth in ((t1, truth1), (t2, truth2)):
        assert set(table) == set(truth), "every cell listed, margins included"
        assert all(v is None or v == truth[c] for c, v in table.items()), "published is true"
        assert all(table[c] is None for c, n in truth.items() if 0 < n < K), "small hidden"
    for cell, value in by_dep.items():
        assert value == t2[cell], "the one-way file is the two-way file's margin"

    changed = {(VICTIM_DEP, "B"): 10, (VICTIM_DEP, TOTAL): 10, (TOTAL, "B"): 10}
    changed[(TOTAL, TOTAL)] = 10
    recovered = attack(t1, t2, changed)
    small = {
        var: value
        for var, value in recovered.items()
        if 0 < (truth1 if var[1] == 1 else truth2)[var[0]] < K
    }
    assert small == {}, f"the two files give back small cells: {small}"
    # What the attacker solves is true (the elimination is no decoy): every recovered
    # unknown is the cell's real count.
    for (cell, epoch), value in recovered.items():
        assert value == (truth1 if epoch == 1 else truth2)[cell]

    # A cell hidden once stays hidden, even when nothing small is left beside it.
    assert t2[(VICTIM_DEP, "B")] is None and t2[(VICTIM_DEP, "C")] is None
    assert {c for c, v in t1.items() if v is None} <= {c for c, v in t2.items() if v is None}
    # Each export was one release of the dataset, numbered in the database, its
    # suppressed cells counted (the one-way file is a release of the whole table too).
    numbered = releases(d)
    assert [r for r, _ in numbered] == [1, 2, 3]
    assert numbered[1][1] == sum(v is None for v in t2.values())


def test_exports_generated_at_once_are_successive_releases(env: Env) -> None:
    """Four exports of the dataset generated at the same moment, each in its own thread
    and connection: each reserves its own release number (a second one reading the same
    number fails on it and tries again on the ledger the first left), none is lost."""
    from strongroom.exports.datasets import WeaponsByDepartementCategory
    from strongroom.exports.generate import released_table
    from strongroom.exports.store import suppression_releases as t

    dataset = WeaponsByDepartementCategory()
    add_holders(env.store.engine, {("990", "B"): 3, ("990", "C"): 12})
    start = threading.Barrier(4)
    tables: dict[str, dict[Cell, int | None]] = {}
    errors: list[BaseException] = []

    def one(export_id: str) -> None:
        start.wait()
        try:
            tables[export_id] = released_table(env.store.engine, dataset, export_id, 0.0)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(f"export-{i}",)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    from sqlalchemy import select

    with env.store.engine.connect() as conn:
        rows = conn.execute(
            select(t.c.release, t.c.export_id).where(t.c.dataset == dataset.name)
        ).all()
    assert sorted(r for r, _ in rows) == [1, 2, 3, 4]
    assert {e for _, e in rows} == set(tables)
    # Same registry, same ledger: every release shows the same table.
    first = tables["export-0"]
    assert all(table == first for table in tables.values())
    assert first[("990", "B")] is None and first[("990", "C")] is None
