"""Generate one approved export's file: the dataset's rows, minimized to the approved
fields, capped at the dataset's max_rows, watermarked (row datasets) or suppressed
(aggregates), streamed to disk by writer.py.

Minimization happens here and only here: a row is projected onto the approved columns
before it reaches the writer, so a field the approval does not name never touches disk.

Honey records never leave in an export: a recipient who follows a row up through the API
(a renewal letter's person, read under a case) would read a honey record, and a honey read
suspends an honest account. A row whose person is a honey record is dropped, whichever
columns the approval names. The watermark's canary rows are fabricated lines whose IDs
exist nowhere (watermark.py): the API finds nothing under them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from strongroom.analytics import ledger as ledger_db
from strongroom.analytics.suppress import CannotProtect
from strongroom.errors import Conflict, Unavailable
from strongroom.exports.datasets import Scope
from strongroom.exports.store import (
    ExportRecord,
    ExportStore,
    suppression_cells,
    suppression_knowledge,
    suppression_releases,
)
from strongroom.exports.suppression import TOTAL, protect_table
from strongroom.exports.watermark import Watermark
from strongroom.exports.writer import Written, write_export

COUNT_COLUMN = "count"
PERSON_REF = "ref.person_id"
Progress = Callable[[int, int | None], None]  # (rows written, rows expected if known)
RELEASE_TRIES = 5


@dataclass(frozen=True)
class Generated:
    written: Written
    real_rows: int
    canaries: int
    columns: tuple[str, ...]


def generate_rows(
    rec: ExportRecord,
    dataset: Any,
    engine: Engine,
    scope: Scope,
    watermark: Watermark,
    store: ExportStore,
    path: Path,
    max_rows: int,
    progress: Progress | None = None,
    *,
    is_honey: Callable[[str], bool],
) -> Generated:
    """`is_honey` tells a honey record's public ID (the deployment's canary set)."""
    columns = tuple(sorted(rec.fields))
    ids = [c for c in columns if c.startswith("ref.")]
    fkey = watermark.fingerprint_key(rec.public_id)
    try:
        with engine.connect() as conn:
            real = min(dataset.count(conn, scope), max_rows)
            canaries = watermark.canary_count(real)
            if real + canaries > max_rows:
                real = max(0, max_rows - canaries)
            fakes = [_canary(rec.public_id, i, dataset, watermark, scope) for i in range(canaries)]
            # The marks are recorded before a row is written: a file that escapes while
            # being written is already traceable.
            store.add_canary_marks(
                rec.pk, (watermark.canary_mark(row[f]) for row in fakes for f in ids)
            )
            positions = watermark.canary_positions(rec.public_id, real, canaries)

            def stream() -> Iterator[dict[str, Any]]:
                queue = list(zip(positions, fakes, strict=True))
                q = 0
                # The query's rows up to its count, honey records' left out, `real` kept.
                honest = (
                    r
                    for r in dataset.rows(conn, scope, real + _honey_slack(real))
                    if not is_honey(str(r.get(PERSON_REF) or ""))
                )
                for i, row in enumerate(itertools.islice(honest, real)):
                    while q < len(queue) and queue[q][0] <= i:
                        yield _project(queue[q][1], columns, ids, fkey, watermark)
                        q += 1
                    yield _project(row, columns, ids, fkey, watermark)
                for _, row in queue[q:]:
                    yield _project(row, columns, ids, fkey, watermark)

            total = real + canaries
            tick = (lambda n: progress(n, total)) if progress is not None else None
            written = write_export(path, rec.format, columns, stream(), tick)
    except SQLAlchemyError as exc:
        path.with_name(path.name + ".part").unlink(missing_ok=True)
        raise Unavailable("the registry database is unavailable") from exc
    return Generated(written, written.rows - canaries, canaries, columns)


def released_table(
    engine: Engine, dataset: Any, export_id: str, at: float
) -> dict[tuple[str, str], int | None]:
    """The dataset's two-way table as of now, suppressed as one more release of it: the
    ledger is per dataset, whoever asks (a file is shared once downloaded, so two
    requesters' exports are two releases to the same reader). One transaction reserves the
    release number, reads the ledger and the counts, and writes the ledger back: a
    concurrent export of the dataset fails on the number and is tried again on the ledger
    this one left, so no two exports are audited against the same past."""
    for _ in range(RELEASE_TRIES):
        try:
            with engine.begin() as conn:
                number = 1 + int(
                    conn.execute(
                        select(func.coalesce(func.max(suppression_releases.c.release), 0)).where(
                            suppression_releases.c.dataset == dataset.name
                        )
                    ).scalar_one()
                )
                conn.execute(
                    insert(suppression_releases).values(
                        dataset=dataset.name,
                        release=number,
                        export_id=export_id,
                        built_at=at,
                        suppressed=0,
                    )
                )
                ledger = ledger_db.load(conn, suppression_cells, dataset.name)
                known = ledger_db.load_knowledge(conn, suppression_knowledge, dataset.name)
                table, done = protect_table(
                    dataset.cells(conn),
                    dataset.min_cell,
                    dataset.axes,
                    ledger.get(dataset.name),
                    known.get(dataset.name),
                )
                ledger_db.save_groups(
                    conn,
                    {dataset.name: done.ledger},
                    {dataset.name: done.knowledge},
                    cells_to=suppression_cells,
                    knowledge_to=suppression_knowledge,
                )
                conn.execute(
                    update(suppression_releases)
                    .where(
                        suppression_releases.c.dataset == dataset.name,
                        suppression_releases.c.release == number,
                    )
                    .values(suppressed=len(done.hidden))
                )
            return table
        except IntegrityError:
            continue  # another export of the dataset took the number: read its ledger
        except CannotProtect as exc:
            raise Conflict(
                f"a small cell of {dataset.name} cannot be protected by suppressing others",
                reason="cannot_protect",
            ) from exc
        except SQLAlchemyError as exc:
            raise Unavailable("the registry database is unavailable") from exc
    raise Conflict("other exports of this dataset are being generated; try again", reason="busy")


def _honey_slack(rows: int) -> int:
    """Rows fetched beyond `rows` to make up for honey records left out (they are about
    one person in a thousand)."""
    return 16 + rows // 100


def _canary(
    export_id: str, i: int, dataset: Any, watermark: Watermark, scope: Scope
) -> dict[str, Any]:
    return dataset.canary(
        lambda what: watermark.canary_bytes(export_id, i, what),
        lambda field: watermark.canary_id(export_id, i, field),
        scope,
    )


def _project(
    row: dict[str, Any], columns: tuple[str, ...], ids: list[str], fkey: bytes, watermark: Watermark
) -> dict[str, Any]:
    out = {c: row.get(c) for c in columns}
    for c in ids:
        if out[c] is not None:
            out[c] = watermark.mark_id(str(out[c]), fkey)
    return out


def generate_aggregate(
    rec: ExportRecord,
    dataset: Any,
    engine: Engine,
    path: Path,
    max_rows: int,
    progress: Progress | None = None,
    *,
    at: float,
) -> Generated:
    """Counts over the approved axes, small cells suppressed (empty in CSV, null in JSON),
    with row, column and grand totals ('total'). `at`: when (the desk's clock)."""
    axes = [a for a in dataset.axes if a in rec.fields]
    # Every export of the dataset is a part of one suppressed two-way table: a one-way
    # table is its margins, hidden where it hides them. Suppressed on its own, a one-way
    # table would show a total the two-way one hid as a complement, and the two files
    # together would give back a small cell (the differencing attack). Across time, every
    # export is a release of that table under the dataset's ledger.
    table = released_table(engine, dataset, rec.public_id, at)
    if len(axes) == 1:
        keep = dataset.axes.index(axes[0])
        table = {(cell[keep], TOTAL): n for cell, n in table.items() if cell[1 - keep] == TOTAL}
    columns = (*axes, COUNT_COLUMN)

    def order(cell: tuple[str, str]) -> tuple[bool, str, bool, str]:
        return (cell[0] == TOTAL, cell[0], cell[1] == TOTAL, cell[1])

    def stream() -> Iterator[dict[str, Any]]:
        for cell in sorted(table, key=order):
            row = dict(zip(axes, cell, strict=False))
            row[COUNT_COLUMN] = table[cell]
            yield row

    written = write_export(
        path,
        rec.format,
        columns,
        itertools.islice(stream(), max_rows),
        (lambda n: progress(n, None)) if progress is not None else None,
    )
    return Generated(written, written.rows, 0, columns)
