"""The plan before encryption: deterministic per (seed, index) whatever the drawing order,
unique permit numbers and serials without coordination, clear dates that can never be
mistaken for birth dates, consistent communes and postcodes."""

from __future__ import annotations

import random
import re
from datetime import date

from strongroom.registry.seed_plan import Planner, SlotPermutation
from strongroom.registry.seed_pools import build_pools

TODAY = date(2026, 11, 29)


def _planner(persons: int = 4000, seed: int = 9) -> Planner:
    return Planner(build_pools(seed), seed, persons, TODAY)


def test_a_person_depends_on_seed_and_index_only() -> None:
    a, b = _planner(), _planner()
    forward = [a.person(i) for i in range(300)]
    backward = [b.person(i) for i in reversed(range(300))][::-1]
    assert forward == backward
    assert _planner(seed=10).person(5) != forward[5]


def test_slot_permutation_is_a_bijection_on_a_sample() -> None:
    perm = SlotPermutation(random.Random(1))
    xs = random.Random(2).sample(range(10**8), 50_000) + list(range(1000))
    ys = [perm(x) for x in xs]
    assert len(set(ys)) == len(set(xs)) and all(0 <= y < 10**8 for y in ys)
    # No visible step between consecutive slots.
    assert len({perm(i + 1) - perm(i) for i in range(1000)}) > 990


def test_numbers_serials_dates_and_places_are_consistent() -> None:
    p = _planner()
    people = [p.person(i) for i in range(4000)]
    numbers = [pm.number for x in people for pm in x.permits]
    serials = [w.serial for x in people for w in x.weapons]
    serials += [w.serial for d in p.dealers for w in d.stock]
    assert len(numbers) == len(set(numbers)) and len(serials) == len(set(serials))
    for x in people:
        assert re.fullmatch(r"[0-9]{5}", x.postcode)
        expected = "20" if x.departement in ("2A", "2B") else x.departement
        assert x.postcode.startswith(expected)
        assert x.city in {c.name for c in p.pools.communes[x.departement]}
        for pm in x.permits:
            assert pm.number.startswith(f"FR-{x.departement}-")
            assert re.fullmatch(r"FR-[0-9AB]{2,3}-[0-9]{8}", pm.number)
            assert x.birth_date < pm.issued < pm.expires
        if x.ban:
            assert x.birth_date < x.ban[0]
    youngest = max(x.birth_date for x in people)
    assert (TODAY - youngest).days >= 18 * 365


def test_canary_targets_cover_every_departement_and_letter() -> None:
    p = _planner(persons=5000)
    targets = p.canary_targets(128)
    assert len(targets) == 128
    assert {d for d, _ in targets.values()} == set(p.pools.departements)
    assert {letter for _, letter in targets.values()} == set(p.pools.by_letter)
    for i, target in targets.items():
        plan = p.person(i, target)
        assert plan.canary and plan.departement == target[0]
        assert plan.family_name.startswith(target[1])
