"""The pipeline: the one path every read or write of registry data takes.

For each request, in this order: containment check → purpose and scope (policy) → input
specificity → budget reservation (worst case) → the use case's work (registry query with
minimal columns, vault decrypt of revealed fields only, masking) → journal append
(durable) → budget settlement → detector update (may contain the principal) → answer. A
request that cannot be journaled is not answered. Refusals are journaled too, without
waiting for their own commit (they disclose nothing, and a flood of them must not cost an
fsync each: the journal queues them, bounded, and tallies any excess exactly); whatever
ends a request early, the reservation is settled at what was actually disclosed (nothing).

Use cases (registry tasks, audit, administration, exports) hold a pipeline and hand it a
`work` function per request; none of them touches the journal, the budgets or the
detectors directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from strongroom.auth import acr
from strongroom.budgets import BudgetKeys, Reservation
from strongroom.clock import Clock
from strongroom.context import REQUEST_ID, Caller
from strongroom.endpoints import Endpoint
from strongroom.errors import Forbidden, InternalError, StrongroomError, Unauthorized, Unavailable
from strongroom.events import AccessEvent, Kind, Outcome
from strongroom.gate.ports import (
    BreakGlassPort,
    BudgetsPort,
    DetectorPort,
    FieldView,
    JournalPort,
    PolicyPort,
)
from strongroom.registry.repository import Registry

log = logging.getLogger("strongroom.gate")

# The scope of those who lift containments: network blocks spare them (with a passkey).
CONTAINMENT_MANAGER = "containment:manage"


@dataclass
class Disclosure:
    """What a task hands back to the pipeline: the body, and what it disclosed. `cost`
    overrides the budget units charged (default: records times the fields' unit cost)."""

    body: dict[str, Any]
    subjects: list[str] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)
    records: int = 0
    cost: int = 0
    detail: dict[str, Any] = field(default_factory=dict)
    outcome: Outcome = "allowed"


@dataclass
class Answer:
    body: dict[str, Any]
    headers: dict[str, str]
    status: int = 200


@dataclass
class Task:
    """What the pipeline knows about the request before running it. `detail` collects the
    non-PII facts the journal and the detectors get, refused or not."""

    caller: Caller
    endpoint: Endpoint
    purpose: str
    view: FieldView
    page_size: int
    detail: dict[str, Any] = field(default_factory=dict)


Work = Callable[[Task], Disclosure]


