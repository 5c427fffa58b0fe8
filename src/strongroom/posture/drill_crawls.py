"""The drill's crawls: the doors whose answers name further pages, walked as a scraper walks
a site (`Crawl`: a queue of requests, each answer adding the IDs it names), then watched
(the same pages again, for what changed). Write routes are reached with an ID that names
nothing, so the answer shows the door is open (404, not 403) without acting on anything.

    owner     a citizen's account: its record (GET /v1/me), who looked at it (the pages of
              GET /v1/me/accesses), its filing door reached, then the staff doors tried
              with what the record taught (its own permit on the dealer's check, its
              identity on the police search, its ID on the full-record read, its serials on
              the weapon lookup) and with the known list; then the record watched. One
              person: records count its reads.
    auditor   the journal and what is built on it: alerts, activity, reviews, checkpoint and
              proofs, the verification, then every principal and subject the answers name
              investigated in turn (principals -> the subjects they saw -> who else saw
              them), a breach report over every principal learned, and each subject tried
              on the full-record read. Records are those whose PII values an answer carried
              (`pii_records`): the role sees none, so 0 is the figure to hold.
    admin     the staff directory (principals and their open sessions), containments, the
              export queue, alerts and activity, then each principal's budget state and
              activity, the write doors reached; then the directory watched (who is signed
              in now). Records are the directory's entries, sessions, containments, export
              requests and budget states the answers carried.
"""

from __future__ import annotations

import random
import re
import uuid
from collections import deque
from typing import Any

from strongroom.ids import is_public_id
from strongroom.posture.drill_knowledge import MASK, PERMIT_FORMAT, Knowledge, Known
from strongroom.posture.drill_strategies import Probe, Strategy, search, verify

ROLES = ("owner", "dealer", "police", "prefecture", "auditor", "admin")
# Alerts and activity as far back as the routes allow.
ALERT_HOURS = 2160
# The registry's PII values as answers name them (permit numbers only in their format).
PII_KEYS = frozenset(
    {"family_name", "given_names", "birth_date", "birth_place", "street", "city", "postcode"}
)
SERIAL_KEYS = frozenset({"serial", "weapon_serial"})
NUMBER_KEYS = frozenset({"number", "permit_number"})
PRINCIPAL_KEYS = frozenset({"principal", "by", "decided_by", "requested_by", "requester_id"})
PROBE_REASON = "drill: reaching the door, nothing to act on"


def _unknown_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def known_values(knowledge: Knowledge) -> re.Pattern[str] | None:
    """One pattern for every PII value the attacker holds (names, birth dates, permit
    numbers, serials), each matched whole: inside free text too (a justification)."""
    rows = [*knowledge.known, *knowledge.identities]
    values = {
        v
        for r in rows
        for v in (r.family_name, r.birth_date, r.permit_number, r.serial)
        if v and len(v) >= 3
    }
    if not values:
        return None
    alternatives = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")


def _is_pii(key: str, value: str, known: re.Pattern[str] | None) -> bool:
    plain = bool(value) and MASK not in value
    if plain and (key in PII_KEYS or key in SERIAL_KEYS):
        return True
    if plain and key in NUMBER_KEYS and PERMIT_FORMAT.match(value):
        return True
    return known is not None and known.search(value) is not None


