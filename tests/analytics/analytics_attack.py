"""An attacker who reads published analytics tables and solves for what they hide.

Written apart from `strongroom.analytics` (its own sparse Gauss-Jordan over Fractions, its
own reading of the tables), so a mistake in the defence is not repeated here.

A table is read as cells: a count view lists every non-zero cell of each of its levels
(`total` in a column: summed over it), a suppressed one with n = None; a cell it does not
list is zero. A row view is read as its classes: the rows per combination of its columns;
a class it does not list may be zero or withheld, so it is an unknown (the attacker knows
each dimension's values from every table). Every cell of a level is the sum of the cells
of any finer level that marginalize to it; that is all the attacker writes down. Across
two releases the attacker is told which cells did not change (more than anyone outside
knows): an unchanged cell is one unknown in both.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

TOTAL = "total"

Level = frozenset[str]
Cell = tuple[Level, frozenset[tuple[str, str]]]  # (dims, ((dim, value), ...))


@dataclass
class Published:
    """What one release shows about one population."""

    known: dict[Cell, int] = field(default_factory=dict)
    unknown: set[Cell] = field(default_factory=set)
    complete: set[Level] = field(default_factory=set)  # levels listing every non-zero cell
    levels: set[Level] = field(default_factory=set)
    domain: dict[str, set[str]] = field(default_factory=dict)

    def add_counts(self, rows: Iterable[Mapping[str, Any]], dims: list[str]) -> None:
        seen_levels = {
            frozenset(s) for r in range(len(dims) + 1) for s in itertools.combinations(dims, r)
        }
        self.levels |= seen_levels
        self.complete |= seen_levels
        for row in rows:
            pairs = frozenset((d, row[d]) for d in dims if row[d] != TOTAL)
            cell: Cell = (frozenset(d for d, _ in pairs), pairs)
            for d, v in pairs:
                self.domain.setdefault(d, set()).add(v)
            if row["n"] is None:
                self.unknown.add(cell)
            else:
                self.known[cell] = int(row["n"])

    def add_rows(self, rows: Iterable[Mapping[str, Any]], dims: list[str]) -> None:
        level = frozenset(dims)
        self.levels.add(level)
        counts: dict[Cell, int] = {}
        for row in rows:
            pairs = frozenset((d, row[d]) for d in dims)
            for d, v in pairs:
                self.domain.setdefault(d, set()).add(v)
            counts[(level, pairs)] = counts.get((level, pairs), 0) + 1
        self.known.update(counts)
        self.row_levels = getattr(self, "row_levels", set()) | {level}

    def value(self, cell: Cell) -> int | None:
        """A cell's count when published, 0 when its level lists every non-zero cell and
        not this one, None when unknown."""
        if cell in self.known:
            return self.known[cell]
        if cell in self.unknown:
            return None
        return 0 if cell[0] in self.complete else None

    def cells_of(self, level: Level) -> list[Cell]:
        dims = sorted(level)
        out = []
        for values in itertools.product(*(sorted(self.domain.get(d, ())) for d in dims)):
            out.append((level, frozenset(zip(dims, values, strict=True))))
        return out


def equations(pub: Published) -> list[tuple[list[Cell], Cell]]:
    """(children, parent) for every pair of published levels S ⊂ T."""
    out = []
    for s in pub.levels:
        for t in pub.levels:
            if not s < t:
                continue
            children: dict[frozenset[tuple[str, str]], list[Cell]] = {}
            for cell in pub.cells_of(t):
                up = frozenset((d, v) for d, v in cell[1] if d in s)
                children.setdefault(up, []).append(cell)
            for parent in pub.cells_of(s):
                out.append((children.get(parent[1], []), parent))
    return out


def solve(rows: list[tuple[dict[Any, Fraction], Fraction]]) -> dict[Any, Fraction]:
    """Gauss-Jordan on sparse rows (coefficients, right-hand side): the unknowns fixed."""
    pivots: dict[Any, tuple[dict[Any, Fraction], Fraction]] = {}
    for coefs, rhs in rows:
        coefs = dict(coefs)
        for v in [v for v in coefs if v in pivots]:
            c = coefs.pop(v)
            prow, prhs = pivots[v]
            for u, pc in prow.items():
                if u != v:
                    coefs[u] = coefs.get(u, Fraction(0)) - c * pc
                    if coefs[u] == 0:
                        del coefs[u]
            rhs -= c * prhs
        if not coefs:
            continue
        p = min(coefs, key=repr)
        lead = coefs[p]
        coefs = {u: c / lead for u, c in coefs.items()}
        rhs /= lead
        for q, (qrow, qrhs) in list(pivots.items()):
            if p in qrow:
                c = qrow[p]
                new = {
                    u: qrow.get(u, Fraction(0)) - c * coefs.get(u, Fraction(0))
                    for u in set(qrow) | set(coefs)
                }
                pivots[q] = ({u: x for u, x in new.items() if x != 0}, qrhs - c * rhs)
        pivots[p] = (coefs, rhs)
    return {p: rhs for p, (row, rhs) in pivots.items() if len(row) == 1}


def system(
    pub: Published, tag: int, same: Any = None
) -> list[tuple[dict[Any, Fraction], Fraction]]:
    """The release's equations over unknowns named (cell, tag), or by `same(cell)` when
    the attacker knows the cell did not change since the other release."""
    rows = []
    for children, parent in equations(pub):
        coefs: dict[Any, Fraction] = {}
        rhs = Fraction(0)
        for cell, sign in [(parent, -1), *((c, 1) for c in children)]:
            v = pub.value(cell)
            if v is None:
                name = same(cell) if same is not None and same(cell) is not None else (cell, tag)
                coefs[name] = coefs.get(name, Fraction(0)) + sign
            else:
                rhs -= sign * v
        coefs = {u: c for u, c in coefs.items() if c}
        if coefs:
            rows.append((coefs, rhs))
    return rows


def recovered(pub: Published) -> dict[Cell, int]:
    """Hidden cells (suppressed, or classes missing from a row view) the release fixes."""
    fixed = solve(system(pub, 1))
    return {cell: int(v) for (cell, _tag), v in fixed.items() if v.denominator == 1}


def recovered_across(first: Published, second: Published, unchanged: set[Cell]) -> dict[Cell, int]:
    """Cells hidden in `first` that the two releases fix together, the attacker knowing
    which cells kept their count (`unchanged`)."""

    def same(cell: Cell) -> Any:
        return ("same", cell) if cell in unchanged else None

    rows = system(first, 1, same) + system(second, 2, same)
    # An unchanged cell published in one release is known in the other.
    for cell in unchanged:
        a, b = first.value(cell), second.value(cell)
        if a is None and b is not None:
            rows.append(({("same", cell): Fraction(1)}, Fraction(b)))
        if b is None and a is not None:
            rows.append(({("same", cell): Fraction(1)}, Fraction(a)))
    fixed = solve(rows)
    out: dict[Cell, int] = {}
    for name, v in fixed.items():
        if v.denominator != 1:
            continue
        cell = name[1] if name[0] == "same" else name[0]
        tag = 1 if name[0] == "same" else name[1]
        if tag == 1 and first.value(cell) is None:
            out[cell] = int(v)
    return out


def read_sqlite(path: str, views: Mapping[str, tuple[str, list[str]]]) -> Published:
    """The tables `views` names (name -> (kind, columns)) of one analytics.db."""
    pub = Published()
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        for name, (kind, dims) in views.items():
            rows = [dict(r) for r in db.execute(f'SELECT * FROM "{name}"')]
            if kind == "rows":
                pub.add_rows(rows, dims)
            else:
                pub.add_counts(rows, dims)
    return pub


def cell(**values: str) -> Cell:
    return (frozenset(values), frozenset(values.items()))
