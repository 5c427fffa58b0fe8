"""PostgreSQL: a release in schema `analytics`, and the analysts' role reading it and
nothing else, tried by connecting as that role: base tables, the journal, the wrapped data
keys, the suppression ledger, server files: all refused. Under CI=true these run (the
pg_url fixture fails rather than skips)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from analytics_testkit import policy_text
from typer.testing import CliRunner

from strongroom.cli.analytics_cmds import analytics_app
from strongroom.cli.seeding import seed_home
from strongroom.clock import FakeClock
from strongroom.compose import Service, compose
from strongroom.config import Home
from strongroom.errors import BadRequest
from strongroom.initialize import initialize

PASSWORD = "correct horse battery staple"
VIEWS = {"owners_by_region_age", "owner_rows", "owner_rows_coarse", "weapons_by_category"}


@pytest.fixture
def pg_home(pg_url: str, tmp_path: Path) -> Home:
    home = Home(tmp_path / "home")
    # The journal in the same database: the role must not read it either.
    initialize(home, registry_url=pg_url, journal_url=pg_url)
    home.policy_path.write_text(policy_text(), encoding="utf-8")
    seed_home(home, persons=600, seed=5)
    return home


@pytest.fixture
def svc(pg_home: Home) -> Iterator[Service]:
    service = compose(pg_home, clock=FakeClock())
    try:
        yield service
    finally:
        service.close()


@pytest.fixture
def role(pg_url: str) -> Iterator[str]:
    """A role of this test only: roles are shared by every database of the server."""
    name = f"sr_analyst_{uuid.uuid4().hex[:10]}"
    yield name
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.execute(
                sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": name}
            ).first():
                conn.execute(sa.text(f'DROP OWNED BY "{name}"'))
                conn.execute(sa.text(f'DROP ROLE "{name}"'))
    finally:
        admin.dispose()


def connect_as(pg_url: str, role: str) -> psycopg.Connection:
    url = sa.make_url(pg_url)
    return psycopg.connect(
        host=url.host,
        port=url.port or 5432,
        dbname=url.database,
        user=role,
        password=PASSWORD,
        autocommit=True,
    )


def refused(conn: psycopg.Connection, sql: str) -> bool:
    try:
        conn.execute(sql).fetchall()
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def test_the_release_is_schema_analytics(svc: Service) -> None:
    report = svc.analytics.build(svc.admin.operator())
    assert report.target == "schema analytics"
    with svc.engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names(schema="analytics"))
        comment = sa.inspect(conn).get_table_comment("owner_rows", schema="analytics")
    assert tables == VIEWS | {"release_info"}
    assert comment["text"] == "Owners, one row each."
    # A view dropped from the policy is dropped from the schema at the next build.
    svc.analytics.spec = svc.analytics.spec.model_copy(
        update={
            "views": {k: v for k, v in svc.analytics.spec.views.items() if k != "owner_rows_coarse"}
        }
    )
    svc.analytics.build(svc.admin.operator())
    with svc.engine.connect() as conn:
        assert "owner_rows_coarse" not in sa.inspect(conn).get_table_names(schema="analytics")


def test_the_analyst_reads_analytics_and_nothing_else(svc: Service, pg_url: str, role: str) -> None:
    svc.analytics.build(svc.admin.operator())
    report = svc.analytics.grant(svc.admin.operator(), role, password=PASSWORD)
    assert report.created and report.login and report.confined
    assert report.tables == len(VIEWS) + 1

    with connect_as(pg_url, role) as conn:
        # search_path is analytics: the views by their bare names
        (n,) = conn.execute("SELECT count(*) FROM owners_by_region_age").fetchone()
        assert n > 0
        conn.execute("SELECT * FROM owner_rows").fetchall()
        assert conn.execute("SELECT release FROM release_info").fetchone() == (1,)
        for table in (
            "persons",
            "identities",
            "addresses",
            "permits",
            "weapons",
            "data_keys",
            "canary_marks",
            "auth_credentials",
            "journal_leaves",
            "journal_checkpoints",
            "analytics_cells",
            "analytics_knowledge",
            "analytics_releases",
        ):
            assert refused(conn, f"SELECT * FROM public.{table} LIMIT 1"), table
        assert refused(conn, "COPY public.persons TO STDOUT")
        keys = str(svc.home.keys_dir / "vault.json")
        assert refused(conn, f"SELECT pg_read_file('{keys}')")
        assert refused(conn, "SELECT pg_ls_dir('.')")
        assert refused(conn, "CREATE TABLE analytics.mine (a int)")
        assert refused(conn, "CREATE TABLE public.mine (a int)")
        # No function in the database decrypts: none but PostgreSQL's own exist, and the
        # change log's trigger functions, which only triggers can call and nobody else may.
        own = conn.execute(
            "SELECT p.proname, pg_get_function_result(p.oid), "
            "has_function_privilege(p.oid, 'EXECUTE') FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        assert own and all(
            name.startswith("analytics_changed_") and result == "trigger" and not may
            for name, result, may in own
        ), own

    # A refresh drops and creates the tables: the role still reads the new ones.
    svc.analytics.build(svc.admin.operator(), refresh=True)
    with connect_as(pg_url, role) as conn:
        assert conn.execute("SELECT release FROM release_info").fetchone() == (2,)
        assert refused(conn, "SELECT * FROM public.persons LIMIT 1")

    entries = [svc.journal.entry(i) for i in range(svc.journal.size())]
    (granted,) = [e for e in entries if e.get("reason") == "analytics_granted"]
    assert granted["detail"]["role"] == role
    assert granted["detail"]["reach_beyond_analytics"] == []


def test_a_grant_reports_what_the_role_reaches_beyond_analytics(
    svc: Service, pg_url: str, pg_home: Home, role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc.analytics.build(svc.admin.operator())
    with svc.engine.begin() as conn:
        conn.execute(sa.text("GRANT SELECT ON public.persons TO PUBLIC"))
    monkeypatch.setenv("STRONGROOM_ANALYST_PASSWORD", PASSWORD)
    r = CliRunner().invoke(
        analytics_app,
        ["grant", "--role", role, "--login", "--json"],
        env={"STRONGROOM_HOME": str(pg_home.path)},
    )
    assert r.exit_code == 1, r.output
    body = json.loads(r.stdout)
    assert body["reach_beyond_analytics"] == ["table public.persons"]
    assert "reaches beyond analytics: table public.persons" in r.stderr


def test_grant_refuses_bad_input(svc: Service, role: str) -> None:
    with pytest.raises(BadRequest, match="no analytics schema yet"):
        svc.analytics.grant(svc.admin.operator(), role)
    svc.analytics.build(svc.admin.operator())
    with pytest.raises(BadRequest, match="role name"):
        svc.analytics.grant(svc.admin.operator(), 'x"; DROP TABLE persons; --')
    with pytest.raises(BadRequest, match="empty password"):
        svc.analytics.grant(svc.admin.operator(), role, password="")


def test_the_embedded_deployment_has_no_roles(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    initialize(home)
    svc = compose(home, clock=FakeClock())
    try:
        with pytest.raises(BadRequest, match="no database roles"):
            svc.analytics.grant(svc.admin.operator(), "strongroom_analyst")
    finally:
        svc.close()
