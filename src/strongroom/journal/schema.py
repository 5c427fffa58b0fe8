"""Create the journal's tables, and refuse a database of another layout.

The journal is a database apart from the registry (it must outlive it), so it does not
share the registry's Alembic history: `journal_meta.schema_version` records the layout
(`tables.SCHEMA_VERSION`) it was created with, and a database of any other version is
refused before anything is written to it. The indexes beside it are derived data: an
index database of another layout (`tables.INDEX_VERSION`) is emptied and rebuilt from the
log, by the writer in the background or at once by `strongroom journal reindex`.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from strongroom.errors import BadRequest, Unavailable
from strongroom.journal import store
from strongroom.journal import tables as t
from strongroom.journal.engines import writing

log = logging.getLogger(__name__)


def check_version(found: str | None) -> None:
    """Refuse a recorded schema version other than this software's (None: a new journal)."""
    if found is None or found == str(t.SCHEMA_VERSION):
        return
    if found.isdigit() and int(found) > t.SCHEMA_VERSION:
        raise BadRequest(
            f"journal schema version {found} is newer than this software's "
            f"({t.SCHEMA_VERSION}): open it with the software that wrote it"
        )
    raise BadRequest(
        f"journal schema version {found} is not this software's ({t.SCHEMA_VERSION}), "
        "and no upgrade from it exists"
    )


def ensure_schema(engine: Engine, index_engine: Engine) -> None:
    """Check the schema version and create the log's tables if absent, then the indexes'
    (`index_engine`, as `engines.make_engines` gives it). An index that reaches beyond
    the log (a log restored from a backup older than its index) is emptied, to be rebuilt
    from the log."""
    try:
        with writing(engine) as conn:
            if inspect(conn).has_table(t.meta.name):
                check_version(store.read_meta(conn, t.meta, t.SCHEMA_VERSION_KEY))
            t.metadata.create_all(conn)
            store.write_meta(conn, t.meta, t.SCHEMA_VERSION_KEY, str(t.SCHEMA_VERSION))
            size = store.log_size(conn)
        with writing(index_engine, index=True) as conn:
            t.index_metadata.create_all(conn)
            reach = max(
                store.indexed_size(conn),
                int(conn.execute(select(func.max(t.index_ranges.c.hi))).scalar() or 0),
            )
            version = store.read_meta(conn, t.index_meta, t.INDEX_VERSION_KEY)
            if reach > size or version != str(t.INDEX_VERSION):
                if reach:
                    log.warning(
                        "journal indexes emptied (%s): the writer rebuilds them from the "
                        "log's %d entries in the background; `strongroom journal reindex` "
                        "does it now, with progress",
                        "they reach beyond the log"
                        if reach > size
                        else f"layout {version or 1}, now {t.INDEX_VERSION}",
                        size,
                    )
                for table in t.index_metadata.sorted_tables:
                    conn.execute(table.delete())
                store.write_meta(conn, t.index_meta, t.INDEX_VERSION_KEY, str(t.INDEX_VERSION))
    except SQLAlchemyError as exc:
        raise Unavailable(f"cannot prepare the journal database: {exc}") from exc
