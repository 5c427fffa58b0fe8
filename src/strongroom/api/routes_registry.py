"""The registry's routes: one thin call into the gate each."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from strongroom import endpoints as ep
from strongroom.api.deps import (
    CallerDep,
    ServiceDep,
    journal_rejected,
    route,
    send,
)
from strongroom.errors import Gone

router = APIRouter(tags=["registry"])


class Strict(BaseModel):
    # Unknown members are refused, so no filter, sort or wildcard can be smuggled in.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class VerifyBody(Strict):
    permit_number: str = Field(min_length=1, max_length=40)
    family_name: str = Field(min_length=1, max_length=120)
    birth_date: str = Field(min_length=10, max_length=10, examples=["1975-04-21"])


class SaleBody(VerifyBody):
    weapon_serial: str = Field(min_length=1, max_length=60)


class SearchBody(Strict):
    family_name: str = Field(min_length=1, max_length=120)
    birth_date: str = Field(min_length=10, max_length=10, examples=["1975-04-21"])


@route(router, ep.ME, summary="Owner: my identity, address, permits and weapons")
def me(who: CallerDep, svc: ServiceDep, response: Response) -> dict[str, Any]:
    return send(svc.registry_tasks.me(who), response)


class OwnerRequestBody(Strict):
    kind: str = Field(min_length=1, max_length=32, examples=["renewal"])


@route(router, ep.ME_REQUEST, status_code=201, summary="Owner: file a request (a renewal)")
def me_request(
    body: OwnerRequestBody, who: CallerDep, svc: ServiceDep, response: Response
) -> dict[str, Any]:
    return send(svc.cases.file_by_owner(who, kind=body.kind), response)


@route(router, ep.ME_ACCESSES, summary="Owner: who looked at my record, newest first")
def me_accesses(
    who: CallerDep,
    svc: ServiceDep,
    response: Response,
    before: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> dict[str, Any]:
    return send(svc.owner_accesses.accesses(who, before=before, limit=limit), response)


@route(router, ep.VERIFY, summary="Dealer: verify a buyer's permit (no address, ever)")
def verify(body: VerifyBody, who: CallerDep, svc: ServiceDep, response: Response) -> dict[str, Any]:
    return send(
        svc.registry_tasks.verify_permit(
            who, body.permit_number, body.family_name, body.birth_date
        ),
        response,
    )


@route(router, ep.SALE, status_code=201, summary="Dealer: record the sale of one weapon")
def sale(body: SaleBody, who: CallerDep, svc: ServiceDep, response: Response) -> dict[str, Any]:
    return send(
        svc.registry_tasks.record_sale(
            who,
            weapon_serial=body.weapon_serial,
            permit_number=body.permit_number,
            family_name=body.family_name,
            birth_date=body.birth_date,
        ),
        response,
    )


@route(router, ep.LEDGER, summary="Dealer: page through my own sales ledger")
def ledger(
    who: CallerDep,
    svc: ServiceDep,
    response: Response,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> dict[str, Any]:
    return send(svc.registry_tasks.ledger(who, cursor=cursor, limit=limit), response)


class WeaponBody(Strict):
    serial: str = Field(min_length=1, max_length=60)


@route(router, ep.WEAPON, summary="Police: weapon status and holder permit validity")
def weapon(body: WeaponBody, who: CallerDep, svc: ServiceDep, response: Response) -> dict[str, Any]:
    return send(svc.registry_tasks.weapon(who, body.serial), response)


@router.get("/v1/weapons/{serial}", include_in_schema=False)
def weapon_by_path(request: Request) -> None:
    """The serial used to travel in the path, where access logs and proxies keep it."""
    err = Gone(
        "weapon lookups moved to POST /v1/weapons/lookup with the serial in the body",
        reason="moved",
        headers={"Link": '</v1/weapons/lookup>; rel="successor-version"'},
    )
    raise journal_rejected(request, err)


@route(router, ep.SEARCH, summary="Police: exact search by family name and birth date")
def search(body: SearchBody, who: CallerDep, svc: ServiceDep, response: Response) -> dict[str, Any]:
    return send(svc.registry_tasks.search_persons(who, body.model_dump()), response)


@route(router, ep.PERSON, summary="Prefecture: a person of my département")
def person(
    person_id: Annotated[str, Path(alias="id")],
    who: CallerDep,
    svc: ServiceDep,
    response: Response,
) -> dict[str, Any]:
    return send(svc.registry_tasks.person(who, person_id), response)
