"""The legitimate population: role-typical work on a daily and weekly rhythm.

    police      checks in shifts (early, late, night; five shifts a week): a stop is an
                exact person search (a real name and birth date) often followed by a
                weapon lookup of that person's guns, or a weapon lookup alone
    dealer      buyers' permit verifications in shop hours, Monday to Saturday, and a
                look at the sales ledger now and then (`ledger=False` leaves it out)
    prefecture  case work in office hours, Monday to Friday, on a caseload in the
                agent's own département (reads, exact searches, weapon lookups) that
                grows by a few cases a day, each read through the case its person is
                linked to: most come from the case-management system (the operator's
                path), a quarter the agent opens and links itself; now and then a
                review of persons the unit already knows, eight to fourteen on one
                case, the links past the policy's threshold waiting for a colleague of
                the unit to approve them (four eyes; the colleague approves when next
                at work); with `exports=True`, now and then the département's renewal
                list (an export, approved by an administrator), a few of whose persons
                join the caseload (the export follow-up)
    owner       a rare look at their own record

Police and prefecture searches are exact (family name and birth date as typed from a
document): whoever else holds that pair, a namesake, is listed too.

Volume per user-day is heavy-tailed: a lognormal factor per person (some people simply
do more) times a lognormal factor per day. Typos happen (a birth date off by a day).
A throttled user (429) waits the Retry-After; a step-up (401) is answered with a second
factor and the request retried; a contained user (403, 401) stops for the day. A user-day
ended by a suspension (403 contained, or the account inactive) is a wrongful suspension.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from strongroom.simulate.calls import Call, Outcome
from strongroom.simulate.runner import DAY, Sim
from strongroom.simulate.world import PersonRef, Triple, World


@dataclass(frozen=True)
class Profile:
    share: float
    episodes: float  # median episodes per working day
    hours: tuple[tuple[float, float], ...]  # local working spans; one is drawn per day
    workdays: tuple[int, ...]  # 0 = Monday
    presence: float  # chance of working on a working day
    sigma_person: float = 0.5
    sigma_day: float = 0.35


PROFILES: dict[str, Profile] = {
    "police": Profile(0.40, 7.0, ((6, 14), (14, 22), (22, 30)), (0, 1, 2, 3, 4, 5, 6), 5 / 7),
    "dealer": Profile(0.20, 3.0, ((9, 19),), (0, 1, 2, 3, 4, 5), 0.9),
    "prefecture": Profile(0.15, 12.0, ((8.5, 18),), (0, 1, 2, 3, 4), 0.9),
    "owner": Profile(
        0.25, 1.0, ((8, 23),), (0, 1, 2, 3, 4, 5, 6), 1 / 30, sigma_person=0.0, sigma_day=0.0
    ),
}
TYPO = 0.05
CASE_JUSTIFICATION = "Permit renewal and compliance review under the assigned case"
# The case a prefecture agent names under a policy that declares no cases.
CASE_REFERENCE = "CASE-SIM-0001"
EXPORT_DATASET = "departement_permits_expiring"
EXPORT_FIELDS = ("ref.person_id", "ref.permit_id", "permit.expires")
EXPORT_JUSTIFICATION = "Renewal letters for the permits expiring this semester"
EXPORT_SHARE = 0.3  # chance a prefecture agent's working day starts with the renewal list
FOLLOW_UPS = 3  # persons of the list that join the caseload
OWN_CASE_SHARE = 0.25  # new caseload items whose case the agent opens and links itself
OWN_KINDS = {"renewal": 0.5, "suspension": 0.3, "seizure": 0.2}
REVIEW_SHARE = 0.05  # chance a working day holds a review of persons the unit knows
REVIEW_SIZE = (8, 14)
REVIEW_KIND = "suspension"
APPROVALS_PER_REQUEST = 3  # waiting links a colleague approves when next at work
LINK_REASON = "Holder concerned by the case (file received)"


@dataclass
class Waiting:
    """A link that waits for a second agent of the unit."""

    case: str
    person: PersonRef
    requester: LegitUser
    since: float


@dataclass
class LegitStats:
    users: Counter[str] = field(default_factory=Counter)
    days: int = 0
    requests: Counter[str] = field(default_factory=Counter)
    throttled: set[tuple[str, int]] = field(default_factory=set)
    step_up: set[tuple[str, int]] = field(default_factory=set)
    contained: set[tuple[str, int]] = field(default_factory=set)
    roles: dict[str, str] = field(default_factory=dict)
    budgets: Counter[str] = field(default_factory=Counter)
    containments: Counter[str] = field(default_factory=Counter)
    exports: int = 0  # renewal lists downloaded
    follow_ups: int = 0  # their persons put on a caseload
    suspended: set[tuple[str, int]] = field(default_factory=set)  # user-days locked out
    cases_opened: Counter[str] = field(default_factory=Counter)  # by the agents themselves
    links: Counter[str] = field(default_factory=Counter)  # links the agents made
    four_eyes_waits: dict[str, list[float]] = field(default_factory=dict)  # seconds, by role
    desk: dict[str, list[Waiting]] = field(default_factory=dict)  # waiting links, by unit
    # Detector family -> (principal, day) on which that family fired on the principal
    # (shadow or not, whether or not it led to any action): the false positives.
    flagged: dict[str, set[tuple[str, int]]] = field(default_factory=dict)


class LegitUser:
    def __init__(
        self,
        world: World,
        stats: LegitStats,
        role: str,
        index: int,
        rng: random.Random,
        *,
        days: int,
        ip: str,
        knows: list[PersonRef],
        triples: list[Triple] | None = None,
        departement: str | None = None,
        dealer: str | None = None,
        ledger: bool = True,
        approver: str | None = None,
        directory: dict[str, PersonRef] | None = None,
        kinds: dict[str, float] | None = None,
    ) -> None:
        self.world, self.stats, self.role, self.rng = world, stats, role, rng
        self.profile = PROFILES[role]
        self.days, self.ip, self.ledger = days, ip, ledger
        self.approver = approver  # an administrator who approves this agent's exports
        self.directory = directory or {}  # every person by public ID (export follow-ups)
        self.knows, self.triples = knows, triples or []
        self.user_agent = f"Mozilla/5.0 sim-{role}-{index % 7}"
        self.factor = rng.lognormvariate(0, self.profile.sigma_person)
        self.workdays = self._week(rng)
        if role == "owner":
            self.principal = knows[0].public_id
        else:
            self.principal = world.add_principal(
                role, departement=departement, dealer=dealer, label=f"sim {role}"
            )
        # A prefecture agent works a caseload through a case of its unit, fed by the
        # case-management system (the operator's path): need to know.
        self.case = (
            world.open_case(f"prefecture:{departement}", f"SIM-{index:06d}")
            if role == "prefecture"
            else None
        )
        self.unit = f"{role}:{departement}"
        # Kinds of case the agent opens itself (none: everything comes through the
        # case-management system, or the policy has no cases).
        self.kinds = kinds or {}
        self.own: dict[str, str] = {}  # person -> the case the agent linked it to
        stats.users[role] += 1
        stats.roles[self.principal] = role
        # (person, how it is read: "cms" through the case-management system's case,
        # "own" through the case the agent linked it to)
        self.caseload: list[tuple[PersonRef, str]] = []
        self.day = -1
        self.plan: list[tuple[float, Call]] = []
        self.caller: Any = None
        self.blocked_until = 0.0

    def _week(self, rng: random.Random) -> tuple[int, ...]:
        days = list(self.profile.workdays)
        if self.role == "police":  # five shifts in seven days, rest days vary per officer
            rng.shuffle(days)
            days = sorted(days[:5])
        return tuple(days)

    def first(self, start: float) -> float | None:
        return self._plan_from(start, 0)

    # --- planning ------------------------------------------------------------------------
    def _plan_from(self, start: float, day: int) -> float | None:
        p, rng = self.profile, self.rng
        while day < self.days:
            self.day = day
            if day % 7 in self.workdays and rng.random() < p.presence:
                n = max(1, round(p.episodes * self.factor * rng.lognormvariate(0, p.sigma_day)))
                lo, hi = rng.choice(p.hours)
                base = start + day * DAY
                times = sorted(base + rng.uniform(lo, hi) * 3600 for _ in range(n))
                self.plan = [(t + dt, c) for t in times for dt, c in self._episode(day)]
                if self.kinds and rng.random() < REVIEW_SHARE:
                    self.plan.append((base + rng.uniform(lo, hi) * 3600, Call("review")))
                self.plan.sort(key=lambda x: x[0])
                self.plan.reverse()
                self.caller = None
                return self.plan[-1][0]
            day += 1
        return None

    def _person(self) -> PersonRef:
        return self.rng.choice(self.knows)

    def _dob(self, p: PersonRef) -> str:
        if self.rng.random() >= TYPO:
            return p.birth_date
        return (date.fromisoformat(p.birth_date) + timedelta(days=1)).isoformat()

    def _episode(self, day: int) -> list[tuple[float, Call]]:
        rng = self.rng
        if self.role == "owner":
            return [(0.0, Call("me"))]
        if self.role == "dealer":
            if not self.triples:  # no buyer known (registry seed unknown): the ledger
                return [(0.0, Call("ledger"))]
            t = rng.choice(self.triples)
            calls = [
                (
                    0.0,
                    Call(
                        "verify",
                        {
                            "permit_number": t.permit_number,
                            "family_name": t.family_name,
                            "birth_date": self._dob_str(t.birth_date),
                        },
                    ),
                )
            ]
            if self.ledger and rng.random() < 0.05:
                calls.append((rng.uniform(600, 3600), Call("ledger")))
            return calls
        if self.role == "police":
            p = self._person()
            if p.serials and rng.random() < 0.3:
                return [(0.0, Call("weapon", {"serial": rng.choice(p.serials)}))]
            calls = [
                (
                    0.0,
                    Call(
                        "search",
                        {"query": {"family_name": p.family_name, "birth_date": self._dob(p)}},
                    ),
                )
            ]
            if p.serials and rng.random() < 0.5:
                calls.append(
                    (rng.uniform(20, 120), Call("weapon", {"serial": rng.choice(p.serials)}))
                )
            return calls
        # prefecture: the renewal list now and then, open a case now and then, work on the
        # caseload
        per_episode = EXPORT_SHARE / self.profile.episodes
        if self.approver is not None and rng.random() < per_episode:
            return [(0.0, Call("export"))]
        first: list[tuple[float, Call]] = []
        if not self.caseload or rng.random() < 0.2:
            new = self._person()
            if self.kinds and rng.random() < OWN_CASE_SHARE:
                self.caseload.append((new, "own"))
                first.append((-rng.uniform(60, 300), Call("own_case", {"id": new.public_id})))
            else:
                self.caseload.append((new, "cms"))
                if self.case is not None:
                    self.world.link(self.case, new.public_id)
        p, via = rng.choice(self.caseload)
        calls = [*first, (0.0, Call("person", {"id": p.public_id, "via": via}))]
        if p.family_name and rng.random() < 0.2:
            calls.insert(
                0,
                (
                    -rng.uniform(30, 120),
                    Call(
                        "search",
                        {"query": {"family_name": p.family_name, "birth_date": self._dob(p)}},
                    ),
                ),
            )
        if p.serials and rng.random() < 0.15:
            calls.append((rng.uniform(60, 300), Call("weapon", {"serial": rng.choice(p.serials)})))
        return calls

    def _dob_str(self, dob: str) -> str:
        if self.rng.random() >= TYPO:
            return dob
        return (date.fromisoformat(dob) + timedelta(days=1)).isoformat()

    # --- acting --------------------------------------------------------------------------
    def wake(self, sim: Sim, now: float) -> float | None:
        _, call = self.plan.pop()
        if now >= self.blocked_until:
            self._act(sim, now, call)
        if self.plan:
            return self.plan[-1][0]
        return self._plan_from(self.world.start, self.day + 1)

    def _login(self, now: float) -> bool:
        from strongroom.errors import StrongroomError

        try:
            self.caller = self.world.caller(
                self.principal,
                self.role,
                ip=self.ip,
                user_agent=self.user_agent,
                session=f"s-{self.principal[:8]}-{self.day}",
                case=self.case or (CASE_REFERENCE if self.role == "prefecture" else None),
                justification=CASE_JUSTIFICATION if self.role == "prefecture" else None,
            )
        except StrongroomError:
            self._contained(now, Outcome(401, "principal_inactive"))
            return False
        return True

    def _act(self, sim: Sim, now: float, call: Call) -> None:
        if self.caller is None and not self._login(now):
            return
        if self.role == "prefecture" and not self._approve(sim, now):
            return
        if call.task == "export":
            self._export(now)
        elif call.task == "own_case":
            self._own_case(sim, now, str(call.args["id"]))
        elif call.task == "review":
            self._review(sim, now)
        elif call.task == "person" and "via" in call.args:
            pid, via = str(call.args["id"]), call.args["via"]
            case = self.case if via == "cms" else self.own.get(pid)
            if via == "own" and case is None:
                return  # its link waits for a colleague, or was refused
            self._send(sim, now, Call("person", {"id": pid, "case": case}))
        else:
            self._send(sim, now, call)

    def _send(self, sim: Sim, now: float, call: Call) -> Outcome:
        """One request as the user makes it: a step-up answered with the second factor
        and the request retried; a throttle waited out; a containment ends the day."""
        caller = self.caller
        if call.task == "ledger":
            caller = replace(caller, purpose="ledger_keeping")
        self.stats.requests[self.role] += 1
        out = sim.request(caller, call)
        if out.step_up:
            self.stats.step_up.add((self.principal, self.day))
            self.caller = replace(self.caller, auth_time=now)  # the second factor, now
            caller = replace(caller, auth_time=now)
            self.stats.requests[self.role] += 1
            out = sim.request(caller, call)
        self._flags(now)
        if out.throttled:
            self.stats.throttled.add((self.principal, self.day))
            self.stats.budgets[out.budget or "?"] += 1
            self.blocked_until = now + out.retry_after
        elif out.contained or out.step_up:
            self._contained(now, out)
        return out

    def _kind(self) -> str:
        kinds = list(self.kinds)
        return self.rng.choices(kinds, weights=[self.kinds[k] for k in kinds])[0]

    def _open(self, sim: Sim, now: float, kind: str) -> str | None:
        reference = f"PREF-{self.rng.randrange(10**6):06d}"
        out = self._send(sim, now, Call("case_open", {"kind": kind, "reference": reference}))
        if out.status != 200 or out.case is None:
            return None
        self.stats.cases_opened[self.role] += 1
        return out.case

    def _link(self, sim: Sim, now: float, case: str, person: PersonRef) -> bool:
        """Link the person to the agent's own case; True once it may be read (a link
        past the threshold waits on the unit's desk for a colleague)."""
        out = self._send(
            sim, now, Call("link", {"case": case, "id": person.public_id, "reason": LINK_REASON})
        )
        if out.status != 200:
            return False
        self.stats.links[self.role] += 1
        self.world.known.setdefault(self.unit, {})[person.public_id] = None
        if out.link_status == "pending":
            self.stats.desk.setdefault(self.unit, []).append(Waiting(case, person, self, now))
            return False
        self.own[person.public_id] = case
        return True

    def _own_case(self, sim: Sim, now: float, pid: str) -> None:
        """A case the agent opens itself for a person new on its caseload."""
        person = self.directory.get(pid)
        if person is None or pid in self.own:
            return
        case = self._open(sim, now, self._kind())
        if case is not None:
            self._link(sim, now, case, person)

    def _review(self, sim: Sim, now: float) -> None:
        """One case for a review of persons the unit has had on its cases before (a
        regulation's change, a club's licence withdrawn): eight to fourteen linked in a
        row, read over the next days."""
        known = [pid for pid in self.world.known_to(self.unit) if pid not in self.own]
        if len(known) < REVIEW_SIZE[0]:
            return
        chosen = self.rng.sample(known, min(len(known), self.rng.randint(*REVIEW_SIZE)))
        kind = REVIEW_KIND if REVIEW_KIND in self.kinds else self._kind()
        case = self._open(sim, now, kind)
        if case is None:
            return
        for pid in chosen:
            person = self.directory.get(pid)
            if person is None:
                continue
            if self._link(sim, now, case, person):
                self.caseload.append((person, "own"))
            if self.caller is None or now < self.blocked_until:
                return  # refused on the way: the rest another day

    def _approve(self, sim: Sim, now: float) -> bool:
        """Approve a few of the unit's links that wait for a second agent (not one's
        own); False if the agent was stopped doing so."""
        waiting = self.stats.desk.get(self.unit)
        if not waiting:
            return True
        done = 0
        for w in list(waiting):
            if done >= APPROVALS_PER_REQUEST:
                break
            if w.requester is self:
                continue
            waiting.remove(w)
            done += 1
            out = self._send(sim, now, Call("approve", {"case": w.case, "id": w.person.public_id}))
            if out.status == 200:
                role = w.requester.role
                self.stats.four_eyes_waits.setdefault(role, []).append(now - w.since)
                w.requester.own[w.person.public_id] = w.case
                w.requester.caseload.append((w.person, "own"))
            elif out.throttled or out.contained or out.step_up:
                waiting.append(w)  # still waiting, for someone else
                return False
        return True

    def _flags(self, now: float) -> None:
        """Which detector families fired on this request of a legitimate user."""
        from strongroom.detect.table import FAMILIES

        incidents = self.world.service.detector.incidents.open
        for family in FAMILIES:
            inc = incidents.get((self.principal, family))
            if inc is not None and inc.last_seen == now:
                self.stats.flagged.setdefault(family, set()).add((self.principal, self.day))

    def _export(self, now: float) -> None:
        """Request the département's renewal list, have it approved, download it, and
        put a few of its persons on the caseload (linked to the agent's case, read later
        like any case)."""
        import csv
        import io

        from strongroom.errors import StrongroomError

        desk, world = self.world.service.exports, self.world
        self.stats.requests[self.role] += 2  # request, download (the approval is the admin's)
        try:
            export_id = desk.request(
                self.caller,
                dataset=EXPORT_DATASET,
                fields=list(EXPORT_FIELDS),
                justification=EXPORT_JUSTIFICATION,
            ).body["id"]
            admin = world.caller(
                str(self.approver),
                "admin",
                ip="172.31.0.2",
                session=f"s-admin-{self.day}",
                user_agent="Mozilla/5.0 sim-admin",
            )
            desk.approve(admin, export_id)
            _, download = desk.download(self.caller, export_id)
            text = b"".join(download.chunks()).decode()
        except StrongroomError as exc:
            out = Outcome(exc.status, exc.reason or exc.slug)
            if out.contained or out.step_up:
                self._contained(now, out)
            return
        self.stats.exports += 1
        ids = sorted(row["ref.person_id"].lower() for row in csv.DictReader(io.StringIO(text)))
        self.rng.shuffle(ids)
        # Lines that name nobody (the watermark's canary lines) are passed over.
        known = [self.directory[p] for p in ids if p in self.directory]
        for ref in known[:FOLLOW_UPS]:
            if self.case is not None:
                world.link(self.case, ref.public_id)
            self.caseload.append((ref, "cms"))
            self.stats.follow_ups += 1

    def _contained(self, now: float, out: Outcome) -> None:
        self.stats.contained.add((self.principal, self.day))
        if out.contained:
            self.stats.suspended.add((self.principal, self.day))
        key = f"{out.action or out.reason}:{'+'.join(out.families) or '-'}"
        self.stats.containments[key] += 1
        self.blocked_until = self.world.start + (self.day + 1) * DAY


