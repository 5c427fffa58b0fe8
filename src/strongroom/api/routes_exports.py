"""Governed export routes: thin calls into the export desk (`service.exports`), which runs
every step through the gate. The download streams the file once; it is already deleted
from disk when the first byte leaves."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from strongroom import endpoints as ep
from strongroom.api.deps import (
    CallerDep,
    IdPath,
    ServiceDep,
    route,
    send,
)

router = APIRouter(tags=["exports"])

FieldName = Annotated[str, Field(pattern=r"^[a-z_]+\.[a-z_]+$", max_length=64)]


class ExportRequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dataset: str = Field(min_length=1, max_length=80)
    fields: list[FieldName] = Field(min_length=1, max_length=50)
    justification: str = Field(min_length=10, max_length=2000)
    purpose: str | None = Field(None, max_length=40)
    format: Literal["csv", "jsonl"] = "csv"


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field("", max_length=2000)


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=5, max_length=2000)


@route(
    router,
    ep.EXPORT_REQUEST,
    status_code=201,
    summary="Requester: ask for an export of a named dataset (pending approval)",
)
def request_export(
    body: ExportRequestBody, who: CallerDep, svc: ServiceDep, response: Response
) -> dict[str, Any]:
    return send(
        svc.exports.request(
            who,
            dataset=body.dataset,
            fields=body.fields,
            justification=body.justification,
            purpose=body.purpose,
            fmt=body.format,
        ),
        response,
    )


@route(router, ep.EXPORT_LIST, summary="Requester: my export requests (metadata only)")
def list_exports(
    who: CallerDep,
    svc: ServiceDep,
    response: Response,
    status: Annotated[
        str | None, Query(pattern="^(pending|approved|rejected|expired|downloaded)$")
    ] = None,
) -> dict[str, Any]:
    return send(svc.exports.list_own(who, status), response)


@route(router, ep.EXPORT_QUEUE, summary="Approver: export requests (metadata only, no rows)")
def export_queue(
    who: CallerDep,
    svc: ServiceDep,
    response: Response,
    status: Annotated[
        str | None, Query(pattern="^(pending|approved|rejected|expired|downloaded)$")
    ] = "pending",
) -> dict[str, Any]:
    return send(svc.exports.queue(who, status), response)


@route(router, ep.EXPORT_APPROVE, summary="Approver: approve an export (never the requester)")
def approve_export(
    export_id: IdPath,
    who: CallerDep,
    svc: ServiceDep,
    response: Response,
    body: DecisionBody | None = None,
) -> dict[str, Any]:
    return send(svc.exports.approve(who, export_id, body.note if body else ""), response)


@route(router, ep.EXPORT_REJECT, summary="Approver: reject an export")
def reject_export(
    export_id: IdPath, body: RejectBody, who: CallerDep, svc: ServiceDep, response: Response
) -> dict[str, Any]:
    return send(svc.exports.reject(who, export_id, body.note), response)


@route(
    router,
    ep.EXPORT_DOWNLOAD,
    summary="Requester: the approved export's file, once",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/jsonl": {}}}},
)
def download_export(export_id: IdPath, who: CallerDep, svc: ServiceDep) -> StreamingResponse:
    answer, download = svc.exports.download(who, export_id)
    headers = {
        **answer.headers,
        "Cache-Control": "no-store",
        "Content-Disposition": f'attachment; filename="{download.filename}"',
        "Content-Length": str(download.size),
        "Repr-Digest": f"sha-256=:{_b64hex(download.sha256)}:",
        "X-Export-Rows": str(download.rows),
    }
    return StreamingResponse(download.chunks(), media_type=download.media_type, headers=headers)


def _b64hex(hexdigest: str) -> str:
    """RFC 9530 Repr-Digest carries the digest as a structured-field byte sequence."""
    import base64

    return base64.b64encode(bytes.fromhex(hexdigest)).decode("ascii")