class Pipeline:
    def __init__(
        self,
        *,
        registry: Registry,
        policy: PolicyPort,
        budgets: BudgetsPort,
        journal: JournalPort,
        detector: DetectorPort,
        clock: Clock,
        break_glass: BreakGlassPort | None = None,
    ) -> None:
        self.registry = registry
        self.policy = policy
        self.budgets = budgets
        self.journal = journal
        self.detector = detector
        self.clock = clock
        self.break_glass = break_glass

    # --- the pipeline --------------------------------------------------------------------
    def serve(
        self,
        caller: Caller,
        endpoint: Endpoint,
        work: Work,
        *,
        given: Mapping[str, object] | None = None,
        expected_records: int | None = None,
        discloses: frozenset[str] | None = None,
        sort_key: float | None = None,
    ) -> Answer:
        """Run `work` through the pipeline. `discloses` names the only fields the task can
        put in its answer (default: everything the purpose's view shows); the worst-case
        budget reservation is priced on those. `sort_key` (gate/sort_keys.py) goes to the
        detectors with the event, refused or not: a sweep refused halfway is still one."""
        purpose: str | None = caller.purpose
        detail: dict[str, Any] = {}
        reservation: Reservation | None = None
        scale = 1
        try:
            self._check_containment(caller, endpoint)
            purpose = self.policy.check_purpose(caller, endpoint.id)
            if given is not None:
                self.policy.check_search(endpoint.id, given)
            view = self.policy.view(caller.role, purpose)
            page = self.policy.page_size(endpoint.id)
            worst = page if expected_records is None else min(page, expected_records)
            weight = self.unit_cost(view.visible if discloses is None else view.visible & discloses)
            factor = self.detector.throttle_factor(caller.principal_id)
            scale = 1 if factor >= 1 else max(1, round(1 / max(factor, 1e-3)))
            reservation = self.budgets.reserve(
                BudgetKeys.of(caller, endpoint.id),
                requests=scale,
                records=worst * weight * scale,
                subjects=worst,
            )
            task = Task(
                caller=caller,
                endpoint=endpoint,
                purpose=purpose,
                view=view,
                page_size=page,
                detail=detail,
            )
            if self.break_glass is not None and self.policy.purpose(purpose).break_glass:
                self.break_glass.enter(task)
            result = work(task)
        except StrongroomError as exc:
            self._abandon(reservation)
            outcome: Outcome = "error" if isinstance(exc, Unavailable) else "refused"
            self._record(
                caller,
                endpoint.id,
                purpose,
                outcome,
                reason=exc.reason or exc.slug,
                detail=detail,
                sort_key=sort_key,
            )
            raise
        except Exception as exc:
            # A defect, not a refusal: nothing leaves, the budget is settled, the journal
            # says so, and the client gets a problem without a trace.
            log.error("task %s failed: %s", endpoint.id, type(exc).__name__)
            self._abandon(reservation)
            self._record(
                caller,
                endpoint.id,
                purpose,
                "error",
                reason="internal_error",
                detail=detail,
                sort_key=sort_key,
            )
            raise InternalError("the request could not be completed") from exc
        event = self.event(
            caller,
            endpoint.id,
            purpose,
            result.outcome,
            subjects=result.subjects,
            fields=result.fields,
            records=result.records,
            detail={**detail, **result.detail},
            sort_key=sort_key,
        )
        self.append(event)
        headers: dict[str, str] = {}
        if reservation is not None:
            cost = result.cost or result.records * self.unit_cost(result.fields)
            self.budgets.settle(reservation, cost * scale, result.subjects)
            headers = self.budgets.headers(reservation)
        self.observe(event)
        return Answer(body=result.body, headers=headers)

    def administer(
        self,
        caller: Caller,
        endpoint: Endpoint,
        fn: Callable[[Task], dict[str, Any]],
        *,
        detail: dict[str, Any] | None = None,
    ) -> Answer:
        """Run an audit or administration task `fn` under the endpoint's policy. Its body
        holds no registry field, so it discloses no record."""

        def work(t: Task) -> Disclosure:
            return Disclosure(body=fn(t), detail=dict(detail or {}))

        return self.serve(caller, endpoint, work, expected_records=0)

    def unit_cost(self, fields: set[str] | frozenset[str]) -> int:
        """Budget units one record costs: its disclosure weight (policy) in tens, at least
        one. A yes/no verification costs 1; a full identity + address + weapons record, 7
        or more."""
        return max(1, -(-self.policy.weight(fields) // 10))

    def _abandon(self, reservation: Reservation | None) -> None:
        if reservation is not None:
            self.budgets.settle(reservation, 0, ())

    def _check_containment(self, caller: Caller, endpoint: Endpoint) -> None:
        contained = self.detector.check(
            caller.principal_id, caller.session_id, caller.ip, auth_time=caller.auth_time
        )
        if contained is not None and contained.scope == "ip_prefix" and self._spared(caller):
            # A network block is aimed at whoever else shares the network; the one who
            # can lift it must still reach the lift (issue 22: the whole office, its
            # administrator included, was shut out for an hour). Only with a passkey: a
            # phished password and code do not pass. What is aimed at the administrator
            # himself, his principal or his session, still applies.
            self.append(
                self.event(
                    caller,
                    endpoint.id,
                    caller.purpose,
                    "allowed",
                    reason="containment_spared",
                    detail={
                        "containment": contained.id,
                        "ip_prefix": contained.ip_prefix,
                        "acr": caller.acr,
                    },
                    kind="security",
                )
            )
            contained = self.detector.check(
                caller.principal_id, caller.session_id, None, auth_time=caller.auth_time
            )
        if contained is None:
            return
        if contained.action == "step_up":
            raise Unauthorized(
                "this account must re-authenticate with a second factor",
                reason="insufficient_user_authentication",
                headers={"WWW-Authenticate": 'Bearer error="insufficient_user_authentication"'},
            )
        raise Forbidden(
            "access is suspended pending review by an administrator", reason="contained"
        )

    def _spared(self, caller: Caller) -> bool:
        """Whether network blocks spare this caller: a role that manages containments
        (the policy's `containment:manage` scope), signed in with a passkey."""
        return (
            acr.satisfies(caller.acr, acr.ACR_PHR)
            and CONTAINMENT_MANAGER in self.policy.role(caller.role).scopes
        )

    # --- the journal and the detectors ---------------------------------------------------
    def event(
        self,
        caller: Caller,
        endpoint: str,
        purpose: str | None,
        outcome: Outcome,
        *,
        subjects: list[str] | tuple[str, ...] = (),
        fields: set[str] | None = None,
        records: int = 0,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
        kind: Kind = "access",
        sort_key: float | None = None,
    ) -> AccessEvent:
        request_id = REQUEST_ID.get()
        if request_id is not None:
            detail = {**detail, "request_id": request_id} if detail else {"request_id": request_id}
        return AccessEvent(
            ts=self.clock.now(),
            kind=kind,
            principal=caller.principal_id,
            role=caller.role,
            endpoint=endpoint,
            outcome=outcome,
            session=caller.session_id,
            client=caller.client_id,
            ip=caller.ip,
            user_agent=caller.user_agent,
            purpose=purpose,
            justification=caller.justification,
            case=caller.case,
            subjects=tuple(subjects),
            fields=tuple(sorted(fields or ())),
            records=records,
            reason=reason,
            detail=detail or {},
            sort_key=sort_key,
        )

    def append(self, event: AccessEvent) -> int:
        try:
            return self.journal.append(event.to_entry())
        except StrongroomError:
            raise
        except Exception as exc:  # noqa: BLE001 - no journal, no data, whatever the cause
            log.error("journal append failed: %s", type(exc).__name__)
            raise Unavailable("the access journal cannot record this request") from exc

    def append_refusal(self, event: AccessEvent) -> None:
        """Journal an event that disclosed nothing, without waiting for its commit."""
        try:
            self.journal.append_unwaited(event.to_entry())
        except StrongroomError:
            raise
        except Exception as exc:  # noqa: BLE001 - a refusal stays a refusal
            log.error("journal append failed: %s", type(exc).__name__)
            raise Unavailable("the access journal cannot record this request") from exc

    def _record(
        self,
        caller: Caller,
        endpoint: str,
        purpose: str | None,
        outcome: Outcome,
        *,
        reason: str,
        detail: dict[str, Any] | None = None,
        sort_key: float | None = None,
    ) -> None:
        event = self.event(
            caller, endpoint, purpose, outcome, reason=reason, detail=detail, sort_key=sort_key
        )
        if outcome == "refused":
            self.append_refusal(event)
        else:
            self.append(event)
        self.observe(event)

    def observe(self, event: AccessEvent) -> None:
        for action in self.detector.observe(event):
            self.journal.append(action.to_entry())

    def record_admin(
        self, caller: Caller, action: str, *, reason: str, detail: dict[str, Any] | None = None
    ) -> int:
        """Journal an administrative action (a principal added, credentials set, ...)."""
        return self.append(
            self.event(
                caller,
                action,
                caller.purpose,
                "allowed",
                reason=reason,
                detail=detail,
                kind="admin",
            )
        )

    def record_refusal(self, caller: Caller, endpoint: str, exc: StrongroomError) -> None:
        """Journal a request refused before its task ran (malformed input)."""
        self._record(caller, endpoint, caller.purpose, "refused", reason=exc.reason or exc.slug)

    def record_security(
        self,
        caller: Caller | None,
        endpoint: str,
        *,
        reason: str,
        ip: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Journal a security event: a failed authentication, a token reuse, ..."""
        who = caller or Caller(principal_id="anonymous", role="anonymous", ip=ip)
        self.append_refusal(
            self.event(
                who,
                endpoint,
                who.purpose,
                "refused",
                reason=reason,
                detail=detail,
                kind="security",
            )
        )

    # --- who is calling ------------------------------------------------------------------
    def bind_principal(self, caller: Caller) -> Caller:
        """Staff callers are checked against the principals table on every request: a
        suspended or deleted account is refused even with a live token, and its
        département and dealer come from the registry, not from the token."""
        if self.policy.self_service(caller.role):
            return caller
        with self.registry.session() as s:
            row = self.registry.principal(s, caller.principal_id)
        if row is None or row.status != "active" or row.role != caller.role:
            self.record_security(caller, "authenticate", reason="principal_inactive")
            raise Unauthorized(
                "this account is not active",
                reason="principal_inactive",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return replace(caller, departement=row.departement, dealer_id=row.dealer_public_id)
