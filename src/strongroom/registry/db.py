"""Engines and schema for the registry database (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from strongroom.errors import BadRequest, Unavailable

MIGRATIONS = Path(__file__).with_name("migrations")


POOL_TIMEOUT = 5.0  # seconds a request waits for a connection before a 503


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine with the settings the registry needs on each backend. `pool_size` is the
    number of requests a worker serves at once: each holds at most one connection, and a
    few more serve the detectors' and sessions' own reads."""
    pool: dict[str, object] = {
        "pool_size": pool_size,
        "max_overflow": max(4, pool_size // 2),
        "pool_timeout": POOL_TIMEOUT,
    }
    try:
        if url.startswith("sqlite"):
            kwargs: dict[str, object] = {"connect_args": {"check_same_thread": False}}
            if url in ("sqlite://", "sqlite:///:memory:"):
                kwargs["poolclass"] = StaticPool
            else:
                kwargs.update(pool)
            engine = create_engine(url, **kwargs)
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True, **pool)
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        raise BadRequest(f"cannot use database URL {url!r}: {exc}") from exc
    return engine


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


def alembic_config(url: str):  # noqa: ANN201 - alembic types are optional
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the registry schema to `revision` with Alembic."""
    from alembic import command

    try:
        command.upgrade(alembic_config(url), revision)
    except SQLAlchemyError as exc:
        raise Unavailable(f"cannot migrate the registry database: {exc}") from exc