def pii_records(probe: Probe, body: Any, known: re.Pattern[str] | None) -> list[str]:
    """The records of an answer that carried a PII value: each object holding one (by its
    ID when it has one), anywhere in the answer."""
    hits: set[str] = set()

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            own = next((node[k] for k in ("id", "subject") if isinstance(node.get(k), str)), None)
            here = f"{where}#{own}" if own else where
            for key, value in node.items():
                if isinstance(value, str) and _is_pii(str(key), value, known):
                    hits.add(here)
                else:
                    walk(value, f"{here}.{key}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                if isinstance(item, str) and _is_pii("", item, known):
                    hits.add(where)
                else:
                    walk(item, f"{where}[{i}]")

    walk(body, "")
    return [f"pii:{probe.path}{h}" for h in sorted(hits)]


class Crawl(Strategy):
    """Requests queued once each (by method and path), then `watch` while it has any."""

    def __init__(self, knowledge: Knowledge, rng: random.Random) -> None:
        super().__init__(knowledge, rng)
        self.queue: deque[Probe] = deque()
        self.asked: set[tuple[str, str]] = set()
        self.watching = 0

    def ask(self, probe: Probe) -> None:
        key = (probe.method, probe.path)
        if key not in self.asked and probe.kind not in self.closed:
            self.asked.add(key)
            self.queue.append(probe)

    def next(self) -> Probe | None:
        while self.queue or self.refill():
            probe = self.queue.popleft()
            if probe.kind not in self.closed:
                return probe
        watched = [p for p in self.watched() if p.kind not in self.closed]
        if not watched:
            return None
        self.watching += 1
        return watched[self.watching % len(watched)]

    def watched(self) -> list[Probe]:
        """The pages read again once the crawl is done (none: the crawl just ends)."""
        return []

    def refill(self) -> bool:
        """Queue what the answers so far call for once the queue has run dry; whether
        anything was queued."""
        return False


# --- the owner's door ----------------------------------------------------------------------
ME = Probe("GET", "/v1/me", kind="me")
ACCESSES = Probe("GET", "/v1/me/accesses", kind="accesses")


# The owner's one write opens a case at the prefecture: reached with a kind of request no
# policy declares, which is refused inside the task (400), past the role and scope (403).
FILING = Probe("POST", "/v1/me/requests", {"kind": "drill-probe"}, kind="filing")


class OwnerDoor(Crawl):
    def __init__(self, knowledge: Knowledge, rng: random.Random) -> None:
        super().__init__(knowledge, rng)
        self.ask(ME)
        self.ask(ACCESSES)
        self.ask(FILING)

    def watched(self) -> list[Probe]:
        return [ME, ACCESSES]

    def records(self, probe: Probe, body: Any) -> list[str]:
        if probe.kind == "me" and isinstance(body, dict) and body.get("id"):
            return [f"me:{body['id']}"]
        return []

    def learn(self, probe: Probe, status: int, body: Any) -> None:
        super().learn(probe, status, body)
        if status != 200 or not isinstance(body, dict):
            return
        if probe.kind == "accesses" and body.get("next_before") is not None:
            self.ask(Probe("GET", f"/v1/me/accesses?before={body['next_before']}", kind="accesses"))
        if probe.kind != "me" or self.watching:
            return
        self.knowledge.learn_record(body)
        self._other_doors(body)

    def _other_doors(self, record: dict[str, Any]) -> None:
        """The staff doors, tried with the record's own values, then with the known list."""
        for row in self.knowledge.identities:
            self.ask(verify(row))
        identity = record.get("identity")
        if isinstance(identity, dict) and identity.get("family_name"):
            name, dob = identity.get("family_name"), identity.get("birth_date")
            self.ask(search(Known(family_name=str(name), birth_date=str(dob))))
        self.ask(Probe("GET", f"/v1/persons/{record['id']}", kind="read"))
        for serial in dict.fromkeys(self.knowledge.serials):
            self.ask(Probe("POST", "/v1/weapons/lookup", {"serial": serial}, kind="weapon"))
        self.ask(Probe("GET", "/v1/ledger", kind="ledger", purpose="ledger_keeping"))
        for row in self.knowledge.known:
            if row.triple:
                self.ask(verify(row))
            if row.identity:
                self.ask(search(row))


# --- the auditor's door --------------------------------------------------------------------
class AuditorDoor(Crawl):
    def __init__(self, knowledge: Knowledge, rng: random.Random) -> None:
        super().__init__(knowledge, rng)
        self.known = known_values(knowledge)
        self.principals: list[str] = []
        self.subjects: list[str] = []
        self.breached = 0
        for p in (
            Probe("GET", f"/v1/alerts?hours={ALERT_HOURS}", kind="alerts"),
            *(Probe("GET", f"/v1/reviews?status={s}", kind="reviews") for s in REVIEW_STATES),
            Probe("GET", "/v1/journal/checkpoint", kind="checkpoint"),
            Probe("GET", "/v1/journal/verification", kind="verification"),
            Probe("POST", "/v1/journal/verification", kind="verification"),
            *(Probe("GET", f"/v1/activity?bucket={b}", kind="activity") for b in BUCKETS),
            *(Probe("GET", f"/v1/activity?role={r}", kind="activity") for r in ROLES),
            Probe(
                "POST",
                f"/v1/reviews/{_unknown_id(rng)}/decision",
                {"decision": "rejected", "note": PROBE_REASON},
                kind="review-decision",
            ),
        ):
            self.ask(p)

    def records(self, probe: Probe, body: Any) -> list[str]:
        return pii_records(probe, body, self.known)

    def refill(self) -> bool:
        if self.breached >= len(self.principals) or "breach" in self.closed:
            return False
        # Everyone learned so far, in one breach report (at most the route's 1000).
        self.breached = len(self.principals)
        body = {"principals": self.principals[-1000:]}
        self.asked.discard(("POST", "/v1/investigations/breach"))
        self.ask(Probe("POST", "/v1/investigations/breach", body, kind="breach"))
        return True

    def learn(self, probe: Probe, status: int, body: Any) -> None:
        super().learn(probe, status, body)
        if status != 200 or not isinstance(body, dict):
            return
        if probe.kind == "checkpoint" and isinstance(body.get("size"), int) and body["size"] > 1:
            size = int(body["size"])
            for index in (0, size // 2, size - 1):
                path = f"/v1/journal/proof/inclusion?index={index}&size={size}"
                self.ask(Probe("GET", path, kind="proof"))
            path = f"/v1/journal/proof/consistency?first=1&second={size}"
            self.ask(Probe("GET", path, kind="proof"))
        principals, subjects = harvest(body)
        for p in principals:
            if p not in self.principals:
                self.principals.append(p)
                self.ask(Probe("GET", f"/v1/investigations/principals/{p}", kind="investigate"))
                self.ask(Probe("GET", f"/v1/activity?principal={p}", kind="activity"))
        for s in subjects:
            if s not in self.subjects:
                self.subjects.append(s)
                self.ask(Probe("GET", f"/v1/investigations/subjects/{s}", kind="investigate"))
                self.ask(Probe("GET", f"/v1/persons/{s}", kind="read"))


REVIEW_STATES = ("pending", "approved", "rejected")
BUCKETS = ("hour", "day")


def harvest(body: Any) -> tuple[list[str], list[str]]:
    """The principals and subjects an answer names (public IDs only), in order."""
    principals: dict[str, None] = {}
    subjects: dict[str, None] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in PRINCIPAL_KEYS and isinstance(value, str) and is_public_id(value):
                    principals[value] = None
                elif key == "principals" and isinstance(value, dict):
                    principals.update((k, None) for k in value if is_public_id(k))
                    walk(value)
                elif key in ("subject", "subjects"):
                    ids = value if isinstance(value, list) else [value]
                    subjects.update(
                        (s, None) for s in ids if isinstance(s, str) and is_public_id(s)
                    )
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(body)
    return list(principals), list(subjects)


# --- the administrator's door --------------------------------------------------------------
PRINCIPALS = Probe("GET", "/v1/principals", kind="principals")
CONTAINMENTS = Probe("GET", "/v1/containments", kind="containments")


class AdminDoor(Crawl):
    def __init__(self, knowledge: Knowledge, rng: random.Random) -> None:
        super().__init__(knowledge, rng)
        self.principals: set[str] = set()
        unknown = _unknown_id(rng)
        why = {"why": PROBE_REASON}
        for p in (
            PRINCIPALS,
            CONTAINMENTS,
            Probe("GET", "/v1/exports/queue", kind="exports"),
            Probe("GET", f"/v1/alerts?hours={ALERT_HOURS}", kind="alerts"),
            *(Probe("GET", f"/v1/activity?role={r}", kind="activity") for r in ROLES),
            Probe("POST", f"/v1/containments/{unknown}/lift", why, kind="lift"),
            Probe("POST", f"/v1/containments/{unknown}/approve", {"note": ""}, kind="lift"),
            Probe("POST", f"/v1/principals/{unknown}/revoke", why, kind="revoke"),
            Probe("POST", f"/v1/sessions/{unknown}/end", why, kind="end-session"),
            Probe("POST", f"/v1/exports/{unknown}/approve", {"note": ""}, kind="export-decision"),
            Probe(
                "POST",
                f"/v1/exports/{unknown}/reject",
                {"note": PROBE_REASON},
                kind="export-decision",
            ),
            Probe("GET", f"/v1/exports/{unknown}/download", kind="export-download"),
        ):
            self.ask(p)

    def watched(self) -> list[Probe]:
        return [PRINCIPALS, CONTAINMENTS]

    def records(self, probe: Probe, body: Any) -> list[str]:
        if not isinstance(body, dict):
            return []
        if probe.kind == "budgets" and isinstance(body.get("principal"), str):
            return [f"budgets:{body['principal']}"]
        if probe.kind not in ("principals", "containments", "exports"):
            return []
        out = []
        for item in body.get("items") or ():
            if isinstance(item, dict) and item.get("id"):
                out.append(f"{probe.kind}:{item['id']}")
                out += [
                    f"session:{s['id']}"
                    for s in item.get("sessions") or ()
                    if isinstance(s, dict) and s.get("id")
                ]
        return out

    def learn(self, probe: Probe, status: int, body: Any) -> None:
        super().learn(probe, status, body)
        if status != 200 or not isinstance(body, dict):
            return
        principals, _ = harvest(body)
        if probe.kind == "principals":
            principals += [
                str(i["id"])
                for i in body.get("items") or ()
                if isinstance(i, dict) and is_public_id(str(i.get("id")))
            ]
        for p in principals:
            if p not in self.principals:
                self.principals.add(p)
                self.ask(Probe("GET", f"/v1/budgets/{p}", kind="budgets"))
                self.ask(Probe("GET", f"/v1/activity?principal={p}", kind="activity"))


def owner(k: Knowledge, rng: random.Random) -> Strategy:
    return OwnerDoor(k, rng)


def auditor(k: Knowledge, rng: random.Random) -> Strategy:
    return AuditorDoor(k, rng)


def admin(k: Knowledge, rng: random.Random) -> Strategy:
    return AdminDoor(k, rng)
