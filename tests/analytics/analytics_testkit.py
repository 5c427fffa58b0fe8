"""A seeded home whose policy declares a few analytics views, copied per test; the truth
behind a release (counted straight from the registry, nothing suppressed) for checking
what an attacker recovers."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analytics_attack import Published, read_sqlite

from strongroom.analytics.catalogue import column_name, dims_of
from strongroom.analytics.collect import collect, today_of
from strongroom.analytics.suppress import close_levels, subsets
from strongroom.clock import FakeClock
from strongroom.compose import Service, compose
from strongroom.config import Home
from strongroom.policy import default_policy_text

K = 10
PERSONS = 3000
SEED = 11

ANALYTICS = """
analytics:
  k: 10
  quasi_identifiers:
    departement: {generalize: region}
    age: {generalize: band, width: 10}
    date: {generalize: year}
  views:
    owners_by_region_age:
      description: Owners by region and age band.
      universe: persons
      dims: [departement, age]
    owner_rows:
      description: Owners, one row each.
      universe: persons
      kind: rows
      dims: [departement, age, holds_weapons]
    owner_rows_coarse:
      description: Owners, one row each, by region only.
      universe: persons
      kind: rows
      dims: [departement, holds_weapons]
    weapons_by_category:
      description: Weapons held, by EU category.
      universe: weapons
      dims: [category]
"""


def policy_text(analytics: str = ANALYTICS) -> str:
    text = default_policy_text()
    return text[: text.index("\nanalytics:")] + "\n" + analytics.lstrip("\n")


def copy_home(template: Path, dest: Path) -> Home:
    shutil.copytree(template, dest)
    return Home(dest)


def open_service(home: Home) -> Service:
    return compose(home, clock=FakeClock())


def views_of(svc: Service) -> dict[str, tuple[str, list[str]]]:
    """name -> (kind, columns) of the views, as the attacker reads them."""
    gen = svc.analytics.gen
    out = {}
    for name, view in svc.policy.policy.analytics.views.items():
        order = dims_of(view.universe)
        dims = sorted(view.dims, key=order.index)
        out[name] = (view.kind, [column_name(view.universe, d, gen) for d in dims])
    return out


def read_release(svc: Service, names: list[str]) -> Published:
    views = views_of(svc)
    return read_sqlite(str(svc.home.analytics_path), {n: views[n] for n in names})


def truth(svc: Service, names: list[str]) -> dict[Any, int]:
    """Every cell of the views `names` (one universe) as published when nothing is
    suppressed: counted straight from the registry."""
    spec = svc.policy.policy.analytics
    views = [spec.views[n] for n in names]
    universe = views[0].universe
    order = dims_of(universe)
    published: set[tuple[str, ...]] = set()
    for v in views:
        dims = tuple(sorted(v.dims, key=order.index))
        published |= set(subsets(dims)) if v.kind == "counts" else {dims}
    levels = close_levels(published, order)
    gen = svc.analytics.gen
    data = collect(
        svc.engine,
        svc.vault,
        svc.keys.honey_key(),
        gen,
        today_of(svc.clock.now()),
        {universe: levels},
        holds_weapons=True,
    )
    out: dict[Any, int] = {}
    for lv, by in data.cells[universe].items():
        cols = [column_name(universe, d, gen) for d in lv]
        for key, stat in by.items():
            out[(frozenset(cols), frozenset(zip(cols, key, strict=True)))] = stat.n
    return out


@dataclass
class Small:
    """Cells an attacker recovered that count 1 to k-1 persons, each checked right."""

    cells: dict[Any, int]

    @classmethod
    def of(cls, found: dict[Any, int], truth: dict[Any, int]) -> Small:
        out = {}
        for c, v in found.items():
            assert truth.get(c, 0) == v, f"the attacker solved {set(c[1])} wrong"
            if 0 < v < K:
                out[c] = v
        return cls(out)