def build_population(
    world: World,
    stats: LegitStats,
    *,
    users: int,
    days: int,
    seed: int,
    ledger: bool = True,
    exports: bool = False,
) -> list[tuple[LegitUser, float | None]]:
    """`users` legitimate users split by role share, each with a first wake time. With
    `exports`, prefecture agents also work from their département's renewal list, approved
    by one administrator."""
    reg = world.registry
    approver = world.add_principal("admin", label="sim export approver") if exports else None
    directory = {p.public_id: p for p in reg.persons}
    declared = world.service.policy.policy.cases.kinds
    kinds = {
        k: w for k, w in OWN_KINDS.items() if k in declared and "prefecture" in declared[k].roles
    }
    rng = random.Random(f"{seed}:population")
    roles = [r for r, p in PROFILES.items() for _ in range(round(users * p.share))]
    roles = (roles + ["police"] * users)[:users]
    stats.days = days
    depts = sorted(reg.sample_by_dept, key=lambda d: -len(reg.sample_by_dept[d]))
    weights = [len(reg.sample_by_dept[d]) for d in depts]
    out = []
    counts: Counter[str] = Counter()
    for i, role in enumerate(roles):
        urng = random.Random(f"{seed}:user:{i}")
        k = counts[role]
        counts[role] += 1
        if role == "police":
            ip = f"10.{(k // 8) // 250}.{(k // 8) % 250}.{k % 8 + 10}"  # stations of 8
            user = LegitUser(world, stats, role, i, urng, days=days, ip=ip, knows=reg.sample)
        elif role == "prefecture":
            dept = rng.choices(depts, weights=weights)[0]
            user = LegitUser(
                world,
                stats,
                role,
                i,
                urng,
                days=days,
                ip=f"172.16.{depts.index(dept)}.{k % 250 + 2}",
                knows=reg.sample_by_dept[dept],
                departement=dept,
                approver=approver,
                directory=directory,
                kinds=kinds,
            )
        elif role == "dealer":
            shop = k // 2 % len(reg.dealers)  # two accounts per shop
            dealer_id, dept = reg.dealers[shop]
            local = [t for t in reg.triples if t.departement == dept]
            user = LegitUser(
                world,
                stats,
                role,
                i,
                urng,
                days=days,
                ip=f"100.{64 + shop // 250}.{shop % 250}.{k % 2 + 2}",
                knows=reg.sample,
                triples=local if len(local) >= 5 else reg.triples,
                dealer=dealer_id,
                ledger=ledger,
            )
        else:
            owner = reg.sample[k % len(reg.sample)]
            user = LegitUser(
                world,
                stats,
                role,
                i,
                urng,
                days=days,
                ip=f"198.18.{k // 250 % 250}.{k % 250 + 2}",
                knows=[owner],
            )
        out.append((user, user.first(world.start)))
    return out
