"""Which unknowns a set of linear equations fixes exactly.

An attacker who reads every published table knows, for each equation "this cell is the sum
of those", the value of every published term; the suppressed terms are unknowns. An
unknown is disclosed when the equations determine it, i.e. when its unit vector lies in
the row space of the equations restricted to the unknowns. Whether it does depends on the
coefficients only, never on the published values, so no value enters here.

Exact arithmetic (integers, and Fractions once a pivot is not ±1; no floating point: a
rounding error would hide a disclosure). Tables' sum equations are mostly totally
unimodular, so in practice every pivot is ±1 and no Fraction is ever made. Sparse rows (an
equation names a handful of unknowns), and one elimination per connected component
(unknowns no equation links are independent problems).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from fractions import Fraction
from typing import TypeVar

V = TypeVar("V", bound=Hashable)
Number = int | Fraction


def components(equations: Iterable[Iterable[V]]) -> list[set[V]]:
    """The unknowns grouped by the equations that link them (union-find)."""
    parent: dict[V, V] = {}

    def find(x: V) -> V:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for eq in equations:
        first: V | None = None
        for v in eq:
            parent.setdefault(v, v)
            if first is None:
                first = v
            else:
                a, b = find(first), find(v)
                if a != b:
                    parent[b] = a
    groups: dict[V, set[V]] = {}
    for v in parent:
        groups.setdefault(find(v), set()).add(v)
    return list(groups.values())


def determined(equations: Iterable[Mapping[V, Number]], among: set[V] | None = None) -> set[V]:
    """The unknowns the equations fix (only those `among`, when given: components holding
    none of them are not solved). Each equation maps unknowns to their coefficients;
    published terms are left out (they only move the right-hand side)."""
    rows = [dict(eq) for eq in equations if eq]
    by_root: dict[int, list[dict[V, Number]]] = {}
    groups = components(rows)
    where = {v: i for i, g in enumerate(groups) for v in g}
    for r in rows:
        by_root.setdefault(where[next(iter(r))], []).append(r)
    out: set[V] = set()
    for i, members in by_root.items():
        if among is not None and not (groups[i] & among):
            continue
        found = _determined_in(members)
        out |= found if among is None else found & among
    return out


def project(rows: Iterable[Mapping[V, Number]], drop: set[V]) -> list[dict[V, Number]]:
    """The relations `rows` imply among the unknowns not in `drop`: each dropped unknown
    is eliminated (solved from one row, substituted in the others, that row discarded),
    and what remains is reduced to a basis."""
    work: dict[int, dict[V, Number]] = {i: dict(r) for i, r in enumerate(rows) if r}
    holders: dict[V, set[int]] = {}
    for i, row in work.items():
        for v in row:
            holders.setdefault(v, set()).add(i)
    for d in drop:
        ids = holders.get(d)
        if not ids:
            continue
        pivot_id = min(ids, key=lambda i: len(work[i]))
        pivot = work.pop(pivot_id)
        for v in pivot:
            holders[v].discard(pivot_id)
        lead = pivot[d]
        for i in list(holders.get(d, ())):
            row = work[i]
            a = row[d]
            exact = isinstance(a, int) and isinstance(lead, int) and a % lead == 0
            factor = a // lead if exact else Fraction(a) / lead
            for v, c in pivot.items():
                value = row.get(v, 0) - factor * c
                if value:
                    if v not in row:
                        holders.setdefault(v, set()).add(i)
                    row[v] = value
                elif v in row:
                    del row[v]
                    holders[v].discard(i)
            if not row:
                del work[i]
    return list(_rref(list(work.values())).values())


def _determined_in(rows: list[dict[V, Number]]) -> set[V]:
    return {p for p, row in _rref(rows).items() if len(row) == 1}


def _rref(rows: list[dict[V, Number]]) -> dict[V, dict[V, Number]]:
    # Reduced row echelon form, kept reduced as rows arrive: each pivot row has a zero in
    # every other pivot's column, so an unknown is fixed exactly when its pivot row
    # holds nothing else.
    pivots: dict[V, dict[V, Number]] = {}
    # column -> the pivots whose row holds it, so a new pivot clears only those rows
    holders: dict[V, set[V]] = {}
    for raw in rows:
        row: dict[V, Number] = {v: c for v, c in raw.items() if c}
        for v in [v for v in row if v in pivots]:
            coef = row.pop(v, None)
            if coef is None:
                continue
            for u, c in pivots[v].items():
                if u == v:
                    continue
                value = row.get(u, 0) - coef * c
                if value:
                    row[u] = value
                else:
                    row.pop(u, None)
        if not row:
            continue
        pivot = next(iter(row))
        lead = row[pivot]
        if lead == -1:
            row = {u: -c for u, c in row.items()}
        elif lead != 1:
            row = {u: Fraction(c) / lead for u, c in row.items()}
        for other in list(holders.get(pivot, ())):
            target = pivots[other]
            coef = target.pop(pivot)
            for u, c in row.items():
                if u == pivot:
                    continue
                value = target.get(u, 0) - coef * c
                if value:
                    if u not in target:
                        holders.setdefault(u, set()).add(other)
                    target[u] = value
                elif u in target:
                    del target[u]
                    holders[u].discard(other)
        holders.pop(pivot, None)
        pivots[pivot] = row
        for u in row:
            if u != pivot:
                holders.setdefault(u, set()).add(pivot)
    return pivots
