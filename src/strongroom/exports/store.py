"""Export records in the registry database: requests, decisions, generated files, and the
keyed marks of each export's canary rows.

State changes are compare-and-set updates (`UPDATE ... WHERE status = :expected`), so two
workers, two approvers or two downloads racing on one export cannot both win.

    pending ──approve──▶ approved ──download──▶ downloaded
       │                    │
       ├──reject──▶ rejected│
       └──(ttl)───▶ expired ◀──(ttl / download window)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from strongroom.analytics.ledger import cells_table, knowledge_table
from strongroom.errors import Conflict, Unavailable

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
STATES = ("pending", "approved", "rejected", "expired", "downloaded")

metadata = MetaData(naming_convention=NAMING)
Pk = BigInteger().with_variant(Integer, "sqlite")

exports = Table(
    "exports",
    metadata,
    Column("id", Pk, primary_key=True, autoincrement=True),
    Column("public_id", String(36), unique=True, nullable=False),
    Column("dataset", String(80), nullable=False),
    Column("purpose", String(40), nullable=False),
    Column("justification", String(2000), nullable=False),
    Column("fields", Text, nullable=False),  # JSON list, sorted
    Column("format", String(8), nullable=False),
    Column("requester_id", String(64), nullable=False, index=True),
    Column("requester_role", String(20), nullable=False),
    Column("departement", String(3), nullable=True),
    Column("case_ref", String(64), nullable=True),
    Column("status", String(12), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", Float, nullable=True),
    Column("decision_note", String(2000), nullable=True),
    Column("generated_at", Float, nullable=True),
    Column("download_by", Float, nullable=True),
    Column("file_name", String(80), nullable=True),
    Column("row_count", Integer, nullable=True),
    Column("canary_count", Integer, nullable=True),
    Column("sha256", String(64), nullable=True),
    Column("downloaded_at", Float, nullable=True),
    # Watermark scheme version (watermark.py) of row exports; None: not watermarked.
    Column("watermark", Integer, nullable=True),
)

export_canaries = Table(
    "export_canaries",
    metadata,
    # HMAC(export key, canary ID): without the key, a copy of this table names no canary.
    Column("mark", LargeBinary(32), primary_key=True),
    Column("export_id", ForeignKey("exports.id"), nullable=False, index=True),
)

# The suppression ledger of aggregate exports, one group per dataset (exports/generate.py):
# what every export of the dataset published and hid, and the equations they let anyone
# write over their hidden counts. Every export of a dataset is a release of it.
suppression_cells = cells_table(metadata, "export_suppression_cells")
suppression_knowledge = knowledge_table(metadata, "export_suppression_knowledge")
suppression_releases = Table(
    "export_suppression_releases",
    metadata,
    Column("dataset", String(80), primary_key=True),
    Column("release", Integer, primary_key=True, autoincrement=False),
    Column("export_id", String(36), nullable=False),
    Column("built_at", Float, nullable=False),
    Column("suppressed", Integer, nullable=False),
)


@dataclass(frozen=True)
class ExportRecord:
    pk: int
    public_id: str
    dataset: str
    purpose: str
    justification: str
    fields: tuple[str, ...]
    format: str
    requester_id: str
    requester_role: str
    departement: str | None
    case_ref: str | None
    status: str
    created_at: float
    expires_at: float
    decided_by: str | None
    decided_at: float | None
    decision_note: str | None
    generated_at: float | None
    download_by: float | None
    file_name: str | None
    row_count: int | None
    canary_count: int | None
    sha256: str | None
    downloaded_at: float | None
    watermark: int | None

    def to_dict(self) -> dict[str, Any]:
        """The record as the API and CLI show it: metadata only, never a row."""
        return {
            "id": self.public_id,
            "dataset": self.dataset,
            "purpose": self.purpose,
            "justification": self.justification,
            "fields": list(self.fields),
            "format": self.format,
            "requester": self.requester_id,
            "departement": self.departement,
            "case": self.case_ref,
            "status": self.status,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
            "decision_note": self.decision_note,
            "generated_at": self.generated_at,
            "download_by": self.download_by,
            "rows": self.row_count,
            "sha256": self.sha256,
            "downloaded_at": self.downloaded_at,
        }


def _record(row: Any) -> ExportRecord:
    m = row._mapping
    return ExportRecord(
        pk=m["id"],
        public_id=m["public_id"],
        dataset=m["dataset"],
        purpose=m["purpose"],
        justification=m["justification"],
        fields=tuple(json.loads(m["fields"])),
        format=m["format"],
        requester_id=m["requester_id"],
        requester_role=m["requester_role"],
        departement=m["departement"],
        case_ref=m["case_ref"],
        status=m["status"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        decided_by=m["decided_by"],
        decided_at=m["decided_at"],
        decision_note=m["decision_note"],
        generated_at=m["generated_at"],
        download_by=m["download_by"],
        file_name=m["file_name"],
        row_count=m["row_count"],
        canary_count=m["canary_count"],
        sha256=m["sha256"],
        downloaded_at=m["downloaded_at"],
        watermark=m["watermark"],
    )


class ExportStore:
    """SQLite or PostgreSQL, the registry's engine. Every foreign error becomes
    `Unavailable` here, once."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_tables(self) -> None:
        """For tests and tools; deployments get the tables from the Alembic migration."""
        try:
            metadata.create_all(self.engine)
        except SQLAlchemyError as exc:
            raise Unavailable("the exports store is unavailable") from exc

    def _run(self, fn: Any, *, write: bool = False) -> Any:
        try:
            if write:
                with self.engine.begin() as conn:
                    return fn(conn)
            with self.engine.connect() as conn:
                return fn(conn)
        except IntegrityError as exc:
            raise Conflict("this export conflicts with an existing one", reason="conflict") from exc
        except SQLAlchemyError as exc:
            raise Unavailable("the exports store is unavailable") from exc

    def create(
        self,
        *,
        public_id: str,
        dataset: str,
        purpose: str,
        justification: str,
        fields: Iterable[str],
        fmt: str,
        requester_id: str,
        requester_role: str,
        departement: str | None,
        case_ref: str | None,
        created_at: float,
        expires_at: float,
    ) -> ExportRecord:
        values = {
            "public_id": public_id,
            "dataset": dataset,
            "purpose": purpose,
            "justification": justification,
            "fields": json.dumps(sorted(fields)),
            "format": fmt,
            "requester_id": requester_id,
            "requester_role": requester_role,
            "departement": departement,
            "case_ref": case_ref,
            "status": "pending",
            "created_at": created_at,
            "expires_at": expires_at,
        }
        self._run(lambda c: c.execute(insert(exports).values(**values)), write=True)
        found = self.get(public_id)
        if found is None:  # pragma: no cover - the insert just committed
            raise Unavailable("the exports store lost a record")
        return found

    def get(self, public_id: str) -> ExportRecord | None:
        row = self._run(
            lambda c: c.execute(select(exports).where(exports.c.public_id == public_id)).first()
        )
        return _record(row) if row is not None else None

    def list(
        self, *, requester_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[ExportRecord]:
        q = select(exports)
        if requester_id is not None:
            q = q.where(exports.c.requester_id == requester_id)
        if status is not None:
            q = q.where(exports.c.status == status)
        q = q.order_by(exports.c.created_at.desc(), exports.c.id.desc()).limit(limit)
        return [_record(r) for r in self._run(lambda c: c.execute(q).all())]

    def transition(
        self, public_id: str, expected: str | Sequence[str], new: str, **values: Any
    ) -> bool:
        """Compare-and-set: move the export to `new` only if it is still in `expected`."""
        allowed = [expected] if isinstance(expected, str) else list(expected)
        stmt = (
            update(exports)
            .where(exports.c.public_id == public_id, exports.c.status.in_(allowed))
            .values(status=new, **values)
        )
        return bool(self._run(lambda c: c.execute(stmt).rowcount, write=True))

    def claim_generation(
        self,
        public_id: str,
        *,
        at: float,
        download_by: float,
        file_name: str,
        watermark: int | None,
    ) -> bool:
        """Generated once: only the first caller whose approved, never-generated export
        this is may write its file."""
        stmt = (
            update(exports)
            .where(
                exports.c.public_id == public_id,
                exports.c.status == "approved",
                exports.c.generated_at.is_(None),
            )
            .values(
                generated_at=at, download_by=download_by, file_name=file_name, watermark=watermark
            )
        )
        return bool(self._run(lambda c: c.execute(stmt).rowcount, write=True))

    def release_generation(self, public_id: str) -> None:
        stmt = (
            update(exports)
            .where(exports.c.public_id == public_id, exports.c.status == "approved")
            .values(generated_at=None, download_by=None, file_name=None)
        )
        self._run(lambda c: c.execute(stmt), write=True)

    def finish_generation(self, public_id: str, *, rows: int, canaries: int, sha256: str) -> None:
        stmt = (
            update(exports)
            .where(exports.c.public_id == public_id)
            .values(row_count=rows, canary_count=canaries, sha256=sha256)
        )
        self._run(lambda c: c.execute(stmt), write=True)

    def release_of(self, public_id: str) -> int | None:
        """The release number of its dataset an aggregate export was (the last, if its
        generation was retried); None for a row export or one not generated yet."""
        q = select(func.max(suppression_releases.c.release)).where(
            suppression_releases.c.export_id == public_id
        )
        found = self._run(lambda c: c.execute(q).scalar())
        return None if found is None else int(found)

    def add_canary_marks(self, export_pk: int, marks: Iterable[bytes]) -> None:
        wanted = set(marks)
        if not wanted:
            return

        def add(c: Any) -> None:
            # A retried generation derives the same marks: keep those already recorded.
            have = set(
                c.execute(
                    select(export_canaries.c.mark).where(export_canaries.c.export_id == export_pk)
                ).scalars()
            )
            rows = [{"mark": m, "export_id": export_pk} for m in wanted - have]
            if rows:
                c.execute(insert(export_canaries), rows)

        self._run(add, write=True)

    def exports_by_marks(self, marks: Sequence[bytes]) -> dict[bytes, str]:
        """Which export each canary mark belongs to (marks not found are left out)."""
        found: dict[bytes, str] = {}
        for i in range(0, len(marks), 500):
            chunk = list(marks[i : i + 500])
            q = (
                select(export_canaries.c.mark, exports.c.public_id)
                .join(exports, exports.c.id == export_canaries.c.export_id)
                .where(export_canaries.c.mark.in_(chunk))
            )
            found.update({bytes(m): p for m, p in self._run(lambda c, q=q: c.execute(q).all())})
        return found

    def watermarked(self) -> list[str]:
        """IDs of every export that was generated with a fingerprint."""
        q = select(exports.c.public_id).where(exports.c.watermark.is_not(None))
        return list(self._run(lambda c: c.execute(q).scalars().all()))
