"""One simulated request: which gate task, with what, and what came back.

`perform` calls the real gate in process and turns its answer or its typed refusal into
an `Outcome`: the HTTP status the API would send, the refusal's reason, the budget that
refused (429) or the containment that applies (403 contained, 401 step-up), and how many
records the answer carried.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from typing import Any

from strongroom.context import Caller
from strongroom.detect.containment import BLOCKING
from strongroom.errors import StrongroomError, TooManyRequests, Unauthorized


@dataclass(frozen=True, slots=True)
class Call:
    """`task` is one of: me, person, weapon, search, verify, ledger, and the case steps
    case_open (`kind`), link (`case`, `id`), approve (`case`, `id`: a second agent's four
    eyes). A `person` call with `link` first links the subject to the caller's own case
    (an insider's way around need to know: it meets the link budgets, four eyes and the
    honey records); with `case`, it reads through that case (the token names it)."""

    task: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Outcome:
    status: int
    reason: str = ""
    records: int = 0
    budget: str | None = None
    retry_after: float = 0.0
    action: str | None = None  # the containment's ladder action (contained, step-up)
    families: tuple[str, ...] = ()
    case: str | None = None  # the case a case_open opened
    link_status: str | None = None  # a link's: active, or pending (four eyes)

    @property
    def throttled(self) -> bool:
        return self.status == 429

    @property
    def step_up(self) -> bool:
        return self.status == 401 and self.reason == "insufficient_user_authentication"

    @property
    def contained(self) -> bool:
        """Locked out: suspended (403 contained) or inactive/revoked (401)."""
        return (self.status == 403 and self.reason == "contained") or (
            self.status == 401 and not self.step_up
        )


CASE_STEPS = frozenset({"case_open", "link", "approve"})
LINK_REASON = "named in the case file"


def records_in(task: str, body: dict[str, Any]) -> int:
    if task in CASE_STEPS:
        return 0  # a case step discloses nothing of anyone
    if task in ("search", "ledger"):
        return len(body.get("items") or [])
    if task == "verify":
        # An unmatched check answers nothing about anyone ("banned" stays null).
        return 0 if body.get("banned") is None else 1
    return 1


def perform(world: Any, caller: Caller, call: Call) -> Outcome:
    gate, cases, a = world.service.registry_tasks, world.service.cases, call.args
    managing = replace(caller, purpose="case_management")
    try:
        if call.task == "case_open":
            opened = cases.open(managing, kind=a["kind"], reference=a.get("reference", "REF-0001"))
            return Outcome(200, case=str(opened.body["id"]))
        if call.task == "link":
            linked = cases.link(managing, a["case"], a["id"], a.get("reason", LINK_REASON))
            return Outcome(200, link_status=str(linked.body["status"]))
        if call.task == "approve":
            cases.approve_link(managing, a["case"], a["id"])
            return Outcome(200, link_status="active")
        if call.task == "person" and a.get("case"):
            caller = replace(caller, case=a["case"])
        if call.task == "search":
            answer = gate.search_persons(caller, a["query"])
        elif call.task == "person":
            if a.get("link") and caller.case:
                link_first(world, caller, a["id"])
            answer = gate.person(caller, a["id"])
        elif call.task == "weapon":
            answer = gate.weapon(caller, a["serial"])
        elif call.task == "verify":
            answer = gate.verify_permit(
                caller, a["permit_number"], a["family_name"], a["birth_date"]
            )
        elif call.task == "ledger":
            answer = gate.ledger(caller, cursor=a.get("cursor"))
        elif call.task == "me":
            answer = gate.me(caller)
        else:
            raise ValueError(f"unknown simulated task {call.task!r}")
    except TooManyRequests as exc:
        return Outcome(
            429,
            exc.reason or "budget_exhausted",
            budget=str(exc.extra.get("budget") or ""),
            retry_after=float(exc.extra.get("retry_after") or 1),
        )
    except StrongroomError as exc:
        out = Outcome(exc.status, exc.reason or exc.slug)
        if (exc.status == 403 and out.reason == "contained") or (
            isinstance(exc, Unauthorized) and out.step_up
        ):
            c = contained_by(world.service.detector, caller)
            if c is not None:
                out.action, out.families = c.action, tuple(c.families)
        return out
    return Outcome(200, records=records_in(call.task, answer.body))


def link_first(world: Any, caller: Caller, subject: str) -> None:
    """Link the subject to the caller's case; a refused or waiting link is for the read
    that follows to find out."""
    with contextlib.suppress(StrongroomError):
        world.service.cases.link(
            replace(caller, purpose="case_management"), caller.case, subject, "added to my case"
        )


def contained_by(detector: Any, caller: Caller) -> Any:
    """The containment that refused this caller: the principal's or the session's own
    (the more severe of the two, a step-up its last authentication satisfies left out)
    before a block of its whole network, so the report names what judged the account."""
    index = getattr(detector, "index", None)
    now = detector.clock.now()
    best = None
    for table, key in (
        (getattr(index, "by_principal", {}), caller.principal_id),
        (getattr(index, "by_session", {}), caller.session_id),
    ):
        c = table.get(key) if key else None
        if c is None or not c.active(now):
            continue
        if c.action == "step_up" and (caller.auth_time or 0) >= c.created_at:
            continue
        if best is None or BLOCKING.get(c.action, 0) > BLOCKING.get(best.action, 0):
            best = c
    if best is not None:
        return best
    return detector.check(
        caller.principal_id, caller.session_id, caller.ip, auth_time=caller.auth_time
    )
