"""What each population is counted by, and how a quasi-identifier is generalized.

The vocabulary (universes, dimensions, generalizations) is declared in the policy model
(`ANALYTICS_UNIVERSES`, `ANALYTICS_QUASI_IDENTIFIERS`) so the policy checker can locate a
mistake; this module gives each name its meaning.

No dimension of one universe counts another universe's units exactly (no "number of
weapons held", no "permit kinds held" on persons): such a dimension would tie the cells of
two universes by a linear equation the suppression audit, which works universe by
universe, would not see (`suppress.py`).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass

from strongroom.policy.model import (
    ANALYTICS_QUASI_IDENTIFIERS,
    ANALYTICS_UNIVERSES,
    QuasiIdentifier,
    QuasiIdentifierSpec,
)

TOTAL = "total"  # the value a count view shows in a dimension it sums over
AGE_TOP = 80  # ages from here are one band: the oldest are few, and few is identifying
AGE_FLOOR = 18  # nobody younger holds a permit
# Owners registered in the commune (the registry knows no census): bands wide enough that
# a band never names a commune.
COMMUNE_BANDS = ((1, "1-49"), (50, "50-199"), (200, "200-999"), (1000, "1000+"))

# The column a dimension becomes, per universe: a date says which date it is.
_DATE_COLUMN = {"permits": "issued", "sales": "sold", "bans": "since"}

REGIONS: dict[str, str] = {}
for _region, _codes in (
    ("Auvergne-Rhône-Alpes", "01 03 07 15 26 38 42 43 63 69 73 74"),
    ("Bourgogne-Franche-Comté", "21 25 39 58 70 71 89 90"),
    ("Bretagne", "22 29 35 56"),
    ("Centre-Val de Loire", "18 28 36 37 41 45"),
    ("Corse", "2A 2B"),
    ("Grand Est", "08 10 51 52 54 55 57 67 68 88"),
    ("Hauts-de-France", "02 59 60 62 80"),
    ("Île-de-France", "75 77 78 91 92 93 94 95"),
    ("Normandie", "14 27 50 61 76"),
    ("Nouvelle-Aquitaine", "16 17 19 23 24 33 40 47 64 79 86 87"),
    ("Occitanie", "09 11 12 30 31 32 34 46 48 65 66 81 82"),
    ("Pays de la Loire", "44 49 53 72 85"),
    ("Provence-Alpes-Côte d'Azur", "04 05 06 13 83 84"),
    ("Guadeloupe", "971"),
    ("Martinique", "972"),
    ("Guyane", "973"),
    ("La Réunion", "974"),
    ("Mayotte", "976"),
):
    for _code in _codes.split():
        REGIONS[_code] = _region


@dataclass(frozen=True)
class Generalizer:
    """The policy's quasi-identifier generalizations, applied to plain values."""

    departement: str = "departement"
    age: str = "band"
    age_width: int = 10
    commune: str = "size_band"
    date: str = "month"

    @classmethod
    def from_policy(cls, qis: Mapping[QuasiIdentifier, QuasiIdentifierSpec]) -> Generalizer:
        def gen(name: QuasiIdentifier, default: str) -> str:
            spec = qis.get(name)
            return default if spec is None else spec.generalize

        age = qis.get("age")
        return cls(
            departement=gen("departement", "departement"),
            age=gen("age", "band"),
            age_width=10 if age is None else age.width,
            commune=gen("commune", "size_band"),
            date=gen("date", "month"),
        )

    def signature(self) -> dict[str, str]:
        """What a release's cells mean: two releases under different generalizations
        can be differenced (a 40-49 band against a 45-54 one)."""
        return {
            "departement": self.departement,
            "age": f"band:{self.age_width}" if self.age == "band" else self.age,
            "commune": self.commune,
            "date": self.date,
        }

    def departement_of(self, code: str) -> str:
        if self.departement == "region":
            return REGIONS.get(code, "unknown")
        return code

    def age_of(self, birth: datetime.date, today: datetime.date) -> str:
        years = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
        if self.age == "none":
            return str(years)
        if years >= AGE_TOP:
            return f"{AGE_TOP}+"
        width = self.age_width
        # The first band runs from 18 to the first band edge at least a width above it
        # (18-29, not a two-year 18-19); the registry holds nobody younger.
        first_end = min(-(-(AGE_FLOOR + width) // width) * width, AGE_TOP)
        if years < first_end:
            return f"{AGE_FLOOR}-{first_end - 1}"
        lo = years // width * width
        return f"{lo}-{min(lo + width, AGE_TOP) - 1}"

    def age_changes_on(self, birth: datetime.date, today: datetime.date) -> datetime.date | None:
        """The first day after `today` on which `age_of` gives another label (None: never,
        the top band): an incremental refresh recounts the persons whose day has come."""
        now = self.age_of(birth, today)
        years = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
        for age in range(years + 1, max(years, AGE_TOP) + 2):
            day = _birthday(birth, birth.year + age)
            if self.age_of(birth, day) != now:
                return day
        return None

    def commune_of(self, name: str, registered: int) -> str:
        if self.commune == "none":
            return name
        label = COMMUNE_BANDS[0][1]
        for floor, band in COMMUNE_BANDS:
            if registered >= floor:
                label = band
        return label

    def date_of(self, day: datetime.date) -> str:
        if self.date == "day":
            return day.isoformat()
        if self.date == "year":
            return f"{day.year:04d}"
        return f"{day.year:04d}-{day.month:02d}"


def _birthday(birth: datetime.date, year: int) -> datetime.date:
    """The day a person born on `birth` is a year older in `year` (1 March for 29 February
    in a common year, as `age_of` counts)."""
    try:
        return birth.replace(year=year)
    except ValueError:
        return datetime.date(year, 3, 1)


def column_name(universe: str, dim: str, gen: Generalizer) -> str:
    """The column a dimension becomes in a view's table."""
    if dim == "date":
        return f"{_DATE_COLUMN[universe]}_{gen.date}"
    if dim == "age":
        return "age" if gen.age == "none" else "age_band"
    if dim == "commune":
        return "commune" if gen.commune == "none" else "commune_size"
    if dim == "departement":
        return gen.departement
    return dim


def dims_of(universe: str) -> tuple[str, ...]:
    return ANALYTICS_UNIVERSES[universe]


def is_quasi_identifier(dim: str) -> bool:
    return dim in ANALYTICS_QUASI_IDENTIFIERS
