"""Audit and administration routes: the journal and its proofs, investigations, budgets
and containment. Thin calls into the gate, which checks role, scope and purpose."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from strongroom.api.deps import caller, service, strict_query
from strongroom.api.routes_registry import _send
from strongroom.context import Caller

router = APIRouter(
    prefix="/v1", tags=["audit and administration"], dependencies=[Depends(strict_query)]
)

CallerDep = Annotated[Caller, Depends(caller)]
ServiceDep = Annotated[Any, Depends(service)]


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


@router.get("/journal/checkpoint", summary="Auditor: the latest signed checkpoint")
def checkpoint(who: CallerDep, svc: ServiceDep, response: Response) -> dict[str, Any]:
    return _send(svc.gate.journal_checkpoint(who), response)


@router.get("/journal/proof/inclusion", summary="Auditor: inclusion proof of entry INDEX")
def inclusion(
    who: CallerDep,
    svc: ServiceDep,
    response: Response,
    index: Annotated[int, Query(ge=0)],
    size: Annotated[int, Query(ge=1)],
) -> dict[str, Any]:
    return _send(svc.gate.inclusion_proof(who, index, size), response)


@router.get("/journal/proof/consistency", summary="Auditor: consistency between two sizes")
def consistency(
    who: CallerDep,
    svc: ServiceDep,
    response: Response,
    first: Annotated[int, Query(ge=1)],
    second: Annotated[int, Query(ge=1)],
) -> dict[str, Any]:
    return _send(svc.gate.consistency_proof(who, first, second), response)


@router.get("/investigations/principals/{principal_id}", summary="Auditor: what a principal saw")
def investigate_principal(
    principal_id: str,
    who: CallerDep,
    svc: ServiceDep,
    response: Response,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    return _send(
        svc.gate.investigate_principal(who, principal_id, _ts(since), _ts(until)), response
    )


@router.get("/investigations/subjects/{subject_id}", summary="Auditor: who saw this person's data")
def investigate_subject(
    subject_id: str, who: CallerDep, svc: ServiceDep, response: Response
) -> dict[str, Any]:
    return _send(svc.gate.investigate_subject(who, subject_id), response)


class BreachBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    principals: list[str] = Field(min_length=1, max_length=1000)
    since: datetime | None = None
    until: datetime | None = None


@router.post("/investigations/breach", summary="Auditor: GDPR Art. 33 breach-scope report")
def breach(body: BreachBody, who: CallerDep, svc: ServiceDep, response: Response) -> dict[str, Any]:
    return _send(
        svc.gate.breach_report(who, body.principals, _ts(body.since), _ts(body.until)), response
    )


@router.get("/budgets/{principal_id}", summary="Admin: a principal's budget state")
def budgets(
    principal_id: str, who: CallerDep, svc: ServiceDep, response: Response
) -> dict[str, Any]:
    return _send(svc.gate.budget_state(who, principal_id), response)


@router.get("/containments", summary="Admin: active containments")
def containments(who: CallerDep, svc: ServiceDep, response: Response) -> dict[str, Any]:
    return _send(svc.gate.containments(who), response)


class LiftBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    why: str = Field(min_length=5, max_length=2000)


@router.post("/containments/{containment_id}/lift", summary="Admin: lift a containment")
def lift(
    containment_id: str, body: LiftBody, who: CallerDep, svc: ServiceDep, response: Response
) -> dict[str, Any]:
    return _send(svc.gate.lift_containment(who, containment_id, body.why), response)


@router.get("/reviews", summary="Auditor (DPO): break-glass reviews")
def reviews(
    who: CallerDep,
    svc: ServiceDep,
    response: Response,
    status: Annotated[str | None, Query(pattern="^(pending|approved|rejected)$")] = "pending",
) -> dict[str, Any]:
    return _send(svc.gate.reviews(who, status), response)


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: str = Field(pattern="^(approved|rejected)$")
    note: str = Field(min_length=5, max_length=2000)


@router.post("/reviews/{review_id}/decision", summary="Auditor (DPO): decide a review")
def decide(
    review_id: str, body: DecisionBody, who: CallerDep, svc: ServiceDep, response: Response
) -> dict[str, Any]:
    return _send(svc.gate.decide_review(who, review_id, body.decision, body.note), response)


class RevokeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    why: str = Field(min_length=5, max_length=2000)


@router.post(
    "/principals/{principal_id}/revoke",
    summary="Admin: suspend a principal and revoke every token it holds",
)
def revoke(
    principal_id: str, body: RevokeBody, who: CallerDep, svc: ServiceDep, response: Response
) -> dict[str, Any]:
    return _send(svc.gate.revoke_principal(who, principal_id, body.why), response)
