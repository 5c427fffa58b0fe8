"""What the drill asks for: each strategy is a campaign against one door of the real API,
shaped like a real extraction and learning from the answers it gets (`learn`), as a
scraper keeps notes. A strategy hands out one probe at a time (`next`; None when it has
nothing left worth trying); an account's token for the probe's purpose sends it.

The dealer's door (the breach's account type):

    dealer-ledger   page through the shop's own sales ledger (ledger_keeping): weapon
                    serials, buyers' masked names (their initials feed the name guesses)
    dealer-permits  permit-number enumeration in the registry's format FR-DD-NNNNNNNN,
                    counting up, for identities (name + birth date) known without their
                    number; the département from the row or learned from answers
    dealer-buyers   buyer-identity guessing for permit numbers known without their holder:
                    family names (those answers showed first) x birth dates (the known
                    year's days, else a sweep)
    dealer          the whole door as a scraper takes it: the ledger, then every full
                    triple it holds confirmed (permit valid, categories, expiry, banned),
                    then buyer guessing, then number enumeration, sharing what it learns

Staff, the searches and reads of today:

    police-search     exact person searches (family name + birth date) of the identities
                      known, the days of a known birth year for the others (stopping at
                      the first hit), names learned x known birth dates, then weapon
                      lookups of the serials known or learned
    prefecture-reads  full records through a case: search a known identity, link the
                      subject to the case the token names (case_management), read it
                      (case_work); each record's names, numbers and serials are learned

The owner's, the auditor's and the administrator's doors, crawled (drill_crawls.py):

    owner       the citizen's own record and who looked at it, the staff doors tried with
                what it taught and with the known list, then the record watched
    auditor     alerts, reviews, activity, the journal's checkpoint, proofs and verification,
                then every principal and subject answers name investigated in turn, and a
                breach report over them; counts the records whose PII values it got (0)
    admin       the staff directory and its sessions, containments, the export queue, each
                principal's budgets and activity, the write doors reached with an ID that
                names nothing; then the directory watched

Public knowledge only (no `--known` list):

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
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from strongroom.posture.drill_knowledge import FAMILY_NAMES, Knowledge, Known

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
# Where a birth-date sweep starts when nothing narrows it: the registry's middle ages.
SWEEP_FROM = date(1960, 1, 1)
SWEEP_DAYS = 40 * 366
FALLBACK_DEPARTEMENT = "75"
CASE = "{case}"  # replaced by the case the account's token names
MAX_SKIPPED = 1000


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    body: dict[str, Any] | None = None
    kind: str = ""  # verify | ledger | search | read | weapon | link; the crawls name theirs
    purpose: str | None = None  # which of the account's tokens sends it (None: its first)
    row: Known | None = None  # the values it tries
    origin: Known | None = None  # the known row those values were guessed for


def verify(row: Known) -> Probe:
    return Probe(
        "POST",
        "/v1/permits/verify",
        {
            "permit_number": row.permit_number,
            "family_name": row.family_name,
            "birth_date": row.birth_date,
        },
        kind="verify",
        row=row,
    )


def search(row: Known) -> Probe:
    body = {"family_name": row.family_name, "birth_date": row.birth_date}
    return Probe("POST", "/v1/persons/search", body, kind="search", row=row)


def records_in(probe: Probe, body: Any) -> list[str]:
    """The records an answer carried, each named by a key (counted, never reported)."""
    if not isinstance(body, dict):
        return []
    if probe.kind == "verify":
        # An unmatched check says nothing about anyone: "banned" stays null.
        if body.get("banned") is None or probe.row is None:
            return []
        return [f"permit:{probe.row.permit_number}"]
    items = body.get("items")
    if isinstance(items, list):
        return [
            f"{probe.kind}:{item['id']}"
            for item in items
            if isinstance(item, dict) and item.get("id")
        ]
    if probe.kind in ("read", "weapon") and body.get("id"):
        return [f"{probe.kind}:{body['id']}"]
    return []


class Strategy:
    """One campaign. `closed` holds the probe kinds the service refused to this account's
    tokens outright (403 for purpose or scope): a scraper stops knocking on them."""

    def __init__(self, knowledge: Knowledge, rng: random.Random) -> None:
        self.knowledge = knowledge
        self.rng = rng
        self.closed: set[str] = set()

    def next(self) -> Probe | None:
        raise NotImplementedError

    def records(self, probe: Probe, body: Any) -> list[str]:
        """The records a successful answer gave this campaign (what it counts)."""
        return records_in(probe, body)

    def learn(self, probe: Probe, status: int, body: Any) -> None:
        if status == 403 and not (isinstance(body, dict) and body.get("reason") == "contained"):
            self.closed.add(probe.kind)


class Stream(Strategy):
    """A fixed stream of probes (public knowledge only): answers teach it nothing."""

    def __init__(self, knowledge: Knowledge, rng: random.Random, probes: Iterator[Probe]) -> None:
        super().__init__(knowledge, rng)
        self.probes = probes

    def next(self) -> Probe | None:
        # A kind of request refused outright is dropped from the stream; a stream of
        # nothing else ends when the runner counts its refusals.
        for _ in range(MAX_SKIPPED):
            probe = next(self.probes, None)
            if probe is None or probe.kind not in self.closed:
                return probe
        return None


class Phases(Strategy):
    """Phases one after the other, sharing the knowledge and the closed doors."""

    def __init__(self, knowledge: Knowledge, rng: random.Random, phases: list[Strategy]) -> None:
        super().__init__(knowledge, rng)
        self.phases = phases
        for p in phases:
            p.closed = self.closed

    def next(self) -> Probe | None:
        while self.phases:
            probe = self.phases[0].next()
            if probe is not None and probe.kind not in self.closed:
                return probe
            self.phases.pop(0)
        return None

    def learn(self, probe: Probe, status: int, body: Any) -> None:
        super().learn(probe, status, body)
        for p in self.phases:
            p.learn(probe, status, body)


# --- the dealer's door ---------------------------------------------------------------------
class LedgerPaging(Strategy):
    def __init__(self, knowledge: Knowledge, rng: random.Random) -> None:
        super().__init__(knowledge, rng)
        self.cursor: str | None = None
        self.pending = False
        self.finished = False

    def next(self) -> Probe | None:
        if self.finished or "ledger" in self.closed or self.pending:
            return None
        self.pending = True
        query = f"?cursor={self.cursor}" if self.cursor else ""
        return Probe("GET", f"/v1/ledger{query}", kind="ledger", purpose="ledger_keeping")

    def learn(self, probe: Probe, status: int, body: Any) -> None:
        super().learn(probe, status, body)
        if probe.kind != "ledger":
            return
        self.pending = False
        if status != 200 or not isinstance(body, dict):
            self.finished = True
            return
        for item in body.get("items") or ():
            if isinstance(item, dict):
                self.knowledge.learn_ledger_item(item)
        nxt = body.get("next_cursor")
        self.cursor = str(nxt) if nxt else None
        self.finished = not nxt


class ConfirmTriples(Strategy):
    """Every full buyer triple held, verified once: which of the list hold a valid permit,
    for which categories, until when, and who is banned."""

    def __init__(self, knowledge: Knowledge, rng: random.Random) -> None:
        super().__init__(knowledge, rng)
        self.rows = deque(r for r in knowledge.known if r.triple)

    def next(self) -> Probe | None:
        return verify(self.rows.popleft()) if self.rows else None

    def learn(self, probe: Probe, status: int, body: Any) -> None:
        super().learn(probe, status, body)
        if probe.kind == "verify" and probe.row is not None and records_in(probe, body):
            self.knowledge.learn_confirmed(probe.row)


class Guessing(Strategy):
    """Row after row, a stream of guesses each (at most `attempts`), as a scraper works
    down its list: the row is done at its first confirmed guess, whose values are learned."""

    attempts = 400

    def __init__(self, knowledge: Knowledge, rng: random.Random, kind: str) -> None:
        super().__init__(knowledge, rng)
        self.kind = kind
        self.rows: deque[Known] = deque()
        self.current: tuple[Known, Iterator[Known]] | None = None
        self.tried = 0
        self.found: set[Known] = set()

    def guesses(self, row: Known) -> Iterator[Known]:
        raise NotImplementedError

    def probe(self, guess: Known) -> Probe:
        return verify(guess) if self.kind == "verify" else search(guess)

    def next(self) -> Probe | None:
        while self.kind not in self.closed:
            if self.current is None or self.current[0] in self.found or self.tried >= self.attempts:
                if not self.rows:
                    return None
                row = self.rows.popleft()
                self.current, self.tried = (row, self.guesses(row)), 0
            row, stream = self.current
            guess = next(stream, None)
            if guess is None:
                self.current = None
                continue
            self.tried += 1
            p = self.probe(guess)
            return Probe(p.method, p.path, p.body, p.kind, p.purpose, guess, row)
        return None

    def learn(self, probe: Probe, status: int, body: Any) -> None:
        super().learn(probe, status, body)
        if probe.origin is not None and probe.row is not None and records_in(probe, body):
            self.found.add(probe.origin)
            self.knowledge.learn_confirmed(probe.row)


def _days(first: date, count: int) -> Iterator[str]:
    for i in range(count):
        yield (first + timedelta(days=i)).isoformat()


def birth_dates(row: Known) -> Iterator[str]:
    if row.birth_date:
        return iter((row.birth_date,))
    if row.year:
        first = date(row.year, 1, 1)
        return _days(first, (date(row.year + 1, 1, 1) - first).days)
    return _days(SWEEP_FROM, SWEEP_DAYS)


class IdentityGuessing(Guessing):
    """Family name + birth date for a row that lacks one or both: its known values, the
    names answers showed before the others (re-read at each new name, so what is learned
    meanwhile moves up), the days of its birth year, else a sweep."""

    def __init__(
        self, knowledge: Knowledge, rng: random.Random, kind: str, rows: Iterable[Known]
    ) -> None:
        super().__init__(knowledge, rng, kind)
        self.rows.extend(rows)

    def names(self, row: Known) -> Iterator[str]:
        if row.family_name:
            yield row.family_name
            return
        tried: set[str] = set()
        while True:
            name = next((n for n in self.knowledge.candidate_names() if n not in tried), None)
            if name is None:
                return
            tried.add(name)
            yield name

    def guesses(self, row: Known) -> Iterator[Known]:
        for name in self.names(row):
            for dob in birth_dates(row):
                yield Known(family_name=name, birth_date=dob, permit_number=row.permit_number)


class PermitEnumeration(Guessing):
    """Permit numbers in the registry's format, counted up from a starting point, for an
    identity known without its number. The département is the row's, else the one answers
    showed most (read at each step: a confirmation elsewhere redirects the count)."""

    def __init__(self, knowledge: Knowledge, rng: random.Random, rows: Iterable[Known]) -> None:
        super().__init__(knowledge, rng, "verify")
        self.rows.extend(rows)

    def departement(self, row: Known) -> str:
        if row.departement:
            return row.departement
        common = self.knowledge.departements.most_common(1)
        return common[0][0] if common else FALLBACK_DEPARTEMENT

    def guesses(self, row: Known) -> Iterator[Known]:
        n = self.rng.randrange(10**8 - self.attempts)
        while n < 10**8:
            number = f"FR-{self.departement(row)}-{n:08d}"
            yield Known(
                family_name=row.family_name, birth_date=row.birth_date, permit_number=number
            )
            n += 1


def dealer_ledger(k: Knowledge, rng: random.Random) -> Strategy:
    return LedgerPaging(k, rng)


def dealer_permits(k: Knowledge, rng: random.Random) -> Strategy:
    return PermitEnumeration(k, rng, (r for r in k.known if r.identity and not r.permit_number))


def dealer_buyers(k: Knowledge, rng: random.Random) -> Strategy:
    rows = (r for r in k.known if r.permit_number and not r.identity)
    return IdentityGuessing(k, rng, "verify", rows)


def dealer(k: Knowledge, rng: random.Random) -> Strategy:
    return Phases(
        k,
        rng,
        [
            LedgerPaging(k, rng),
            ConfirmTriples(k, rng),
            dealer_buyers(k, rng),
            dealer_permits(k, rng),
        ],
    )


# --- staff ---------------------------------------------------------------------------------
class Lookups(Strategy):
    """Weapon lookups of every serial known or learned, once each."""

    def __init__(self, knowledge: Knowledge, rng: random.Random) -> None:
        super().__init__(knowledge, rng)
        self.done: set[str] = set()

    def next(self) -> Probe | None:
        if "weapon" in self.closed:
            return None
        serials = [r.serial for r in self.knowledge.known if r.serial] + self.knowledge.serials
        serial = next((s for s in serials if s not in self.done), None)
        if serial is None:
            return None
        self.done.add(serial)
        return Probe("POST", "/v1/weapons/lookup", {"serial": serial}, kind="weapon")


class Searches(Strategy):
    """Exact searches of the identities known, once each."""

    def __init__(self, knowledge: Knowledge, rng: random.Random) -> None:
        super().__init__(knowledge, rng)
        self.rows = deque(r for r in knowledge.known if r.identity)

    def next(self) -> Probe | None:
        return search(self.rows.popleft()) if self.rows and "search" not in self.closed else None


def police_search(k: Knowledge, rng: random.Random) -> Strategy:
    by_year = (r for r in k.known if r.family_name and not r.birth_date and r.year)
    unnamed = (r for r in k.known if r.birth_date and not r.family_name)
    return Phases(
        k,
        rng,
        [
            Searches(k, rng),
            IdentityGuessing(k, rng, "search", by_year),
            IdentityGuessing(k, rng, "search", unnamed),
            Lookups(k, rng),
        ],
    )


class CaseReads(Strategy):
    """Full records the way an agent reaches them: search, link the subject to the case
    the token names, read it. Reads go first, then links, then searches, so each found
    subject is read as soon as it may be; a link left waiting for a second agent (or
    refused) closes the way, since every later one would wait too."""

    reason = "named in the case file under review"

    def __init__(self, knowledge: Knowledge, rng: random.Random) -> None:
        super().__init__(knowledge, rng)
        unnamed = (r for r in knowledge.known if r.birth_date and not r.family_name)
        self.searches: Strategy = Phases(
            knowledge,
            rng,
            [Searches(knowledge, rng), IdentityGuessing(knowledge, rng, "search", unnamed)],
        )
        self.closed = self.searches.closed  # one set of closed doors for both
        self.to_link: deque[str] = deque()
        self.to_read: deque[str] = deque()
        self.seen: set[str] = set()

    def next(self) -> Probe | None:
        if self.to_read and "read" not in self.closed:
            return Probe("GET", f"/v1/persons/{self.to_read.popleft()}", kind="read")
        if self.to_link and "link" not in self.closed:
            subject = self.to_link.popleft()
            return Probe(
                "POST",
                f"/v1/cases/{CASE}/subjects",
                {"subject_id": subject, "reason": self.reason},
                kind="link",
                purpose="case_management",
            )
        if "link" in self.closed:
            return None
        return self.searches.next()

    def learn(self, probe: Probe, status: int, body: Any) -> None:
        super().learn(probe, status, body)
        self.searches.learn(probe, status, body)
        if not isinstance(body, dict):
            return
        if probe.kind == "search" and status == 200:
            for item in body.get("items") or ():
                sid = item.get("id") if isinstance(item, dict) else None
                if isinstance(sid, str) and sid not in self.seen:
                    self.seen.add(sid)
                    self.to_link.append(sid)
        elif probe.kind == "link":
            linked = status in (200, 201) and body.get("status") == "active"
            if linked and probe.body is not None:
                self.to_read.append(str(probe.body["subject_id"]))
            else:
                self.closed.add("link")
        elif probe.kind == "read" and status == 200:
            self.knowledge.learn_record(body)


def prefecture_reads(k: Knowledge, rng: random.Random) -> Strategy:
    return CaseReads(k, rng)


# --- public knowledge only -------------------------------------------------------------------
def enumerate_ids(rng: random.Random) -> Iterator[Probe]:
    while True:
        yield Probe(
            "GET", f"/v1/persons/{uuid.UUID(int=rng.getrandbits(128), version=4)}", kind="read"
        )
        letter = rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ")
        yield Probe(
            "POST",
            "/v1/weapons/lookup",
            {"serial": f"{rng.choice(SERIAL_PREFIXES)}{letter}{rng.randrange(10**8):08d}"},
            kind="weapon",
        )


def name_sweep(rng: random.Random, start: date = date(1950, 1, 1)) -> Iterator[Probe]:
    day = start
    names = sorted(FAMILY_NAMES)
    while True:
        for name in names:
            yield search(Known(family_name=name, birth_date=day.isoformat()))
        day += timedelta(days=1)


def postcode_sweep(rng: random.Random) -> Iterator[Probe]:
    while True:
        for postcode in POSTCODES:
            yield Probe("POST", "/v1/persons/search", {"postcode": postcode}, kind="search")
            yield Probe(
                "POST",
                "/v1/persons/search",
                {"family_name": rng.choice(FAMILY_NAMES), "postcode": postcode},
                kind="search",
            )


STRATEGIES = (
    "dealer",
    "dealer-ledger",
    "dealer-permits",
    "dealer-buyers",
    "police-search",
    "prefecture-reads",
    "owner",
    "auditor",
    "admin",
    "enumerate",
    "name-sweep",
    "postcode-sweep",
    "slow-harvest",
    "multi-account",
)
# The strategies that need what an attacker brings (`--known`) to find anything.
NEEDS_KNOWN = frozenset({"dealer-permits", "dealer-buyers", "police-search", "prefecture-reads"})


def build(strategy: str, knowledge: Knowledge, rng: random.Random) -> Strategy:
    from strongroom.posture import drill_crawls  # its strategies build on this module's

    learning = {
        "owner": drill_crawls.owner,
        "auditor": drill_crawls.auditor,
        "admin": drill_crawls.admin,
        "dealer": dealer,
        "dealer-ledger": dealer_ledger,
        "dealer-permits": dealer_permits,
        "dealer-buyers": dealer_buyers,
        "police-search": police_search,
        "prefecture-reads": prefecture_reads,
    }
    if strategy in learning:
        return learning[strategy](knowledge, rng)
    if strategy == "enumerate":
        return Stream(knowledge, rng, enumerate_ids(rng))
    if strategy in ("name-sweep", "slow-harvest", "multi-account"):
        return Stream(knowledge, rng, name_sweep(rng))
    if strategy == "postcode-sweep":
        return Stream(knowledge, rng, postcode_sweep(rng))
    raise ValueError(f"unknown strategy {strategy!r}; one of: {', '.join(STRATEGIES)}")
