"""Small-cell suppression for two-way count tables with published margins, by the
analytics machinery (analytics/suppress.py, analytics/solve.py): the table is the levels
(row, column), (row,), (column,) and () of one universe, all published.

Primary suppression hides every cell (margins included) with 0 < count < k (k = 10 by
default: the threshold most statistical offices use for registers of persons).
Complementary suppression then hides more cells until no small cell can be computed back:
first the classic rule (every row and column equation with a suppressed cell has at least
two), then an exact audit: elimination over the rationals on the published equations
(interior cells sum to row totals, to column totals, totals to the grand total); a small
cell the equations determine gets a further complement.

Across releases (`protect_table` with a ledger and a knowledge): a cell hidden once stays
hidden, and the audit holds every earlier release's equations too, so no small cell of
any release follows from all of them together (analytics/suppress.py says under which
attacker model, and what is not guaranteed).

What this does not guarantee: interval disclosure (the equations may bound a suppressed
cell within a narrow range without fixing it). Zeros are published: a zero names nobody.
"""

from __future__ import annotations

from collections.abc import Mapping

from strongroom.analytics.solve import determined as solve_determined
from strongroom.analytics.suppress import Cell as AnalyticsCell
from strongroom.analytics.suppress import Key, Knowledge, Level, PastCell, Protection, Stat, protect

DEFAULT_MIN_CELL = 10
TOTAL = "total"

Cell = tuple[str, str]


def _lines(rows: list[str], cols: list[str]) -> list[list[Cell]]:
    """Each published equation as the list of its cells; the last one is the margin."""
    lines = [[(r, c) for c in cols] + [(r, TOTAL)] for r in [*rows, TOTAL]]
    lines += [[(r, c) for r in rows] + [(TOTAL, c)] for c in [*cols, TOTAL]]
    return lines


def with_margins(cells: Mapping[Cell, int]) -> tuple[list[str], list[str], dict[Cell, int]]:
    rows = sorted({r for r, _ in cells})
    cols = sorted({c for _, c in cells})
    full: dict[Cell, int] = {(r, c): int(cells.get((r, c), 0)) for r in rows for c in cols}
    for r in rows:
        full[(r, TOTAL)] = sum(full[(r, c)] for c in cols)
    for c in cols:
        full[(TOTAL, c)] = sum(full[(r, c)] for r in rows)
    full[(TOTAL, TOTAL)] = sum(full[(r, TOTAL)] for r in rows)
    return rows, cols, full


def suppress(cells: Mapping[Cell, int], k: int = DEFAULT_MIN_CELL) -> dict[Cell, int | None]:
    """The table with margins, suppressed cells as None: one release, nothing before it."""
    return protect_table(cells, k)[0]


def protect_table(
    cells: Mapping[Cell, int],
    k: int = DEFAULT_MIN_CELL,
    axes: tuple[str, str] = ("row", "column"),
    ledger: Mapping[AnalyticsCell, PastCell] | None = None,
    knowledge: Knowledge | None = None,
) -> tuple[dict[Cell, int | None], Protection]:
    """The table with margins, suppressed cells as None, after every release the ledger and
    the knowledge remember (analytics.suppress.protect: the same primary and complementary
    suppression and exact audit, across releases); and what the next release reads."""
    if k < 2:
        raise ValueError("a minimum cell size below 2 suppresses nothing")
    a, b = axes
    levels: dict[Level, dict[Key, int]] = {(a, b): {}, (a,): {}, (b,): {}, (): {}}
    for (r, c), n in cells.items():
        if n:
            for level, key in (((a, b), (r, c)), ((a,), (r,)), ((b,), (c,)), ((), ())):
                levels[level][key] = levels[level].get(key, 0) + n
    # The threshold is on the count itself (weapons, not distinct holders): what the
    # dataset counts is what a reader sees.
    stats = {lv: {key: Stat(n, n) for key, n in by.items()} for lv, by in levels.items()}
    prot = protect(stats, set(levels), k, ledger, knowledge)

    def flat(cell: AnalyticsCell) -> Cell:
        level, key = cell
        named = dict(zip(level, key, strict=True))
        return (named.get(a, TOTAL), named.get(b, TOTAL))

    hidden = {flat(cell) for cell in prot.hidden}
    # A cell hidden by an earlier release may have fallen to zero: its row and column are
    # listed still (absent, it would read as a published zero).
    rows = {r for r, _ in cells} | {r for r, _ in hidden if r != TOTAL}
    cols = {c for _, c in cells} | {c for _, c in hidden if c != TOTAL}
    _, _, full = with_margins({(r, c): int(cells.get((r, c), 0)) for r in rows for c in cols})
    return {cell: (None if cell in hidden else n) for cell, n in full.items()}, prot


def determined(lines: list[list[Cell]], full: Mapping[Cell, int], hidden: set[Cell]) -> list[Cell]:
    """Suppressed cells the published equations fix exactly (`full` is not read: which
    cells are fixed depends on the equations' coefficients only)."""
    rows: list[dict[Cell, int]] = []
    for line in lines:
        row: dict[Cell, int] = {}
        for cell in line:
            if cell in hidden:
                row[cell] = row.get(cell, 0) + (-1 if cell == line[-1] else 1)
        rows.append({c: v for c, v in row.items() if v})
    return sorted(solve_determined(rows))
