"""Small-cell suppression against an attacker who solves the published equations
(`analytics_attack.py`, written apart from the defence): each defence is switched off in
turn to show the attack it stops recovering a small cell, then on to show it recovering
none.

Tables here are built by hand; tests/analytics/test_analytics_build.py runs the same
attacks on releases built from a seeded registry."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

import pytest
from analytics_attack import Published, cell, recovered, recovered_across
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.analytics.suppress import (
    Cell,
    Level,
    Stat,
    close_levels,
    covers,
    equations,
    protect,
    subsets,
)

K = 10


Cells = dict[Level, dict[tuple[str, ...], Stat]]


def cube(units: Mapping[tuple[str, ...], int], dims: tuple[str, ...], levels: set[Level]) -> Cells:
    """Counts of every level from the finest cells (one person per unit)."""
    out: Cells = {}
    for lv in levels:
        at = [dims.index(d) for d in lv]
        by: dict[tuple[str, ...], int] = {}
        for key, n in units.items():
            up = tuple(key[i] for i in at)
            by[up] = by.get(up, 0) + n
        out[lv] = {key: Stat(n, n) for key, n in by.items() if n}
    return out


def published(
    cells: Cells,
    hidden: set[Cell],
    counts_levels: set[Level],
    row_levels: Iterable[Level] = (),
) -> Published:
    """What the attacker reads: count levels list every non-zero cell (hidden ones as
    None); row levels list only the classes shown."""
    pub = Published()
    for lv in counts_levels:
        pub.levels.add(frozenset(lv))
        pub.complete.add(frozenset(lv))
        for key, stat in cells[lv].items():
            c = (frozenset(lv), frozenset(zip(lv, key, strict=True)))
            for d, v in zip(lv, key, strict=True):
                pub.domain.setdefault(d, set()).add(v)
            if (lv, key) in hidden:
                pub.unknown.add(c)
            else:
                pub.known[c] = stat.n
        for lv2, key in hidden:  # hidden since, and fallen to zero: listed as suppressed
            if lv2 == lv and key not in cells[lv]:
                pub.unknown.add((frozenset(lv), frozenset(zip(lv, key, strict=True))))
                for d, v in zip(lv, key, strict=True):
                    pub.domain.setdefault(d, set()).add(v)
    for lv in row_levels:
        pub.levels.add(frozenset(lv))
        for key, stat in cells[lv].items():
            for d, v in zip(lv, key, strict=True):
                pub.domain.setdefault(d, set()).add(v)
            if (lv, key) not in hidden:
                pub.known[(frozenset(lv), frozenset(zip(lv, key, strict=True)))] = stat.n
    return pub


def small(found: Mapping[Any, int], truth: Mapping[Any, int]) -> dict[Any, int]:
    """Recovered cells that count 1 to k-1 persons, checked against the truth."""
    out = {}
    for c, v in found.items():
        assert truth.get(c, 0) == v, f"attacker solved {c} wrong: {v} != {truth.get(c, 0)}"
        if 0 < v < K:
            out[c] = v
    return out


def truth_of(cells: Cells) -> dict[Any, int]:
    return {
        (frozenset(lv), frozenset(zip(lv, key, strict=True))): st.n
        for lv, by in cells.items()
        for key, st in by.items()
    }


TABLE = {
    ("75", "A"): 3,
    ("75", "B"): 20,
    ("75", "C"): 40,
    ("13", "A"): 15,
    ("13", "B"): 30,
    ("13", "C"): 50,
    ("69", "A"): 12,
    ("69", "B"): 25,
    ("69", "C"): 60,
}
DC = ("d", "c")


def test_without_complements_a_margin_gives_the_small_cell_back() -> None:
    levels = set(subsets(DC))
    cells = cube(TABLE, DC, levels)
    primary_only = protect(cells, levels, K, complementary=False)
    assert primary_only.hidden == {(DC, ("75", "A"))}
    got = small(recovered(published(cells, primary_only.hidden, levels)), truth_of(cells))
    assert got == {cell(d="75", c="A"): 3}

    full = protect(cells, levels, K)
    assert len(full.hidden) == 4  # the cheapest cycle: two rows, two columns
    assert small(recovered(published(cells, full.hidden, levels)), truth_of(cells)) == {}


PERSONS = ("d", "a", "h")
# Owners by (département, age band, holds weapons). The count view shows (d, a) with its
# margins; the row view shows classes (d, a, h) of at least k persons.
OWNERS = {
    ("75", "30-39", "yes"): 15,
    ("75", "30-39", "no"): 3,  # a class of three: withheld from the row view
    ("75", "40-49", "yes"): 22,
    ("75", "40-49", "no"): 18,
    ("13", "30-39", "yes"): 30,
    ("13", "30-39", "no"): 25,
    ("13", "40-49", "yes"): 14,
    ("13", "40-49", "no"): 16,
}


def test_views_audited_apart_give_a_withheld_class_back_together() -> None:
    counts_levels = set(subsets(("d", "a")))
    rows_level = PERSONS
    levels = close_levels(counts_levels | {rows_level}, PERSONS)
    cells = cube(OWNERS, PERSONS, levels)
    truth = truth_of(cells)

    # View by view: the count view has nothing under k; the row view withholds one class.
    alone_counts = protect({lv: cells[lv] for lv in counts_levels}, counts_levels, K)
    alone_rows = protect({rows_level: cells[rows_level]}, {rows_level}, K)
    assert alone_counts.hidden == set()
    assert alone_rows.hidden == {(rows_level, ("75", "30-39", "no"))}
    pub = published(cells, alone_counts.hidden | alone_rows.hidden, counts_levels, {rows_level})
    # (75, 30-39) = 18 published, 15 rows with weapons shown: three without.
    assert small(recovered(pub), truth) == {cell(d="75", a="30-39", h="no"): 3}

    together = protect(cells, counts_levels | {rows_level}, K)
    pub = published(cells, together.hidden, counts_levels, {rows_level})
    assert small(recovered(pub), truth) == {}
    assert (rows_level, ("75", "30-39", "no")) in together.hidden


def test_two_releases_give_a_suppressed_cell_back_unless_suppressions_stick() -> None:
    levels = set(subsets(DC))
    first = cube(TABLE, DC, levels)
    # Eight people of the 75 get a category A weapon: the cell reaches 11, every other
    # interior cell keeps its count.
    grown = {**TABLE, ("75", "A"): 11}
    second = cube(grown, DC, levels)
    unchanged = {c for c, v in truth_of(first).items() if truth_of(second).get(c) == v}
    truth = truth_of(first)

    r1 = protect(first, levels, K)
    pub1 = published(first, r1.hidden, levels)
    assert small(recovered(pub1), truth) == {}

    forgetful = protect(second, levels, K)  # no ledger: release 2 knows nothing of 1
    assert forgetful.hidden == set()  # nothing is under k any more
    pub2 = published(second, forgetful.hidden, levels)
    got = small(recovered_across(pub1, pub2, unchanged), truth)
    assert got == {cell(d="75", c="A"): 3}

    r2 = protect(second, levels, K, r1.ledger, r1.knowledge)
    assert r1.hidden <= r2.hidden  # what was hidden stays hidden
    pub2 = published(second, r2.hidden, levels)
    assert small(recovered_across(pub1, pub2, unchanged), truth) == {}


def test_a_cell_of_many_units_but_few_persons_is_protected() -> None:
    levels = set(subsets(("c",)))
    cells = {
        ("c",): {("A",): Stat(n=24, persons=2), ("B",): Stat(40, 40), ("C",): Stat(50, 50)},
        (): {(): Stat(114, 92)},
    }
    result = protect(cells, levels, K)
    assert (("c",), ("A",)) in result.hidden  # 24 weapons, two holders
    assert result.primary == 1 and result.complements == 1


def test_a_zero_is_published_and_never_counts_as_protection() -> None:
    table = {("75", "A"): 3, ("75", "B"): 0, ("75", "C"): 40, ("13", "A"): 20, ("13", "C"): 30}
    levels = set(subsets(DC))
    cells = cube(table, DC, levels)
    result = protect(cells, levels, K)
    assert all(cells[lv].get(key, Stat(0, 0)).n > 0 for lv, key in result.hidden)
    assert small(recovered(published(cells, result.hidden, levels)), truth_of(cells)) == {}


def _rank(vectors: list[dict[Any, int]]) -> int:
    return len(determined_basis(vectors))


def determined_basis(vectors: list[dict[Any, int]]) -> list[dict[Any, Fraction]]:
    basis: dict[Any, dict[Any, Fraction]] = {}
    for vec in vectors:
        v = {k: Fraction(x) for k, x in vec.items() if x}
        for p in [p for p in v if p in basis]:
            c = v.pop(p)
            for u, x in basis[p].items():
                if u != p:
                    v[u] = v.get(u, 0) - c * x
                    if v[u] == 0:
                        del v[u]
        if v:
            p = next(iter(v))
            lead = v[p]
            v = {u: x / lead for u, x in v.items()}
            for q in basis:
                if p in basis[q]:
                    c = basis[q][p]
                    basis[q] = {
                        u: basis[q].get(u, 0) - c * v.get(u, 0) for u in set(basis[q]) | set(v)
                    }
                    basis[q] = {u: x for u, x in basis[q].items() if x}
            basis[p] = v
    return list(basis.values())


@pytest.mark.parametrize(
    "published_levels",
    [
        [("a", "b"), ("b", "c")],
        [("a", "b"), ("b", "c"), ("a", "c")],
        [("a", "b", "c"), ("a",), ("b", "c")],
        [("a", "b"), ("a", "c"), ("b",)],
    ],
)
def test_the_equations_are_every_relation_between_the_levels(
    published_levels: list[tuple[str, ...]],
) -> None:
    """However the counts of the finest table vary, the cells of the published levels
    (and their intersections) satisfy exactly the relations `equations` writes: as many
    independent ones as the cells' indicator vectors leave room for."""
    dims = ("a", "b", "c")
    levels = close_levels(published_levels, dims)
    finest = list(itertools.product("01", "012", "01"))
    units = {key: 1 for key in finest}  # every cell non-zero, so every equation appears
    cells = cube(units, dims, levels)
    indicator = []
    for lv in levels:
        for key in cells[lv]:
            indicator.append({f: 1 for f in finest if tuple(f[dims.index(d)] for d in lv) == key})
    n_cells = len(indicator)
    relations = n_cells - _rank(indicator)
    eqs = [
        {(lvl, key): (-1 if i == 0 else 1) for i, (lvl, key) in enumerate(eq)}
        for eq in equations({lv: {k: s.n for k, s in by.items()} for lv, by in cells.items()})
    ]
    assert _rank(eqs) == relations
    assert covers(levels)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    rows=st.integers(2, 5),
    cols=st.integers(2, 4),
    layers=st.integers(1, 2),
)
def test_no_small_cell_is_ever_recovered(seed: int, rows: int, cols: int, layers: int) -> None:
    """Random tables, a count view of (x, y) and a row view of (x, y, z): whatever the
    counts, the attacker recovers no cell under k."""
    rnd = random.Random(seed)
    dims = ("x", "y", "z")
    units = {
        (f"x{i}", f"y{j}", f"z{m}"): rnd.choice([0, 1, 2, 4, 7, 9, 12, 20, 35])
        for i in range(rows)
        for j in range(cols)
        for m in range(layers)
    }
    counts_levels = set(subsets(("x", "y")))
    levels = close_levels(counts_levels | {dims}, dims)
    cells = cube(units, dims, levels)
    result = protect(cells, counts_levels | {dims}, K)
    pub = published(cells, result.hidden, counts_levels, {dims})
    assert small(recovered(pub), truth_of(cells)) == {}


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), changes=st.lists(st.integers(1, 4), min_size=2, max_size=2))
def test_no_small_cell_is_recovered_across_releases(seed: int, changes: list[int]) -> None:
    """Three releases, each changing a few cells of the one before. Told which cells kept
    their count from one release to another (through the one between), the attacker
    recovers no cell under k of any release from any pair."""
    rnd = random.Random(seed)
    counts = [0, 1, 3, 6, 9, 11, 14, 25, 40]
    units = [{(f"x{i}", f"y{j}"): rnd.choice(counts) for i in range(4) for j in range(3)}]
    for n in changes:
        nxt = dict(units[-1])
        for key in rnd.sample(sorted(nxt), n):
            nxt[key] = rnd.choice(counts)
        units.append(nxt)
    levels = set(subsets(("x", "y")))
    tables = [cube(u, ("x", "y"), levels) for u in units]
    truths = [truth_of(t) for t in tables]
    releases, ledger, knowledge = [], None, None
    for table in tables:
        result = protect(table, levels, K, ledger, knowledge)
        ledger, knowledge = result.ledger, result.knowledge
        releases.append(published(table, result.hidden, levels))
    for a, b in itertools.permutations(range(3), 2):
        span = range(min(a, b), max(a, b) + 1)
        cells = set().union(*(truths[i] for i in span))
        unchanged = {c for c in cells if len({truths[i].get(c, 0) for i in span}) == 1}
        got = small(recovered_across(releases[a], releases[b], unchanged), truths[a])
        assert got == {}, (a, b)
