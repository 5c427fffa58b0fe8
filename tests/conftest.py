"""Shared fixtures. Backends are real: SQLite files, the PostgreSQL and Redis servers on
127.0.0.1. Under CI=true a missing server fails the run; elsewhere it skips."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.hsm_testkit import HsmToken

PG_ADMIN_URL = os.environ.get(
    "STRONGROOM_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("STRONGROOM_TEST_REDIS", "redis://127.0.0.1:6379/0")
TESTDATA = Path(__file__).resolve().parent / "testdata"


def _unavailable(what: str, exc: Exception) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required under CI and is not reachable: {exc}")
    pytest.skip(f"{what} not reachable: {exc}")


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    import sqlalchemy as sa

    name = f"sr_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means unavailable
        _unavailable("PostgreSQL", exc)
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    with pg_database() as url:
        yield url


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The Redis server's URL. Tests must use unique key prefixes (see `redis_prefix`)."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001
        _unavailable("Redis", exc)
    yield REDIS_URL


@pytest.fixture
def redis_prefix() -> str:
    return f"srtest:{uuid.uuid4().hex[:10]}:"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One contract, every backend: a database URL, SQLite file or PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def testdata() -> Path:
    """Public test vectors kept in the repository (tests/testdata, each folder with its
    licence and source): a clone anywhere runs them."""
    if not TESTDATA.is_dir():
        pytest.fail(f"test data folder missing: {TESTDATA}")
    return TESTDATA


@pytest.fixture
def hsm_token(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> HsmToken:
    """A fresh SoftHSM2 token (tests/hsm_testkit.py), outside the test's tmp_path."""
    from tests.hsm_testkit import make_token

    return make_token(tmp_path_factory.mktemp("softhsm"), monkeypatch)
