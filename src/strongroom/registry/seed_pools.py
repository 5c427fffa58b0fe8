"""Value pools for the synthetic registry: drawn once per run from Faker (fr_FR), then
sampled with `random.Random`, because a Faker call costs microseconds and a million persons
need tens of millions of draws.

The pools are deterministic for a seed (Faker's own RNG is seeded with it). Communes are
generated per département with postcodes that start with the département's code (20xxx for
Corsica, 97xxx overseas), so an address is internally consistent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from faker import Faker
from faker.providers.address.fr_FR import Provider as AddressFR
from faker.providers.person.fr_FR import Provider as PersonFR

COMMUNES_PER_DEPARTEMENT = 30
STREETS = 4000

# (make, model, calibre, EU category). Category A is rare and only for holders authorised
# for it; C (hunting rifles and shotguns) is the bulk of a real registry.
CATALOGUE: tuple[tuple[str, str, str, str], ...] = (
    ("Beretta", "A400 Xplor", "12/76", "C"),
    ("Beretta", "686 Silver Pigeon", "12/70", "C"),
    ("Browning", "B525 Sporter", "12/76", "C"),
    ("Browning", "BAR MK3", ".300 Win Mag", "C"),
    ("Benelli", "Argo E", "9.3x62", "C"),
    ("Benelli", "Raffaello", "12/76", "C"),
    ("Sako", "85 Hunter", ".308 Win", "C"),
    ("Sako", "TRG 22", "6.5 Creedmoor", "C"),
    ("Tikka", "T3x Lite", ".243 Win", "C"),
    ("Blaser", "R8 Professional", ".30-06 Springfield", "C"),
    ("Verney-Carron", "Sagittaire", "12/70", "C"),
    ("Verney-Carron", "Impact NT", "9.3x62", "C"),
    ("Manufrance", "Robust 222", "12/70", "C"),
    ("Manufrance", "Falcor", "16/70", "C"),
    ("CZ", "457 Varmint", ".22 LR", "C"),
    ("Ruger", "10/22 Carbine", ".22 LR", "C"),
    ("Glock", "17 Gen5", "9x19mm", "B"),
    ("Glock", "19 Gen5", "9x19mm", "B"),
    ("Sig Sauer", "P226 X-Five", "9x19mm", "B"),
    ("Sig Sauer", "P320 X-Carry", "9x19mm", "B"),
    ("CZ", "Shadow 2", "9x19mm", "B"),
    ("CZ", "75 SP-01", "9x19mm", "B"),
    ("Beretta", "92FS", "9x19mm", "B"),
    ("Smith & Wesson", "686 Plus", ".357 Magnum", "B"),
    ("Walther", "Q5 Match", "9x19mm", "B"),
    ("CZ", "Bren 2 Ms", ".223 Rem", "B"),
    ("Heckler & Koch", "HK416 F", "5.56x45mm", "A"),
    ("FN Herstal", "SCAR 17S", "7.62x51mm", "A"),
    ("Sig Sauer", "MCX Virtus", "5.56x45mm", "A"),
)
SERIAL_PREFIX = {
    "Beretta": "BE",
    "Browning": "BR",
    "Benelli": "BN",
    "Sako": "SK",
    "Tikka": "TK",
    "Blaser": "BL",
    "Verney-Carron": "VC",
    "Manufrance": "MF",
    "CZ": "CZ",
    "Ruger": "RG",
    "Glock": "GL",
    "Sig Sauer": "SS",
    "Smith & Wesson": "SW",
    "Walther": "WA",
    "Heckler & Koch": "HK",
    "FN Herstal": "FN",
}

# Business names in clear on `dealers`: built from words that are not personal names, so a
# copied database names shops, never people.
DEALER_PREFIXES = (
    "Armurerie",
    "Chasse et Tir",
    "Comptoir de la Chasse",
    "Tir Sportif",
    "Armes et Munitions",
    "Sports de Tir",
    "Espace Chasse",
)
DEALER_SUFFIXES = (
    "du Centre",
    "du Bocage",
    "Moderne",
    "du Plateau",
    "des Pins",
    "du Lac",
    "de la Gare",
    "du Port",
    "des Sources",
    "de la Forêt",
    "des Trois Chênes",
    "du Canal",
)


@dataclass(frozen=True)
class Commune:
    name: str
    postcode: str
    departement: str


@dataclass(frozen=True)
class Pools:
    departements: tuple[str, ...]
    weights: tuple[float, ...]  # cumulative, for random.choices(cum_weights=...)
    communes: dict[str, tuple[Commune, ...]]
    family_names: tuple[str, ...]
    by_letter: dict[str, tuple[str, ...]]  # first letter -> family names
    male_names: tuple[str, ...]
    female_names: tuple[str, ...]
    streets: tuple[str, ...]
    catalogue_by_category: dict[str, tuple[tuple[str, str, str, str], ...]]


def _postcode(rng: random.Random, dept: str) -> str:
    if dept in ("2A", "2B"):
        return f"20{rng.randrange(0, 1000):03d}"
    if len(dept) == 3:
        return f"{dept}{rng.randrange(0, 100):02d}"
    return f"{dept}{rng.randrange(0, 1000):03d}"


@lru_cache(maxsize=4)  # Faker is the slow part; a Pools is never modified once built
def build_pools(seed: int) -> Pools:
    fake = Faker("fr_FR")
    fake.seed_instance(seed)
    rng = random.Random(f"{seed}:pools")
    depts = tuple(code for code, _name in AddressFR.departments)
    # Skewed sizes (a few dense départements, many small), like a real population.
    raw = [rng.lognormvariate(0.0, 0.7) for _ in depts]
    total, acc, cum = sum(raw), 0.0, []
    for w in raw:
        acc += w / total
        cum.append(acc)
    communes: dict[str, tuple[Commune, ...]] = {}
    for dept in depts:
        seen: dict[str, Commune] = {}
        while len(seen) < COMMUNES_PER_DEPARTEMENT:
            name = fake.city()
            seen.setdefault(name, Commune(name, _postcode(rng, dept), dept))
        communes[dept] = tuple(seen.values())
    family = tuple(sorted(set(PersonFR.last_names)))
    by_letter: dict[str, list[str]] = {}
    for name in family:
        by_letter.setdefault(name[0], []).append(name)
    streets = sorted({fake.street_name() for _ in range(STREETS)})
    by_cat: dict[str, list[tuple[str, str, str, str]]] = {}
    for item in CATALOGUE:
        by_cat.setdefault(item[3], []).append(item)
    return Pools(
        departements=depts,
        weights=tuple(cum),
        communes=communes,
        family_names=family,
        by_letter={k: tuple(v) for k, v in sorted(by_letter.items())},
        male_names=tuple(sorted(set(PersonFR.first_names_male))),
        female_names=tuple(sorted(set(PersonFR.first_names_female))),
        streets=tuple(streets),
        catalogue_by_category={k: tuple(v) for k, v in by_cat.items()},
    )
