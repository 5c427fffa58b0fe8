"""The plain content of the synthetic registry, person by person, before encryption.

Each person is drawn from its own RNG state, seeded with (seed, index): a person's record does
not depend on the batch size, on the worker that drew it or on the persons before it, so
batches can be built in parallel and stay deterministic. Internal keys are derived from the
index (a person owns permit slots i*4.. and weapon slots i*8..): sparse, but they never leave
the service, and no batch needs to know how many rows the previous ones wrote.

Identifiers that must be unique without coordination (permit numbers, weapon serials) come
from a seeded permutation of their slot number, so they are unique and carry no visible
order. Every date in clear (permit issue and expiry, bans) is later than every birth date, so
no clear date can be mistaken for one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from strongroom.registry.seed_pools import (
    DEALER_PREFIXES,
    DEALER_SUFFIXES,
    SERIAL_PREFIX,
    Commune,
    Pools,
)

PERMIT_SLOTS = 4
WEAPON_SLOTS = 8
STOCK_SLOTS = 16
REFERENCE_PERSONS = 5_000_000
REFERENCE_DEALERS = 2_500
MAX_PERSONS = 12_000_000  # the slot permutations cover 10**8 numbers

_KIND_NAMES = ("hunting", "sport", "collector")
_KIND_WEIGHTS = (70, 25, 5)
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


@dataclass(slots=True)
class PermitPlan:
    slot: int
    number: str
    kind: str
    categories: str
    issued: date
    expires: date
    status: str


@dataclass(slots=True)
class WeaponPlan:
    slot: int
    serial: str
    make: str
    model: str
    calibre: str
    category: str
    status: str
    sale: tuple[int, int, float] | None = None  # (dealer index, permit slot, at)
    transfer_from: tuple[int, float] | None = None  # (earlier person index, at)


@dataclass(slots=True)
class PersonPlan:
    index: int
    canary: bool
    departement: str
    family_name: str
    given_names: str
    birth_date: date
    birth_place: str
    street: str
    city: str
    postcode: str
    permits: list[PermitPlan] = field(default_factory=list)
    weapons: list[WeaponPlan] = field(default_factory=list)
    ban: tuple[date, date | None] | None = None


@dataclass(frozen=True, slots=True)
class DealerPlan:
    index: int
    departement: str
    name: str
    stock: tuple[WeaponPlan, ...]


class SlotPermutation:
    """A seeded bijection of [0, 10**8): a four-round Feistel network on two decimal halves.
    Not cryptography, only a shuffle so that synthetic numbers show no sequence."""

    HALF = 10_000

    def __init__(self, rng: random.Random) -> None:
        self._rounds = [[rng.randrange(self.HALF) for _ in range(self.HALF)] for _ in range(4)]

    def __call__(self, x: int) -> int:
        left, right = divmod(x, self.HALF)
        for table in self._rounds:
            left, right = right, (left + table[right]) % self.HALF
        return left * self.HALF + right


class Planner:
    """Draws persons and dealers for one seed and one reference date."""

    def __init__(self, pools: Pools, seed: int, persons: int, today: date) -> None:
        self.pools = pools
        self.seed = seed & (2**64 - 1)
        self.persons = persons
        self.today = today
        rng = random.Random(f"{seed}:permutations")
        self.permit_perm = SlotPermutation(rng)
        self.serial_perm = SlotPermutation(rng)
        # Every clear date falls after the youngest birth date.
        self.birth_max = today - timedelta(days=int(18.2 * 365.25))
        self.birth_min = date(today.year - 92, 1, 1)
        self.clear_min = today - timedelta(days=12 * 365)
        self.dealers = self._plan_dealers()
        self.dealers_by_dept: dict[str, list[int]] = {}
        for d in self.dealers:
            self.dealers_by_dept.setdefault(d.departement, []).append(d.index)
        self._rng = random.Random()

    # --- dealers --------------------------------------------------------------------------
    def _plan_dealers(self) -> list[DealerPlan]:
        p = self.pools
        rng = random.Random(f"{self.seed}:dealers")
        wanted = max(
            len(p.departements), round(self.persons * REFERENCE_DEALERS / REFERENCE_PERSONS)
        )
        depts = list(p.departements)  # one per département, the rest by population
        depts += rng.choices(p.departements, cum_weights=p.weights, k=wanted - len(depts))
        depts.sort(key=p.departements.index)
        out = []
        for k, dept in enumerate(depts):
            name = f"{rng.choice(DEALER_PREFIXES)} {rng.choice(DEALER_SUFFIXES)}"
            # Stock serials count down from the top of the slot space, persons' count up.
            stock = tuple(
                self._weapon(
                    rng, s, 10**8 - 1 - (k * STOCK_SLOTS + s), rng.choice("BCC"), "for_sale"
                )
                for s in range(rng.randint(2, 8))
            )
            out.append(DealerPlan(k, dept, name, stock))
        return out

    # --- persons --------------------------------------------------------------------------
    def canary_targets(self, count: int) -> dict[int, tuple[str, str]]:
        """Which person indices are honey records, and the (département, first letter) each
        one covers: cycling through both so that any sweep along either axis meets one."""
        rng = random.Random(f"{self.seed}:canaries")
        count = min(count, self.persons)
        indices = rng.sample(range(self.persons), count)
        depts = list(self.pools.departements)
        letters = list(self.pools.by_letter)
        rng.shuffle(depts)
        rng.shuffle(letters)
        return {
            i: (depts[k % len(depts)], letters[k % len(letters)]) for k, i in enumerate(indices)
        }

    def _identity(
        self, rng: random.Random, canary: tuple[str, str] | None
    ) -> tuple[str, str, str, date]:
        """The first draws of a person: département, family name, given names, birth."""
        p = self.pools
        if canary is None:
            dept = rng.choices(p.departements, cum_weights=p.weights)[0]
            family = rng.choice(p.family_names)
        else:
            dept, letter = canary
            rng.random()  # keep the draw count identical to an ordinary person
            family = rng.choice(p.by_letter[letter])
        names = p.male_names if rng.random() < 0.5 else p.female_names
        r = rng.random()
        given = " ".join(rng.sample(names, 1 if r < 0.6 else 2 if r < 0.95 else 3))
        return dept, family, given, self._birth(rng)

    def _birth(self, rng: random.Random) -> date:
        span = (self.birth_max - self.birth_min).days
        return self.birth_min + timedelta(days=int(rng.triangular(0, span, span * 0.55)))

    def name_dob(self, i: int, canary: tuple[str, str] | None = None) -> tuple[str, date]:
        """Person i's family name and birth date, as `person` draws them, without the rest
        of the record (a tenth of the cost): what namesake checks need."""
        rng = self._rng
        rng.seed((self.seed << 34) | i)
        _dept, family, _given, birth = self._identity(rng, canary)
        return family, birth

    def birth_alternatives(self, i: int, start: int, count: int) -> list[date]:
        """Other birth dates for honey record i, drawn like every birth date (the
        distribution of honey records' ages stays the population's), deterministic."""
        rng = random.Random(f"{self.seed}:canary-birth:{i}")
        out = [self._birth(rng) for _ in range(start + count)]
        return out[start:]

    def person(
        self, i: int, canary: tuple[str, str] | None = None, birth: date | None = None
    ) -> PersonPlan:
        """Person i. `birth` replaces the drawn birth date (a honey record moved off a
        real person's name and birth date); every other draw stays the same."""
        p, rng = self.pools, self._rng
        rng.seed((self.seed << 34) | i)
        dept, family, given, drawn = self._identity(rng, canary)
        birth = drawn if birth is None else birth
        home: Commune = rng.choice(p.communes[dept])
        birth_dept = dept if rng.random() < 0.7 else rng.choice(p.departements)
        street = f"{rng.randint(1, 180)} {rng.choice(p.streets)}"
        plan = PersonPlan(
            i,
            canary is not None,
            dept,
            family,
            given,
            birth,
            rng.choice(p.communes[birth_dept]).name,
            street,
            home.name,
            home.postcode,
        )
        self._permits(rng, plan)
        self._weapons(rng, plan)
        return plan

    def _date_between(self, rng: random.Random, lo: date, hi: date) -> date:
        return lo + timedelta(days=rng.randint(0, max(0, (hi - lo).days)))

    def _permits(self, rng: random.Random, plan: PersonPlan) -> None:
        r = rng.random()
        n = 0 if r < 0.10 else 1 if r < 0.75 else 2 if r < 0.95 else 3
        kinds: list[str] = []
        while len(kinds) < n:
            kind = rng.choices(_KIND_NAMES, weights=_KIND_WEIGHTS)[0]
            if kind not in kinds:
                kinds.append(kind)
        for slot, kind in enumerate(kinds):
            c = rng.random()
            if kind == "hunting":
                cats, years = "C", 10
            elif kind == "sport":
                cats, years = ("A,B,C" if c < 0.01 else "B,C" if c < 0.85 else "C"), 5
            else:
                cats, years = ("A,B,C" if c < 0.05 else "B,C" if c < 0.5 else "C"), 5
            issued = self._date_between(rng, self.clear_min, self.today - timedelta(days=1))
            expires = issued + timedelta(days=365 * years)
            s = rng.random()
            status = "suspended" if s < 0.025 else "revoked" if s < 0.035 else "valid"
            digits = self.permit_perm(plan.index * PERMIT_SLOTS + slot)
            plan.permits.append(
                PermitPlan(
                    slot, f"FR-{plan.departement}-{digits:08d}", kind, cats, issued, expires, status
                )
            )
        if rng.random() < 0.004:
            since = self._date_between(rng, self.clear_min + timedelta(days=365), self.today)
            until = None if rng.random() < 0.6 else since + timedelta(days=365 * rng.randint(1, 5))
            plan.ban = (since, until)
            for permit in plan.permits:
                permit.status = "revoked"

    def _weapon(
        self, rng: random.Random, slot: int, slot_number: int, category: str, status: str
    ) -> WeaponPlan:
        make, model, calibre, cat = rng.choice(self.pools.catalogue_by_category[category])
        serial = f"{SERIAL_PREFIX[make]}{rng.choice(_LETTERS)}{self.serial_perm(slot_number):08d}"
        return WeaponPlan(slot, serial, make, model, calibre, cat, status)

    def _weapons(self, rng: random.Random, plan: PersonPlan) -> None:
        allowed = sorted({c for pm in plan.permits for c in pm.categories.split(",")})
        if not allowed:
            count, allowed = (1 if rng.random() < 0.3 else 0), ["C"]
        else:
            count = min(WEAPON_SLOTS, int(rng.expovariate(1 / 1.6)))
        for slot in range(count):
            r = rng.random()
            cat = "A" if "A" in allowed and r < 0.3 else "B" if "B" in allowed and r < 0.7 else "C"
            s = rng.random()
            status = "stolen" if s < 0.01 else "seized" if s < 0.015 else "registered"
            w = self._weapon(rng, slot, plan.index * WEAPON_SLOTS + slot, cat, status)
            covering = [pm for pm in plan.permits if cat in pm.categories.split(",")]
            o = rng.random()
            # A honey record never bought from a dealer: no dealer's ledger, the one listing
            # a legitimate user pages through, can lead to it (zero false positives by
            # construction). Its weapons came to it by transfer instead.
            if covering and o < 0.45 and not plan.canary:
                pm = rng.choice(covering)
                dealer = rng.choice(self.dealers_by_dept[plan.departement])
                w.sale = (dealer, pm.slot, self._instant(rng, pm.issued, pm.expires))
            elif plan.index > 0 and o < 0.65:
                lo = covering[0].issued if covering else self.clear_min
                w.transfer_from = (rng.randrange(plan.index), self._instant(rng, lo, self.today))
            plan.weapons.append(w)

    def _instant(self, rng: random.Random, lo: date, hi: date) -> float:
        day = self._date_between(rng, lo, min(hi, self.today))
        return float(day.toordinal() - 719163) * 86400.0 + rng.randrange(8 * 3600, 19 * 3600)
