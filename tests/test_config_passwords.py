"""The databases' passwords kept out of config.toml: read from a file (a Compose secret)
or from an environment variable the config names, set into the URL by SQLAlchemy (any
character works), never written by `init`, never printed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from psycopg import sql as pgsql
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from strongroom.cli.main import app
from strongroom.config import Home
from strongroom.errors import BadRequest
from strongroom.registry.db import make_engine
from tests.conftest import PG_ADMIN_URL, _unavailable

# Every character a URL would have to escape, and a quote for TOML and SQL.
PASSWORD = "p@ss:w/rd?#%&=+ 'q\"\\é"
PG_URL = "postgresql+psycopg://registrar@db.example:5432/registry"


def _home(tmp_path: Path, **settings: str) -> Home:
    home = Home(tmp_path / "home")
    home.ensure_dirs()
    home.write_config(replace(home.default_settings(), **settings))  # type: ignore[arg-type]
    return home


def _secret(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "secrets" / "pg"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def _line(home: Home, key: str) -> int:
    lines = home.config_path.read_text(encoding="utf-8").splitlines()
    return next(i for i, ln in enumerate(lines, start=1) if ln.startswith(f"{key} ="))


def test_a_password_from_a_file_is_set_into_the_url(tmp_path: Path) -> None:
    secret = _secret(tmp_path, PASSWORD + "\n")  # as `echo` writes it
    home = _home(tmp_path, registry_url=PG_URL, registry_password_file=str(secret))
    url = make_url(home.settings().registry_url)
    assert url.password == PASSWORD
    assert (url.username, url.host, url.port, url.database) == (
        "registrar",
        "db.example",
        5432,
        "registry",
    )
    assert PASSWORD not in home.config_path.read_text(encoding="utf-8")
    assert PASSWORD not in repr(home.settings())
    # The journal's URL is its own: untouched (SQLite in the home).
    assert home.settings().journal_url.endswith("/journal.db")


def test_a_password_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home(
        tmp_path,
        journal_url=PG_URL.replace("/registry", "/journal"),
        journal_password_env="STRONGROOM_JOURNAL_PASSWORD",
    )
    monkeypatch.setenv("STRONGROOM_JOURNAL_PASSWORD", PASSWORD)
    assert make_url(home.settings().journal_url).password == PASSWORD
    assert make_url(home.settings().registry_url).password is None
    monkeypatch.delenv("STRONGROOM_JOURNAL_PASSWORD")
    with pytest.raises(BadRequest) as err:
        home.settings()
    line = _line(home, "journal_password_env")
    assert f"config.toml:{line}" in err.value.detail
    assert "$STRONGROOM_JOURNAL_PASSWORD, which is not set" in err.value.detail


def test_a_missing_password_file_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "secrets" / "nowhere"
    home = _home(tmp_path, registry_url=PG_URL, registry_password_file=str(missing))
    r = CliRunner().invoke(app, ["principal", "list"], env={"STRONGROOM_HOME": str(home.path)})
    assert r.exit_code == 2, r.output
    line = _line(home, "registry_password_file")
    assert f"config.toml:{line}" in r.output and str(missing) in r.output, r.output
    assert "No such file" in r.output and "Traceback" not in r.output
    empty = _secret(tmp_path, "\n")
    with pytest.raises(BadRequest, match="is empty"):
        home.update_config(registry_password_file=str(empty))  # written, then read back


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        (
            {"registry_url": PG_URL.replace("registrar@", "registrar:old@")},
            "registry_url holds a password",
        ),
        ({"registry_password_env": "PG_PASSWORD"}, "both name the registry database's password"),
        ({"registry_url": "sqlite:///registry.db"}, "SQLite file, which has no password"),
    ],
)
def test_one_place_for_a_password(tmp_path: Path, settings: dict[str, str], says: str) -> None:
    secret = _secret(tmp_path, PASSWORD)
    home = _home(
        tmp_path, **{"registry_url": PG_URL, "registry_password_file": str(secret), **settings}
    )
    with pytest.raises(BadRequest) as err:
        home.settings()
    assert says in err.value.detail and "config.toml:" in err.value.detail
    assert "old" not in err.value.detail.replace("holds", "")  # a URL's password is masked


def test_a_misspelt_password_key_is_still_an_error_naming_its_line(tmp_path: Path) -> None:
    home = _home(tmp_path)
    text = home.config_path.read_text(encoding="utf-8")
    home.config_path.write_text(text + 'registry_pasword_file = "/run/secrets/pg"\n')
    with pytest.raises(BadRequest) as err:
        home.settings()
    line = len(text.splitlines()) + 1
    assert f"config.toml:{line}: unknown key 'registry_pasword_file'" in err.value.detail
    assert "did you mean 'registry_password_file'" in err.value.detail


def test_init_never_writes_a_password_it_was_given_with_a_file(tmp_path: Path) -> None:
    secret = _secret(tmp_path, PASSWORD)
    home = tmp_path / "home"
    given = PG_URL.replace("registrar@", "registrar:hunter2@")
    r = CliRunner().invoke(
        app,
        ["init", "--database", given, "--database-password-file", str(secret)],
        env={"STRONGROOM_HOME": str(home)},
    )
    assert r.exit_code == 2 and "registry_url holds a password" in r.output, r.output
    assert "hunter2" not in r.output and "registrar:***@db.example" in r.output
    assert not (home / "config.toml").exists()


def _scram_matches(verifier: str, password: str) -> bool:
    """PostgreSQL's stored SCRAM-SHA-256 verifier (RFC 5802/7677) against a password."""
    method, rest = verifier.split("$", 1)
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key, server_key = keys.split(":")
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server = hmac.new(salted, b"Server Key", "sha256").digest()
    return (
        method == "SCRAM-SHA-256"
        and hashlib.sha256(client_key).digest() == base64.b64decode(stored_key)
        and server == base64.b64decode(server_key)
    )


