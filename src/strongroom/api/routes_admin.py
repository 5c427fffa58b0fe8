"""Audit and administration routes: the journal and its proofs, investigations, budgets
and containment. Thin calls into the gate, which checks role, scope and purpose."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from strongroom import endpoints as ep
from strongroom.api.deps import (
    CallerDep,
    IdPath,
    ServiceDep,
    route,
    send,
)

router = APIRouter(tags=["audit and administration"])


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


@route(router, ep.CHECKPOINT, summary="Auditor: the latest signed checkpoint")
def checkpoint(who: CallerDep, svc: ServiceDep, response: Response) -> dict[str, Any]:
    return send(svc.audit.journal_checkpoint(who), response)


@route(router, ep.INCLUSION, summary="Auditor: inclusion proof of entry INDEX")
def inclusion(
    who: CallerDep,
    svc: ServiceDep,
    response: Response,
    index: Annotated[int, Query(ge=0)],
    size: Annotated[int, Query(ge=1)],
) -> dict[str, Any]:
    return send(svc.audit.inclusion_proof(who, index, size), response)


@route(router, ep.CONSISTENCY, summary="Auditor: consistency between two sizes")
def consistency(
    who: CallerDep,
    svc: ServiceDep,
    response: Response,
    first: Annotated[int, Query(ge=1)],
    second: Annotated[int, Query(ge=1)],
) -> dict[str, Any]:
    return send(svc.audit.consistency_proof(who, first, second), response)


@route(router, ep.INVESTIGATE_PRINCIPAL, summary="Auditor: what a principal saw")
def investigate_principal(
    principal_id: IdPath,
    who: CallerDep,
    svc: ServiceDep,
    response: Response,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    return send(
        svc.audit.investigate_principal(who, principal_id, _ts(since), _ts(until)), response
    )


@route(router, ep.INVESTIGATE_SUBJECT, summary="Auditor: who saw this person's data")
def investigate_subject(
    subject_id: IdPath, who: CallerDep, svc: ServiceDep, response: Response
) -> dict[str, Any]:
    return send(svc.audit.investigate_subject(who, subject_id), response)


class BreachBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    principals: list[str] = Field(min_length=1, max_length=1000)
    since: datetime | None = None
    until: datetime | None = None


@route(router, ep.BREACH, summary="Auditor: GDPR Art. 33 breach-scope report")
def breach(body: BreachBody, who: CallerDep, svc: ServiceDep, response: Response) -> dict[str, Any]:
    return send(
        svc.audit.breach_report(who, body.principals, _ts(body.since), _ts(body.until)), response
    )


@route(router, ep.BUDGET_STATE, summary="Admin: a principal's budget state")
def budgets(
    principal_id: Annotated[str, Path(alias="principal")],
    who: CallerDep,
    svc: ServiceDep,
    response: Response,
) -> dict[str, Any]:
    return send(svc.admin.budget_state(who, principal_id), response)


@route(router, ep.CONTAINMENTS, summary="Admin: containments, newest first")
def containments(who: CallerDep, svc: ServiceDep, response: Response) -> dict[str, Any]:
    return send(svc.admin.containments(who), response)


class ReasonBody(BaseModel):
    """An administrative action's reason, journaled with it."""

    model_config = ConfigDict(extra="forbid")
    why: str = Field(min_length=5, max_length=2000)


@route(router, ep.LIFT_CONTAINMENT, summary="Admin: lift a containment")
def lift(
    containment_id: IdPath, body: ReasonBody, who: CallerDep, svc: ServiceDep, response: Response
) -> dict[str, Any]:
    return send(svc.admin.lift_containment(who, containment_id, body.why), response)


class ApproveLiftBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=2000)


@route(
    router,
    ep.APPROVE_LIFT,
    summary="Admin: approve the lift another administrator requested (four eyes)",
)
def approve_lift(
    containment_id: IdPath,
    body: ApproveLiftBody,
    who: CallerDep,
    svc: ServiceDep,
    response: Response,
) -> dict[str, Any]:
    return send(svc.admin.approve_lift(who, containment_id, body.note), response)


@route(router, ep.REVIEWS, summary="Auditor (DPO): break-glass reviews")
def reviews(
    who: CallerDep,
    svc: ServiceDep,
    response: Response,
    status: Annotated[str | None, Query(pattern="^(pending|approved|rejected)$")] = "pending",
) -> dict[str, Any]:
    return send(svc.audit.reviews(who, status), response)


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: str = Field(pattern="^(approved|rejected)$")
    note: str = Field(min_length=5, max_length=2000)


@route(router, ep.DECIDE_REVIEW, summary="Auditor (DPO): decide a review")
def decide(
    review_id: IdPath, body: DecisionBody, who: CallerDep, svc: ServiceDep, response: Response
) -> dict[str, Any]:
    return send(svc.audit.decide_review(who, review_id, body.decision, body.note), response)


@route(
    router,
    ep.REVOKE_PRINCIPAL,
    summary="Admin: suspend a principal and revoke every token it holds",
)
def revoke(
    principal_id: IdPath, body: ReasonBody, who: CallerDep, svc: ServiceDep, response: Response
) -> dict[str, Any]:
    return send(svc.admin.revoke_principal(who, principal_id, body.why), response)


@route(router, ep.ALERTS, summary="SOC: the detectors' alerts, newest first")
def alerts(
    who: CallerDep,
    svc: ServiceDep,
    response: Response,
    hours: Annotated[int, Query(ge=1, le=2160)] = 24,
    family: Annotated[str | None, Query(max_length=64)] = None,
    role: Annotated[str | None, Query(max_length=64)] = None,
    severity: Annotated[int | None, Query(ge=1, le=5)] = None,
    principal: Annotated[str | None, Query(max_length=128)] = None,
) -> dict[str, Any]:
    answer = svc.audit.alerts(
        who, hours=hours, family=family, role=role, severity=severity, principal=principal
    )
    return send(answer, response)


@route(router, ep.ACTIVITY, summary="SOC: records and distinct subjects per hour or day")
def activity(
    who: CallerDep,
    svc: ServiceDep,
    response: Response,
    principal: Annotated[str | None, Query(max_length=128)] = None,
    role: Annotated[str | None, Query(max_length=64)] = None,
    bucket: Annotated[str, Query(pattern="^(hour|day)$")] = "hour",
) -> dict[str, Any]:
    return send(svc.audit.extraction(who, principal=principal, role=role, bucket=bucket), response)


@route(router, ep.PRINCIPALS, summary="Admin: staff principals and their open sessions")
def principals(who: CallerDep, svc: ServiceDep, response: Response) -> dict[str, Any]:
    return send(svc.admin.principals(who), response)


@route(router, ep.END_SESSION, summary="Admin: end one sign-in session")
def end_session(
    session_id: IdPath, body: ReasonBody, who: CallerDep, svc: ServiceDep, response: Response
) -> dict[str, Any]:
    return send(svc.admin.end_session(who, session_id, body.why), response)


@route(router, ep.VERIFICATION, summary="Auditor: the journal's last or running verification")
def verification(who: CallerDep, svc: ServiceDep, response: Response) -> dict[str, Any]:
    return send(svc.audit.verification_status(who), response)


@route(router, ep.VERIFY_JOURNAL, summary="Auditor: start a full verification of the journal")
def verify_journal(who: CallerDep, svc: ServiceDep, response: Response) -> dict[str, Any]:
    return send(svc.audit.start_verification(who), response)
