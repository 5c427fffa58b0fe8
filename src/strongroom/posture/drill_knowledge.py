"""What the drill's attacker knows: what it brings (`--known`, a CSV file: an earlier leak,
a bought list) and what the service's legitimate answers teach it on the way, as a real
scraper would keep them.

    family_name,birth_date,permit_number        a full buyer triple
    family_name,birth_date                      an identity without its permit number
    permit_number,birth_year                    a number, its holder to be guessed
    serial                                      a weapon to look up

Any subset of the columns `family_name`, `birth_date` (YYYY-MM-DD), `birth_year`,
`permit_number`, `departement` and `serial`; an unknown column is an error (a misspelt
column must not silently turn a leak into guesses). Nothing learned is written anywhere:
the report holds counts only.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from strongroom.errors import BadRequest

COLUMNS = ("family_name", "birth_date", "birth_year", "permit_number", "departement", "serial")
PERMIT_FORMAT = re.compile(r"^FR-(\w{2,3})-(\d{8})$")
MASK = "*"

# Public knowledge an extractor starts from: frequent French family names.
FAMILY_NAMES = (
    "Andre",
    "Bernard",
    "Bertrand",
    "Bonnet",
    "Boyer",
    "Chevalier",
    "David",
    "Dubois",
    "Dumont",
    "Dupont",
    "Durand",
    "Fournier",
    "Francois",
    "Garnier",
    "Gauthier",
    "Girard",
    "Guerin",
    "Henry",
    "Lambert",
    "Laurent",
    "Lefebvre",
    "Legrand",
    "Leroy",
    "Martin",
    "Masson",
    "Mathieu",
    "Mercier",
    "Michel",
    "Moreau",
    "Morel",
    "Muller",
    "Perrin",
    "Petit",
    "Richard",
    "Robert",
    "Robin",
    "Roussel",
    "Roux",
    "Simon",
    "Thomas",
    "Vincent",
)


@dataclass(frozen=True)
class Known:
    """One person the attacker knows something about."""

    family_name: str | None = None
    birth_date: str | None = None
    birth_year: int | None = None
    permit_number: str | None = None
    departement: str | None = None
    serial: str | None = None

    @property
    def identity(self) -> bool:
        return bool(self.family_name and self.birth_date)

    @property
    def triple(self) -> bool:
        return self.identity and bool(self.permit_number)

    @property
    def year(self) -> int | None:
        if self.birth_year is not None:
            return self.birth_year
        return int(self.birth_date[:4]) if self.birth_date else None


def _row(where: str, raw: dict[str, str]) -> Known:
    values = {k: (v or "").strip() or None for k, v in raw.items()}
    dob = values.get("birth_date")
    if dob is not None:
        try:
            date.fromisoformat(dob)
        except ValueError as exc:
            raise BadRequest(f"{where}: birth_date must be YYYY-MM-DD, not {dob!r}") from exc
    year = values.get("birth_year")
    if year is not None and not year.isdigit():
        raise BadRequest(f"{where}: birth_year must be a year, not {year!r}")
    return Known(
        family_name=values.get("family_name"),
        birth_date=dob,
        birth_year=int(year) if year else None,
        permit_number=values.get("permit_number"),
        departement=values.get("departement"),
        serial=values.get("serial"),
    )


def load_known(path: str | Path) -> list[Known]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadRequest(f"cannot read {p}: {type(exc).__name__}") from exc
    reader = csv.DictReader(text.splitlines())
    unknown = sorted(set(reader.fieldnames or ()) - set(COLUMNS))
    if unknown or not reader.fieldnames:
        raise BadRequest(
            f"{p}: unknown column(s) {', '.join(unknown) or '(no header)'}; "
            f"known: {', '.join(COLUMNS)}"
        )
    return [_row(f"{p}:{i}", raw) for i, raw in enumerate(reader, start=2)]


def write_known(path: str | Path, rows: list[Known], columns: Sequence[str] = COLUMNS) -> None:
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns))
        w.writeheader()
        for r in rows:
            w.writerow({c: "" if getattr(r, c) is None else getattr(r, c) for c in columns})


def departement_of(permit_number: str) -> str | None:
    m = PERMIT_FORMAT.match(permit_number)
    return m.group(1) if m else None


@dataclass
class Knowledge:
    """The attacker's notebook for one run: the known rows, and what answers taught."""

    known: list[Known] = field(default_factory=list)
    names: Counter[str] = field(default_factory=Counter)  # family names seen in answers
    initials: Counter[str] = field(default_factory=Counter)  # first letters seen masked
    departements: Counter[str] = field(default_factory=Counter)
    serials: list[str] = field(default_factory=list)
    identities: list[Known] = field(default_factory=list)  # learned whole from records

    def __post_init__(self) -> None:
        for row in self.known:
            if row.departement:
                self.departements[row.departement] += 1
            elif row.permit_number and (d := departement_of(row.permit_number)):
                self.departements[d] += 1

    def summary(self) -> dict[str, int]:
        """How much the answers taught, in counts (the report holds no value)."""
        return {
            "names": len(self.names),
            "initials": len(self.initials),
            "departements": len(self.departements),
            "serials": len(set(self.serials)),
            "identities": len(self.identities),
        }

    def candidate_names(self) -> list[str]:
        """Family names to guess with, best first: those answers showed, those of the
        known list, then the public list with the initials answers showed first."""
        out = [n for n, _ in self.names.most_common()]
        seen = set(out)
        listed = [r.family_name for r in self.known if r.family_name]
        out += [n for n in dict.fromkeys(listed) if n not in seen]
        seen.update(listed)
        public = [n for n in FAMILY_NAMES if n not in seen]
        if self.initials:
            rank = {c: i for i, (c, _) in enumerate(self.initials.most_common())}
            public.sort(key=lambda n: rank.get(n[0].upper(), len(rank)))
        return out + public

    def learn_ledger_item(self, item: dict[str, Any]) -> None:
        identity = item.get("identity")
        name = identity.get("family_name") if isinstance(identity, dict) else None
        if isinstance(name, str) and name:
            if MASK in name:
                self.initials[name[0].upper()] += 1
            else:
                self.names[name] += 1
        weapon = item.get("weapon")
        serial = weapon.get("serial") if isinstance(weapon, dict) else None
        if isinstance(serial, str) and serial and MASK not in serial:
            self.serials.append(serial)

    def learn_record(self, record: dict[str, Any]) -> None:
        """A full record: the holder's name, birth date, permit numbers and serials."""
        identity = record.get("identity")
        identity = identity if isinstance(identity, dict) else {}
        name, dob = identity.get("family_name"), identity.get("birth_date")
        if isinstance(name, str) and name and MASK not in name:
            self.names[name] += 1
        address = record.get("address")
        dept = address.get("departement") if isinstance(address, dict) else None
        if isinstance(dept, str) and dept:
            self.departements[dept] += 1
        for permit in record.get("permits") or ():
            number = permit.get("number") if isinstance(permit, dict) else None
            if isinstance(number, str) and MASK not in number and isinstance(name, str):
                self.identities.append(
                    Known(
                        family_name=name,
                        birth_date=dob if isinstance(dob, str) else None,
                        permit_number=number,
                    )
                )
                if d := departement_of(number):
                    self.departements[d] += 1
        for weapon in record.get("weapons") or ():
            serial = weapon.get("serial") if isinstance(weapon, dict) else None
            if isinstance(serial, str) and serial and MASK not in serial:
                self.serials.append(serial)

    def learn_confirmed(self, row: Known) -> None:
        """A guess the service confirmed: its name and département are real."""
        if row.family_name:
            self.names[row.family_name] += 1
        if row.permit_number and (d := departement_of(row.permit_number)):
            self.departements[d] += 1
