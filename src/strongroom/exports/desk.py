"""The export desk: request, approve or reject (four eyes), generate once, download once.

Every step goes through the pipeline (`ExportDesk._step`): the policy decides who may
call, the journal records each step and each refusal, the detectors see them. Unlike an
administrative task, a step may disclose records: a download journals the rows and field
names that left, so "what did principal X extract" counts exports too. Budgets are charged
one unit per export, not per row: the approval, not the budget, is the control on bulk
output, and an approved export must not exhaust its requester's budget for case work. The desk
adds what the policy's `exports:` section says: requester and approver roles, four eyes,
fields per dataset and purpose, max rows, approval TTL.

Times come from the injected clock: a pending request expires `approval_ttl_seconds`
after it was made, an approval the same time after it was given, and a generated file
`download_window` seconds after generation (then it is deleted).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from strongroom import endpoints as ep
from strongroom.clock import Clock
from strongroom.context import Caller
from strongroom.endpoints import Endpoint
from strongroom.errors import BadRequest, Conflict, Forbidden, NotFound
from strongroom.exports.datasets import Catalogue, Scope, default_catalogue
from strongroom.exports.generate import Progress, generate_aggregate, generate_rows
from strongroom.exports.store import ExportRecord, ExportStore
from strongroom.exports.trace import Evidence, trace_lines
from strongroom.exports.watermark import WATERMARK_SCHEME, Watermark
from strongroom.exports.writer import FORMATS
from strongroom.gate import Answer, Disclosure, Pipeline, Task
from strongroom.ids import is_public_id, new_public_id
from strongroom.policy.model import ExportsSpec

log = logging.getLogger("strongroom.exports")

DEFAULT_DOWNLOAD_WINDOW = 900
NOT_YOURS = "no such export, or not one you may see"


@dataclass
class StepResult:
    body: dict[str, Any]
    records: int = 0
    fields: Iterable[str] = ()
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Download:
    """An export's bytes, readable once. The file is unlinked when this is opened: the
    open descriptor is the only way left to the data."""

    filename: str
    media_type: str
    rows: int
    sha256: str
    size: int
    _fd: Any

    def chunks(self, size: int = 1 << 16) -> Iterator[bytes]:
        try:
            while chunk := self._fd.read(size):
                yield chunk
        finally:
            self._fd.close()

    def close(self) -> None:
        self._fd.close()


ID_PREFIX = "ref."


class ExportDesk:
    def __init__(
        self,
        *,
        pipeline: Pipeline,
        store: ExportStore,
        engine: Engine,
        spec: ExportsSpec,
        watermark: Watermark,
        exports_dir: Path,
        clock: Clock,
        is_honey: Callable[[str], bool],
        catalogue: Catalogue | None = None,
        download_window: int = DEFAULT_DOWNLOAD_WINDOW,
    ) -> None:
        self.pipeline = pipeline
        self.store = store
        self.engine = engine
        self.spec = spec
        self.watermark = watermark
        self.dir = Path(exports_dir)
        self.clock = clock
        # Honey records never reach an export: a recipient following a row up would read
        # one, and a honey read suspends an honest account.
        self.is_honey = is_honey
        self.catalogue = catalogue or default_catalogue()
        self.window = download_window
        problems = self.catalogue.check(self.spec.datasets)
        if problems:
            raise BadRequest("; ".join(problems), reason="export_catalogue")

    def _step(
        self,
        caller: Caller,
        endpoint: Endpoint,
        fn: Callable[[Task], StepResult],
        *,
        detail: dict[str, Any] | None = None,
        charged: int = 0,
    ) -> Answer:
        """One step of an export through the pipeline. A step that discloses rows costs
        one budget unit however many (`charged`: the units its reservation holds)."""

        def work(t: Task) -> Disclosure:
            t.detail.update(detail or {})
            step = fn(t)
            return Disclosure(
                body=step.body,
                fields=set(step.fields),
                records=step.records,
                cost=1 if step.records else 0,
                detail={**(detail or {}), **step.detail},
            )

        return self.pipeline.serve(
            caller,
            endpoint,
            work,
            expected_records=charged,
            discloses=frozenset() if charged else None,
        )

    # --- request ----------------------------------------------------------------------------
    def request(
        self,
        caller: Caller,
        *,
        dataset: str,
        fields: list[str],
        justification: str,
        purpose: str | None = None,
        fmt: str = "csv",
    ) -> Answer:
        def fn(t: Task) -> StepResult:
            if caller.role not in self.spec.requester_roles:
                raise Forbidden("this role may not request exports", reason="not_a_requester")
            spec = self.spec.datasets.get(dataset)
            ds = self.catalogue.get(dataset)
            if spec is None or ds is None:
                raise NotFound(f"no export dataset {dataset!r}", reason="unknown_dataset")
            if purpose is not None and purpose != t.purpose:
                raise Forbidden(
                    "the export's purpose must be the one your token declares",
                    reason="purpose_mismatch",
                )
            allowed = spec.purposes.get(t.purpose)
            if allowed is None:
                raise Forbidden(
                    f"dataset {dataset!r} is not available for {t.purpose!r}",
                    reason="purpose_not_allowed",
                )
            wanted = set(fields)
            beyond = sorted(wanted - set(allowed))
            if beyond:
                raise Forbidden(
                    f"fields beyond what {t.purpose!r} allows from {dataset!r}: "
                    f"{', '.join(beyond)}",
                    reason="fields_not_allowed",
                    extra={"allowed": list(allowed), "refused": beyond},
                )
            if not wanted:
                raise BadRequest("name at least one field", reason="invalid_input")
            if ds.kind == "rows" and not any(f.startswith(ID_PREFIX) for f in wanted):
                # The watermark lives in the IDs' letter case and in canary rows' IDs: a
                # file without an ID column could never be traced back to its export.
                raise BadRequest(
                    "a row export must include an ID column (ref.*): its watermark is "
                    "carried by the IDs, and a file without them could not be traced",
                    reason="untraceable_export",
                    extra={"id_fields": sorted(f for f in allowed if f.startswith(ID_PREFIX))},
                )
            if fmt not in FORMATS:
                raise BadRequest(
                    f"format must be one of {', '.join(FORMATS)}", reason="invalid_input"
                )
            if len(justification.strip()) < 10:
                raise BadRequest(
                    "an export needs a justification of at least 10 characters",
                    reason="justification_required",
                )
            if ds.needs_departement and not caller.departement:
                raise Forbidden(
                    "this dataset is scoped to your département, and your account has none",
                    reason="out_of_scope",
                )
            now = self.clock.now()
            rec = self.store.create(
                public_id=new_public_id(),
                dataset=dataset,
                purpose=t.purpose,
                justification=justification.strip(),
                fields=wanted,
                fmt=fmt,
                requester_id=caller.principal_id,
                requester_role=caller.role,
                departement=caller.departement,
                case_ref=caller.case,
                created_at=now,
                expires_at=now + self.spec.approval_ttl_seconds,
            )
            t.detail["export"] = rec.public_id
            return StepResult(
                body=rec.to_dict(), detail={"dataset": dataset, "requested_fields": sorted(wanted)}
            )

        return self._step(caller, ep.EXPORT_REQUEST, fn, detail={"dataset": dataset})

    # --- listing ----------------------------------------------------------------------------
    def list_own(self, caller: Caller, status: str | None = None) -> Answer:
        def fn(t: Task) -> StepResult:
            self.expire_due()
            rows = self.store.list(
                requester_id=caller.principal_id, status=status, limit=t.page_size
            )
            return StepResult(body={"items": [r.to_dict() for r in rows]})

        return self._step(caller, ep.EXPORT_LIST, fn)

    def queue(self, caller: Caller, status: str | None = "pending") -> Answer:
        def fn(t: Task) -> StepResult:
            self._approver(caller)
            self.expire_due()
            rows = self.store.list(status=status, limit=t.page_size)
            return StepResult(body={"items": [r.to_dict() for r in rows]})

        return self._step(caller, ep.EXPORT_QUEUE, fn)

    # --- decisions --------------------------------------------------------------------------
    def approve(self, caller: Caller, export_id: str, note: str = "") -> Answer:
        return self._decide(caller, export_id, "approved", note, ep.EXPORT_APPROVE)

    def reject(self, caller: Caller, export_id: str, note: str) -> Answer:
        return self._decide(caller, export_id, "rejected", note, ep.EXPORT_REJECT)

    def _approver(self, caller: Caller) -> None:
        if caller.role not in self.spec.approver_roles:
            raise Forbidden("this role may not decide exports", reason="not_an_approver")

    def _decide(
        self, caller: Caller, export_id: str, decision: str, note: str, endpoint: Endpoint
    ) -> Answer:
        def fn(t: Task) -> StepResult:
            self._approver(caller)
            rec = self._get(export_id)
            if self.spec.four_eyes and rec.requester_id == caller.principal_id:
                raise Forbidden("nobody decides their own export request", reason="four_eyes")
            rec = self._expire_if_due(rec)
            if rec.status != "pending":
                raise Conflict(
                    f"this export is {rec.status}, not pending",
                    reason="expired" if rec.status == "expired" else "already_decided",
                )
            now = self.clock.now()
            values: dict[str, Any] = {
                "decided_by": caller.principal_id,
                "decided_at": now,
                "decision_note": note.strip() or None,
            }
            if decision == "approved":
                values["expires_at"] = now + self.spec.approval_ttl_seconds
            if not self.store.transition(export_id, "pending", decision, **values):
                raise Conflict("this export was decided meanwhile", reason="already_decided")
            return StepResult(
                body=self._get(export_id).to_dict(),
                detail={"decision": decision, "requester": rec.requester_id},
            )

        return self._step(caller, endpoint, fn, detail={"export": export_id})

    # --- generation and download ------------------------------------------------------------
    def generate(self, caller: Caller, export_id: str, progress: Progress | None = None) -> Answer:
        """Write the approved export's file (once). The requester only."""

        def fn(t: Task) -> StepResult:
            rec = self._downloadable(caller, export_id)
            if rec.generated_at is not None:
                return StepResult(body=rec.to_dict(), detail={"step": "generate"})
            rec = self._write(rec, progress)
            return StepResult(
                body=rec.to_dict(),
                detail={"step": "generate", "rows": rec.row_count, **self._release(rec)},
            )

        return self._step(caller, ep.EXPORT_DOWNLOAD, fn, detail={"export": export_id})

    def download(
        self, caller: Caller, export_id: str, progress: Progress | None = None
    ) -> tuple[Answer, Download]:
        """Generate if needed, then hand over the file once and delete it."""
        opened: list[Download] = []

        def fn(t: Task) -> StepResult:
            rec = self._downloadable(caller, export_id)
            if rec.generated_at is None:
                rec = self._write(rec, progress)
            path = self.dir / (rec.file_name or "")
            try:
                fd = open(path, "rb")  # noqa: SIM115 - handed to the Download
            except FileNotFoundError as exc:
                raise Conflict("the export file is gone", reason="expired") from exc
            if not self.store.transition(
                export_id, "approved", "downloaded", downloaded_at=self.clock.now()
            ):
                fd.close()
                raise Conflict("this export was downloaded already", reason="already_downloaded")
            size = os.fstat(fd.fileno()).st_size
            path.unlink(missing_ok=True)
            ext, media = FORMATS[rec.format]
            opened.append(
                Download(
                    filename=f"export-{rec.public_id}.{ext}",
                    media_type=media,
                    rows=rec.row_count or 0,
                    sha256=rec.sha256 or "",
                    size=size,
                    _fd=fd,
                )
            )
            return StepResult(
                body={**rec.to_dict(), "status": "downloaded"},
                records=rec.row_count or 0,
                fields=rec.fields,
                detail={
                    "step": "download",
                    "rows": rec.row_count,
                    "sha256": rec.sha256,
                    "approved_export": True,
                    **self._release(rec),
                },
            )

        try:
            # Reserve the unit the download is charged, or the settlement overdraws.
            answer = self._step(
                caller, ep.EXPORT_DOWNLOAD, fn, detail={"export": export_id}, charged=1
            )
        except BaseException:
            for d in opened:
                d.close()
            raise
        return answer, opened[0]

    def _release(self, rec: ExportRecord) -> dict[str, int]:
        """An aggregate export's release number of its dataset, for its journal entry: the
        suppression ledger's order, which an auditor reads exports against."""
        number = self.store.release_of(rec.public_id)
        return {} if number is None else {"release": number}

    def _downloadable(self, caller: Caller, export_id: str) -> ExportRecord:
        rec = self._get(export_id)
        if rec.requester_id != caller.principal_id:
            raise NotFound(NOT_YOURS, reason="not_found")
        if rec.case_ref is not None and caller.case != rec.case_ref:
            # The file serves the task it was asked for: downloading it under another case
            # (or none) is refused like someone else's export.
            raise NotFound(NOT_YOURS, reason="not_found")
        if rec.case_ref is not None and not self._case_still_open(caller, rec.case_ref):
            raise Conflict(
                "the export's case is closed or expired: its file is no longer handed out",
                reason="case_closed",
            )
        rec = self._expire_if_due(rec)
        if rec.status == "downloaded":
            raise Conflict("this export was downloaded already", reason="already_downloaded")
        if rec.status != "approved":
            raise Conflict(
                f"this export is {rec.status}, not approved",
                reason="expired" if rec.status == "expired" else "not_approved",
            )
        return rec

    def _case_still_open(self, caller: Caller, case_ref: str) -> bool:
        """Whether a case named by an export still grants anything: a registry case of the
        caller's unit must be open and unexpired. A reference that names no registry case
        (a file number of another system) binds the export to that reference only."""
        registry = self.pipeline.registry
        with registry.session() as s:
            case = registry.case(s, case_ref) if is_public_id(case_ref) else None
            return case is None or case.grants(caller.unit, self.clock.now())

    def _write(self, rec: ExportRecord, progress: Progress | None) -> ExportRecord:
        spec = self.spec.datasets[rec.dataset]
        ds = self.catalogue.get(rec.dataset)
        now = self.clock.now()
        ext, _ = FORMATS[rec.format]
        name = f"{rec.public_id}.{ext}"
        scheme = WATERMARK_SCHEME if ds.kind == "rows" else None
        if not self.store.claim_generation(
            rec.public_id, at=now, download_by=now + self.window, file_name=name, watermark=scheme
        ):
            raise Conflict("this export is being generated already", reason="generated")
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.dir / name
        today = datetime.fromtimestamp(now, UTC).date()
        try:
            if ds.kind == "rows":
                done = generate_rows(
                    rec,
                    ds,
                    self.engine,
                    Scope(rec.departement, today),
                    self.watermark,
                    self.store,
                    path,
                    spec.max_rows,
                    progress,
                    is_honey=self.is_honey,
                )
            else:
                done = generate_aggregate(
                    rec, ds, self.engine, path, spec.max_rows, progress, at=now
                )
        except BaseException:
            # Nothing was generated: the claim is released so the requester may retry.
            self.store.release_generation(rec.public_id)
            raise
        self.store.finish_generation(
            rec.public_id,
            rows=done.written.rows,
            canaries=done.canaries,
            sha256=done.written.sha256,
        )
        return self._get(rec.public_id)

    # --- expiry -----------------------------------------------------------------------------
    def _expire_if_due(self, rec: ExportRecord) -> ExportRecord:
        now = self.clock.now()
        due = (rec.status == "pending" and now >= rec.expires_at) or (
            rec.status == "approved"
            and (
                (rec.generated_at is None and now >= rec.expires_at)
                or (rec.download_by is not None and now >= rec.download_by)
            )
        )
        if not due:
            return rec
        if self.store.transition(rec.public_id, rec.status, "expired"):
            self._delete_file(rec)
        return self._get(rec.public_id)

    def expire_due(self) -> int:
        """Expire what is due and delete its files (also run by listings)."""
        n = 0
        for status in ("pending", "approved"):
            for rec in self.store.list(status=status, limit=10_000):
                if self._expire_if_due(rec).status == "expired":
                    n += 1
        return n

    def _delete_file(self, rec: ExportRecord) -> None:
        if rec.file_name:
            (self.dir / rec.file_name).unlink(missing_ok=True)

    def _get(self, export_id: str) -> ExportRecord:
        rec = self.store.get(export_id) if is_public_id(export_id) else None
        if rec is None:
            raise NotFound(NOT_YOURS, reason="not_found")
        return rec

    # --- tracing ----------------------------------------------------------------------------
    def trace(self, caller: Caller, lines: Any) -> list[dict[str, Any]]:
        """Which exports a leaked file or fragment comes from, with who asked and who
        approved. Journaled as an administrative action."""
        hits: list[Evidence] = trace_lines(lines, self.store, self.watermark)
        out = []
        for e in hits:
            rec = self.store.get(e.export_id)
            if rec is None:
                continue
            out.append(
                {
                    **rec.to_dict(),
                    "evidence": {
                        "canary_lines": e.canary_lines,
                        "fingerprint_lines": e.fingerprint_lines,
                        "fingerprint_bits": e.fingerprint_bits,
                    },
                }
            )
        self.pipeline.record_admin(
            caller,
            "export trace",
            reason="export_traced",
            detail={"exports": [h["id"] for h in out]},
        )
        return out
