"""An attack campaign: one or more stolen or rogue accounts working through a stream of
requests at a given pace, until they are contained, give up, or reach the scenario's
horizon or cap.

Whether a step-up stops an attacker depends on what it holds. A stolen password without
the second factor cannot answer one, so a 401 or a 403 `contained` ends the account. An
insider, or a thief holding the session with its TOTP seed (`Spec.second_factor`),
answers the step-up and carries on, and logs in again when its session is suspended: only
the principal's suspension (or its tokens' revocation) ends it, so its records are counted
up to a real suspension or the budgets' hard stop. A 429 makes it wait the Retry-After
and go on: a budget delays a patient extractor, it does not stop one. Twenty refusals of
the request's shape in a row (400, 403) make it give up, as a real tool would change
tactics.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from strongroom.context import Caller
from strongroom.simulate.calls import Call, Outcome
from strongroom.simulate.runner import DAY, Sim
from strongroom.simulate.world import EPOCH

GIVE_UP = 20


@dataclass
class Account:
    campaign: Campaign
    index: int
    caller: Caller
    ips: tuple[str, ...] = ()  # rotated per request when set (proxies)
    requests: int = 0
    records: int = 0
    refusals: int = 0
    blocked_until: float = 0.0
    stop: Outcome | None = None
    stopped_at: float | None = None
    cursor: int = 0  # where the account is in its list
    # What the scenario's strategy reads and keeps: the last call and its answer, calls it
    # has lined up (a colleague's approval, the read after a link), its own notes.
    last_call: Call | None = None
    last: Outcome | None = None
    queue: list[Call] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    logins: int = 0  # logins after a session suspension (holders of the second factor)

    def wake(self, sim: Sim, now: float) -> float | None:
        return self.campaign.act(sim, self, now)


@dataclass
class Spec:
    name: str
    description: str
    next_call: Callable[[Account, random.Random], Call | None]
    gap: Callable[[random.Random], float]
    horizon_days: float
    target: int | None = None  # records leaked at most (None: no target, report only)
    target_note: str = "records leaked before containment or the horizon"
    cap_records: int | None = None
    cap_requests: int = 20_000
    hours: tuple[float, float] | None = None  # local working hours; None: day and night
    give_up: int = GIVE_UP
    # The attacker holds the second factor (an insider, a session stolen with its TOTP
    # seed): it answers step-ups and logs in again after a session suspension.
    second_factor: bool = False
    # The target also requires every account contained (not only few records).
    must_contain: bool = False


@dataclass
class Campaign:
    spec: Spec
    start: float
    rng: random.Random
    accounts: list[Account] = field(default_factory=list)
    requests: int = 0
    records: int = 0
    # Records by simulated day (days since EPOCH, local midnight): targets speak of a day.
    records_by_day: Counter[int] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    budgets: Counter[str] = field(default_factory=Counter)
    containments: Counter[str] = field(default_factory=Counter)
    ended_by: str | None = None
    ended_at: float | None = None
    first_budget_at: float | None = None
    step_ups: int = 0  # step-ups answered with the second factor
    canary_records: int | None = None  # records leaked when a canary was first asked for
    canary_answered: bool = False  # whether that first canary read itself was answered
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, caller: Caller, ips: tuple[str, ...] = ()) -> Account:
        acct = Account(self, len(self.accounts), caller, ips)
        self.accounts.append(acct)
        return acct

    @property
    def end(self) -> float:
        return self.start + self.spec.horizon_days * DAY

    def _finish(self, why: str, now: float) -> None:
        if self.ended_by is None:
            self.ended_by, self.ended_at = why, now

    def _next_slot(self, now: float) -> float:
        """The next instant inside the working hours (local time: simulated days start
        at local midnight, `EPOCH`)."""
        hours = self.spec.hours
        if hours is None:
            return now
        midnight = now - (now - EPOCH) % DAY
        lo, hi = hours[0] * 3600, hours[1] * 3600
        if now - midnight < lo:
            return midnight + lo
        if now - midnight >= hi:
            return midnight + DAY + lo
        return now

    def act(self, sim: Sim, acct: Account, now: float) -> float | None:
        if self.ended_by is not None or acct.stop is not None:
            return None
        if now >= self.end:
            self._finish("horizon", now)
            return None
        slot = max(self._next_slot(now), acct.blocked_until)
        if slot > now:
            return slot
        call = self.spec.next_call(acct, self.rng)
        if call is None:
            self._finish("list_exhausted", now)
            return None
        caller = acct.caller
        if acct.ips:
            caller = replace(caller, ip=acct.ips[acct.requests % len(acct.ips)])
        if call.task == "ledger":
            caller = replace(caller, purpose="ledger_keeping")
        out = self._send(sim, acct, caller, call, now)
        acct.last_call, acct.last = call, out
        if call.args.get("_canary") and self.canary_records is None:
            # Met at the link to the insider's case (honey detection) or at the read.
            self.canary_records = self.records
            self.canary_answered = out.status == 200
        if out.status == 200:
            acct.records += out.records
            self.records += out.records
            self.records_by_day[int((now - EPOCH) // DAY)] += out.records
            acct.refusals = 0
        elif out.throttled:
            self.budgets[out.budget or "?"] += 1
            self.first_budget_at = self.first_budget_at or now
            acct.blocked_until = now + out.retry_after + self.rng.uniform(0, 5)
        elif out.contained or out.step_up:
            acct.stop, acct.stopped_at = out, now
            self.containments[f"{out.action or out.reason}:{'+'.join(out.families) or '-'}"] += 1
            if all(a.stop is not None for a in self.accounts):
                self._finish("contained", now)
            return None
        elif out.status in (400, 403):
            acct.refusals += 1
            if self.spec.give_up and acct.refusals >= self.spec.give_up:
                acct.stop, acct.stopped_at = out, now
                if all(a.stop is not None for a in self.accounts):
                    self._finish("gave_up", now)
                return None
        spec = self.spec
        if spec.cap_records is not None and self.records >= spec.cap_records:
            self._finish("cap_records", now)
            return None
        if self.requests >= spec.cap_requests:
            self._finish("cap_requests", now)
            return None
        return now + spec.gap(self.rng)

    def _send(self, sim: Sim, acct: Account, caller: Caller, call: Call, now: float) -> Outcome:
        """One request, and for a holder of the second factor the retries a person at the
        keyboard makes: a step-up answered, a new login after a session suspension. Each
        is a request of its own."""
        out = self._request(sim, acct, caller, call)
        if not self.spec.second_factor:
            return out
        if out.step_up:
            self.step_ups += 1
            acct.caller = replace(acct.caller, auth_time=now)
            out = self._request(sim, acct, replace(caller, auth_time=now), call)
        if out.contained and out.action == "suspend_session":
            acct.logins += 1
            session = f"{acct.caller.session_id}+{acct.logins}"
            acct.caller = replace(acct.caller, session_id=session, auth_time=now)
            out = self._request(sim, acct, replace(caller, session_id=session, auth_time=now), call)
        return out

    def _request(self, sim: Sim, acct: Account, caller: Caller, call: Call) -> Outcome:
        out = sim.request(caller, call)
        acct.requests += 1
        self.requests += 1
        self.statuses[f"{out.status} {out.reason}".strip() if out.status != 200 else "200"] += 1
        return out

    # --- the report ----------------------------------------------------------------------
    def result(self) -> dict[str, Any]:
        spec = self.spec
        contained = self.ended_by == "contained"
        stops = [
            a.stopped_at
            for a in self.accounts
            if a.stopped_at is not None
            and a.stop is not None
            and (a.stop.contained or a.stop.step_up)
        ]
        out: dict[str, Any] = {
            "scenario": spec.name,
            "description": spec.description,
            "accounts": len(self.accounts),
            "requests": self.requests,
            "records_leaked": self.records,
            "records_in_busiest_day": max(self.records_by_day.values(), default=0),
            "contained": contained,
            "records_before_containment": self.records if contained else None,
            "time_to_containment_s": round(max(stops) - self.start, 1)
            if contained and stops
            else None,
            "first_containment_s": round(min(stops) - self.start, 1) if stops else None,
            "accounts_contained": len(stops),
            "stopped_by": self._layer(),
            "ended_by": self.ended_by or "horizon",
            "simulated_seconds": round((self.ended_at or self.end) - self.start, 1),
            "budgets_hit": dict(self.budgets.most_common()),
            "containments": dict(self.containments.most_common()),
            "statuses": dict(sorted(self.statuses.items())),
            "target": {
                "records": spec.target,
                "note": spec.target_note,
                "met": None
                if spec.target is None
                else self.records <= spec.target and (contained or not spec.must_contain),
            },
        }
        if spec.second_factor:
            out["second_factor"] = {
                "step_ups_answered": self.step_ups,
                "logins_after_session_suspension": sum(a.logins for a in self.accounts),
            }
        if self.canary_records is not None or "canary" in spec.name:
            after = (
                None
                if self.canary_records is None
                else max(0, self.records - self.canary_records - self.canary_answered)
            )
            out["canary"] = {
                "records_before_first_canary": self.canary_records,
                "records_after_first_canary": after,
            }
        if len(self.accounts) > 1:
            out["by_account"] = [
                {
                    "records": a.records,
                    "stopped_after_s": None
                    if a.stopped_at is None
                    else round(a.stopped_at - self.start, 1),
                    "stopped_by": None if a.stop is None else a.stop.action or a.stop.reason,
                }
                for a in self.accounts
            ]
        out.update(self.extra)
        return out

    def _layer(self) -> dict[str, Any]:
        if self.containments:
            key, _ = self.containments.most_common(1)[0]
            action, _, families = key.partition(":")
            layer = {
                "layer": "containment",
                "action": action,
                "families": [] if families == "-" else families.split("+"),
            }
            if self.budgets:
                layer["budgets_before"] = [b for b, _ in self.budgets.most_common(3)]
            return layer
        if self.budgets:
            return {"layer": "budget", "name": self.budgets.most_common(1)[0][0]}
        if self.ended_by == "gave_up":
            reasons = [a.stop.reason for a in self.accounts if a.stop is not None]
            return {"layer": "policy", "name": Counter(reasons).most_common(1)[0][0]}
        return {"layer": "none"}