def test_a_postgresql_role_with_a_password_from_a_secret_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local server trusts 127.0.0.1 (pg_hba `trust`), so it never asks for the
    password: the connection proves the URL's user, host and database, and the password
    the engine holds is checked against the role's SCRAM verifier PostgreSQL stored."""
    role, db = f"sr_pw_{uuid.uuid4().hex[:10]}", f"sr_pw_{uuid.uuid4().hex[:10]}"
    try:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            # DDL takes no bound parameters: the driver quotes the literal.
            create = pgsql.SQL("CREATE ROLE {} LOGIN PASSWORD {}")
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.execute(create.format(pgsql.Identifier(role), pgsql.Literal(PASSWORD)))
            conn.exec_driver_sql(f"CREATE DATABASE {db} OWNER {role}")
    except sa.exc.OperationalError as exc:
        _unavailable("PostgreSQL", exc)
    try:
        secret = _secret(tmp_path, PASSWORD + "\n")
        base = make_url(PG_ADMIN_URL).set(username=role, password=None, database=db)
        home = tmp_path / "home"
        monkeypatch.setenv("SR_TEST_JOURNAL_PASSWORD", PASSWORD)
        r = CliRunner().invoke(
            app,
            [
                "init",
                "--database",
                base.render_as_string(hide_password=False),
                "--database-password-file",
                str(secret),
                # the journal in the same database, its password from the environment
                "--journal",
                base.render_as_string(hide_password=False),
                "--journal-password-env",
                "SR_TEST_JOURNAL_PASSWORD",
            ],
            env={"STRONGROOM_HOME": str(home)},
        )
        assert r.exit_code == 0, r.output
        # Printed masked; never written.
        assert PASSWORD not in r.output and r.output.count(f"{role}:***@") == 2, r.output
        config = (home / "config.toml").read_text(encoding="utf-8")
        assert PASSWORD not in config
        assert f'registry_password_file = "{secret}"' in config
        assert 'journal_password_env = "SR_TEST_JOURNAL_PASSWORD"' in config
        engine = make_engine(Home(home).settings().registry_url)
        try:
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT current_user")).scalar() == role
                # init migrated the registry as that role
                assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar()
            assert engine.url.password == PASSWORD
            assert make_url(Home(home).settings().journal_url).password == PASSWORD
            assert PASSWORD not in str(engine.url) and PASSWORD not in repr(engine)
        finally:
            engine.dispose()
        with admin.connect() as conn:
            stored = conn.execute(
                sa.text("SELECT rolpassword FROM pg_authid WHERE rolname = :r"), {"r": role}
            ).scalar()
        assert _scram_matches(str(stored), PASSWORD)
        assert not _scram_matches(str(stored), PASSWORD + "x")
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()
