"""What the drill asks for: each strategy is an endless stream of probes (method, path,
body) shaped like a real extraction campaign against the real API.

    enumerate       random UUIDs on GET /v1/persons/{id}, guessed serials (public maker
                    prefixes + digits) on POST /v1/weapons/lookup
    name-sweep      POST /v1/persons/search, common family names in alphabetical order
                    against birth dates swept day by day
    postcode-sweep  POST /v1/persons/search by postcode (and name + postcode): what a
                    directory-style API would allow; this one refuses the shape
    slow-harvest    the name sweep, paced (`pace` seconds between requests) to stay under
                    a naive rate limit
    multi-account   the name sweep spread round-robin over several accounts
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

# Public knowledge an extractor starts from: frequent French family names and the serial
# prefixes makers stamp on their guns.
FAMILY_NAMES = tuple(
    sorted(
        (
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
    )
)
SERIAL_PREFIXES = (
    "BE",
    "BR",
    "BN",
    "SK",
    "TK",
    "BL",
    "VC",
    "MF",
    "CZ",
    "RG",
    "GL",
    "SS",
    "SW",
    "WA",
    "HK",
    "FN",
)
POSTCODES = tuple(f"{d:02d}{n:03d}" for d in range(1, 96) for n in (0, 100, 200))
STRATEGIES = ("enumerate", "name-sweep", "postcode-sweep", "slow-harvest", "multi-account")


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    body: dict[str, Any] | None = None


def enumerate_ids(rng: random.Random) -> Iterator[Probe]:
    while True:
        yield Probe("GET", f"/v1/persons/{uuid.UUID(int=rng.getrandbits(128), version=4)}")
        letter = rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ")
        yield Probe(
            "POST",
            "/v1/weapons/lookup",
            {"serial": f"{rng.choice(SERIAL_PREFIXES)}{letter}{rng.randrange(10**8):08d}"},
        )


def name_sweep(rng: random.Random, start: date = date(1950, 1, 1)) -> Iterator[Probe]:
    day = start
    while True:
        for name in FAMILY_NAMES:
            yield Probe(
                "POST", "/v1/persons/search", {"family_name": name, "birth_date": day.isoformat()}
            )
        day += timedelta(days=1)


def postcode_sweep(rng: random.Random) -> Iterator[Probe]:
    while True:
        for postcode in POSTCODES:
            yield Probe("POST", "/v1/persons/search", {"postcode": postcode})
            yield Probe(
                "POST",
                "/v1/persons/search",
                {"family_name": rng.choice(FAMILY_NAMES), "postcode": postcode},
            )


def probes(strategy: str, rng: random.Random) -> Iterator[Probe]:
    if strategy == "enumerate":
        return enumerate_ids(rng)
    if strategy in ("name-sweep", "slow-harvest", "multi-account"):
        return name_sweep(rng)
    if strategy == "postcode-sweep":
        return postcode_sweep(rng)
    raise ValueError(f"unknown strategy {strategy!r}; one of: {', '.join(STRATEGIES)}")
