"""Case routes: a unit's agents open cases, link subjects with a reason, approve or reject
a colleague's link that waits for four eyes (their unit's queue), and close cases;
auditors and administrators watch every unit's queue. Thin calls into the case tasks,
which run through the pipeline."""

from __future__ import annotations

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

router = APIRouter(tags=["cases"])

SubjectPath = Annotated[str, Path(alias="subject", max_length=64)]
LinkStatus = Annotated[str, Query(pattern="^(pending|approved|rejected)$")]


class OpenBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    kind: str = Field(min_length=1, max_length=32, examples=["renewal"])
    reference: str = Field(min_length=3, max_length=120, examples=["ARR-2026-0412"])


class LinkBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    subject_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=5, max_length=200)


@route(router, ep.CASE_OPEN, status_code=201, summary="Agent: open a case of my unit")
def open_case(
    body: OpenBody, who: CallerDep, svc: ServiceDep, response: Response
) -> dict[str, Any]:
    return send(svc.cases.open(who, kind=body.kind, reference=body.reference), response)


@route(router, ep.CASE_LIST, summary="Agent: my unit's cases (metadata only)")
def list_cases(
    who: CallerDep,
    svc: ServiceDep,
    response: Response,
    status: Annotated[str | None, Query(pattern="^(open|closed)$")] = "open",
) -> dict[str, Any]:
    return send(svc.cases.of_unit(who, status), response)


@route(router, ep.CASE_LINK, status_code=201, summary="Agent: link a subject to a case")
def link_subject(
    case_id: IdPath, body: LinkBody, who: CallerDep, svc: ServiceDep, response: Response
) -> dict[str, Any]:
    return send(svc.cases.link(who, case_id, body.subject_id, body.reason), response)


@route(router, ep.CASE_APPROVE_LINK, summary="Second agent: approve a link that waits")
def approve_link(
    case_id: IdPath,
    subject_id: SubjectPath,
    who: CallerDep,
    svc: ServiceDep,
    response: Response,
) -> dict[str, Any]:
    return send(svc.cases.approve_link(who, case_id, subject_id), response)


class RejectLinkBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    note: str = Field(min_length=5, max_length=200)


@route(router, ep.CASE_REJECT_LINK, summary="Second agent: reject a link that waits")
def reject_link(
    case_id: IdPath,
    subject_id: SubjectPath,
    body: RejectLinkBody,
    who: CallerDep,
    svc: ServiceDep,
    response: Response,
) -> dict[str, Any]:
    return send(svc.cases.reject_link(who, case_id, subject_id, body.note), response)


@route(router, ep.CASE_PENDING_LINKS, summary="Agent: my unit's links waiting for four eyes")
def pending_links(
    who: CallerDep, svc: ServiceDep, response: Response, status: LinkStatus = "pending"
) -> dict[str, Any]:
    return send(svc.cases.pending_links(who, status), response)


@route(router, ep.CASE_LINK_OVERSIGHT, summary="Auditor, admin: every unit's link queue")
def link_oversight(
    who: CallerDep, svc: ServiceDep, response: Response, status: LinkStatus = "pending"
) -> dict[str, Any]:
    return send(svc.cases.link_oversight(who, status), response)


@route(router, ep.CASE_CLOSE, summary="Agent: close a case (it grants nothing after)")
def close_case(
    case_id: IdPath, who: CallerDep, svc: ServiceDep, response: Response
) -> dict[str, Any]:
    return send(svc.cases.close(who, case_id), response)
