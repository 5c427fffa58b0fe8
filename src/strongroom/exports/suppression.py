"""Small-cell suppression for two-way count tables with published margins.

Primary suppression hides every cell (margins included) with 0 < count < k (k = 10 by
default: the threshold most statistical offices use for registers of persons).
Complementary suppression then hides more cells until no suppressed cell can be computed
back: first the classic rule (every row and column equation with a suppressed cell has
at least two), then an exact audit: Gaussian elimination over the rationals on the
published equations (interior cells sum to row totals, to column totals, totals to the
grand total); any suppressed cell the equations determine gets a further complement.

What this does not guarantee: interval disclosure (the equations may bound a suppressed
cell within a narrow range without fixing it). Zeros are published: a zero names nobody.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

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
    """The table with margins, suppressed cells as None."""
    if k < 2:
        raise ValueError("a minimum cell size below 2 suppresses nothing")
    rows, cols, full = with_margins(cells)
    hidden = {cell for cell, n in full.items() if 0 < n < k}
    lines = _lines(rows, cols)
    while True:
        _complete_lines(lines, full, hidden)
        exposed = determined(lines, full, hidden)
        if not exposed:
            break
        for cell in exposed:
            line = next(ln for ln in lines if cell in ln)
            _add_complement(line, full, hidden, lines)
    return {cell: (None if cell in hidden else n) for cell, n in full.items()}


def _complete_lines(lines: list[list[Cell]], full: dict[Cell, int], hidden: set[Cell]) -> None:
    changed = True
    while changed:
        changed = False
        for line in lines:
            if sum(1 for cell in line if cell in hidden) == 1:
                changed |= _add_complement(line, full, hidden, lines)


def _add_complement(
    line: list[Cell], full: dict[Cell, int], hidden: set[Cell], lines: list[list[Cell]]
) -> bool:
    """Hide one more cell of `line`: the cheapest one, preferring interior cells, cells
    whose other equation already hides something (fewer cascades), and non-zero counts
    (a hidden zero protects less if the reader can guess it is structural)."""
    candidates = [cell for cell in line if cell not in hidden]
    if not candidates:
        return False

    def cost(cell: Cell) -> tuple[int, int, int, int]:
        crossing = [ln for ln in lines if cell in ln and ln is not line]
        helps = any(any(c in hidden for c in ln) for ln in crossing)
        margin = TOTAL in cell
        return (full[cell] == 0, margin, not helps, full[cell])

    hidden.add(min(candidates, key=cost))
    return True


def determined(lines: list[list[Cell]], full: Mapping[Cell, int], hidden: set[Cell]) -> list[Cell]:
    """Suppressed cells the published equations fix exactly (RREF over Fractions)."""
    unknowns = sorted(hidden)
    index = {cell: i for i, cell in enumerate(unknowns)}
    matrix: list[list[Fraction]] = []
    for line in lines:
        row = [Fraction(0)] * len(unknowns)
        margin = line[-1]
        for cell in line:
            if cell in index:
                row[index[cell]] += -1 if cell == margin else 1
        if any(row):
            matrix.append(row)
    pivot_rows = _rref(matrix, len(unknowns))
    return [unknowns[p] for p, row in pivot_rows if sum(1 for v in row if v) == 1]


def _rref(matrix: list[list[Fraction]], width: int) -> list[tuple[int, list[Fraction]]]:
    rows = [r[:] for r in matrix]
    pivots: list[tuple[int, int]] = []
    r = 0
    for col in range(width):
        found = next((i for i in range(r, len(rows)) if rows[i][col] != 0), None)
        if found is None:
            continue
        rows[r], rows[found] = rows[found], rows[r]
        lead = rows[r][col]
        rows[r] = [v / lead for v in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][col] != 0:
                factor = rows[i][col]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[r], strict=True)]
        pivots.append((col, r))
        r += 1
    return [(col, rows[i]) for col, i in pivots]
