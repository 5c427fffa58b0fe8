"""The gate: the one path every read or write of registry data takes.

For each request, in this order: containment check → purpose and scope (policy) → input
specificity → budget reservation (worst case) → registry query (minimal columns) → vault
decrypt (revealed fields only) → masking → journal append (durable) → budget settlement →
detector update (may contain the principal) → answer. A request that cannot be journaled
is not answered. Refusals are journaled too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from strongroom.clock import Clock
from strongroom.context import Caller
from strongroom.errors import Forbidden, StrongroomError, Unauthorized, Unavailable
from strongroom.events import AccessEvent, Outcome
from strongroom.gate.ports import (
    BudgetsPort,
    DetectorPort,
    FieldView,
    JournalPort,
    PolicyPort,
    VaultPort,
)
from strongroom.registry.repository import Registry

log = logging.getLogger("strongroom.gate")


@dataclass
class Disclosure:
    """What a task hands back to the pipeline: the body, and what it disclosed."""

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
    """What the pipeline knows about the request before running it."""

    caller: Caller
    endpoint: str
    purpose: str
    view: FieldView
    page_size: int
    detail: dict[str, Any] = field(default_factory=dict)


class GateCore:
    def __init__(
        self,
        *,
        registry: Registry,
        vault: VaultPort,
        policy: PolicyPort,
        budgets: BudgetsPort,
        journal: JournalPort,
        detector: DetectorPort,
        clock: Clock,
        is_canary: Callable[[str], bool] | None = None,
        budget_keys: Callable[[Caller, str], Any],
        revoke_tokens: Callable[[str], None] | None = None,
    ) -> None:
        self.registry = registry
        self.vault = vault
        self.policy = policy
        self.budgets = budgets
        self.journal = journal
        self.detector = detector
        self.clock = clock
        self.is_canary = is_canary
        self._budget_keys = budget_keys
        self.revoke_tokens = revoke_tokens

    # --- the pipeline --------------------------------------------------------------------
    def _serve(
        self,
        caller: Caller,
        endpoint: str,
        work: Callable[[Task], Disclosure],
        *,
        given: dict[str, object] | None = None,
        expected_records: int | None = None,
        discloses: frozenset[str] | None = None,
    ) -> Answer:
        """Run `work` through the pipeline. `discloses` names the only fields the task can
        put in its answer (default: everything the purpose's view shows); the worst-case
        budget reservation is priced on those."""
        purpose: str | None = caller.purpose
        detail: dict[str, Any] = {}
        reservation = None
        try:
            self._check_containment(caller)
            purpose = self.policy.check_purpose(caller, endpoint)
            if given is not None:
                self.policy.check_search(endpoint, given)
            view = self.policy.view(caller.role, purpose)
            page = self.policy.page_size(endpoint)
            worst = page if expected_records is None else min(page, expected_records)
            weight = self._unit_cost(
                view.visible if discloses is None else view.visible & discloses
            )
            factor = self.detector.throttle_factor(caller.principal_id)
            scale = 1 if factor >= 1 else max(1, round(1 / max(factor, 1e-3)))
            reservation = self.budgets.reserve(
                self._budget_keys(caller, endpoint),
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
            self._break_glass(task)
            result = work(task)
        except StrongroomError as exc:
            if reservation is not None:
                self.budgets.settle(reservation, 0, ())
            self._record(
                caller,
                endpoint,
                purpose,
                "refused" if not isinstance(exc, Unavailable) else "error",
                reason=exc.reason or exc.slug,
                detail=detail,
            )
            raise
        event = self._event(
            caller,
            endpoint,
            purpose,
            result.outcome,
            subjects=result.subjects,
            fields=result.fields,
            records=result.records,
            detail={**detail, **result.detail},
        )
        self._append(event)
        headers: dict[str, str] = {}
        if reservation is not None:
            cost = result.cost or result.records * self._unit_cost(result.fields)
            self.budgets.settle(reservation, cost * scale, result.subjects)
            headers = self.budgets.headers(reservation)
        self._observe(event)
        return Answer(body=result.body, headers=headers)

    def _break_glass(self, task: Task) -> None:
        """Hook for purposes that widen access for a time (see gate/reviews.py)."""

    def _unit_cost(self, fields: set[str] | frozenset[str]) -> int:
        """Budget units one record costs: its disclosure weight (policy) in tens, at least
        one. A yes/no verification costs 1; a full identity + address + weapons record, 7
        or more."""
        return max(1, -(-self.policy.weight(fields) // 10))

    def _check_containment(self, caller: Caller) -> None:
        contained = self.detector.check(
            caller.principal_id, caller.session_id, caller.ip, auth_time=caller.auth_time
        )
        if contained is None:
            return
        action = getattr(contained, "action", "suspend_principal")
        if action == "step_up":
            raise Unauthorized(
                "this account must re-authenticate with a second factor",
                reason="insufficient_user_authentication",
                headers={"WWW-Authenticate": 'Bearer error="insufficient_user_authentication"'},
            )
        raise Forbidden(
            "access is suspended pending review by an administrator", reason="contained"
        )

    def _event(
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
        kind: str = "access",
    ) -> AccessEvent:
        return AccessEvent(
            ts=self.clock.now(),
            kind=kind,  # type: ignore[arg-type]
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
        )

    def _append(self, event: AccessEvent) -> int:
        try:
            return self.journal.append(event.to_entry())
        except StrongroomError:
            raise
        except Exception as exc:  # noqa: BLE001 - no journal, no data, whatever the cause
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
    ) -> None:
        event = self._event(caller, endpoint, purpose, outcome, reason=reason, detail=detail)
        self._append(event)
        self._observe(event)

    def _observe(self, event: AccessEvent) -> None:
        if event.detail.get("own_records"):
            event = replace(event, subjects=(), records=0)
        for action in self.detector.observe(event):
            record = getattr(action, "to_entry", None)
            if callable(record):
                self.journal.append(record())

    def record_admin(
        self, caller: Caller, endpoint: str, *, reason: str, detail: dict[str, Any] | None = None
    ) -> int:
        """Journal an administrative action (containment lifted, principal revoked, ...)."""
        return self._append(
            self._event(
                caller,
                endpoint,
                caller.purpose,
                "allowed",
                reason=reason,
                detail=detail,
                kind="admin",
            )
        )

    def administer(
        self,
        caller: Caller,
        endpoint: str,
        fn: Callable[[Task], dict[str, Any]],
        *,
        detail: dict[str, Any] | None = None,
    ) -> Answer:
        """Run an audit or administration task `fn` under the endpoint's policy. Its body
        holds no registry field, so it discloses no record."""

        def work(t: Task) -> Disclosure:
            body = fn(t)
            return Disclosure(body=body, detail=dict(detail or {}))

        return self._serve(caller, endpoint, work, expected_records=0)

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
        event = self._event(
            who, endpoint, who.purpose, "refused", reason=reason, detail=detail, kind="security"
        )
        self._append(event)

    def bind_principal(self, caller: Caller) -> Caller:
        """Staff callers are checked against the principals table on every request: a
        suspended or deleted account is refused even with a live token, and its
        département and dealer come from the registry, not from the token."""
        if caller.role == "owner":
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
