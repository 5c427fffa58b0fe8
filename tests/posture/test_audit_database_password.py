"""SR024: a database password written inside config.toml (in registry_url or journal_url)
is flagged at its line, without the password; a URL without one, or a password kept in a
file named by `registry_password_file`, is not."""

from __future__ import annotations

from pathlib import Path

from strongroom.policy import DEFAULT_POLICY_PATH
from strongroom.posture import Severity, load_audit_input, run_audit
from tests.posture.test_audit_keys import OPENAPI, config, line_of

SECRET = "s3cr:et@pa/ss"  # noqa: S105 - a test value


def sr024(path: Path) -> list[tuple[Severity, str, int]]:
    report = run_audit(load_audit_input(str(DEFAULT_POLICY_PATH), OPENAPI, config=str(path)))
    return [(f.severity, f.message, f.location.line) for f in report.by_rule("SR024")]


def test_a_password_inside_a_url_is_high_and_never_shown(tmp_path: Path) -> None:
    from sqlalchemy.engine import URL

    url = URL.create(
        "postgresql+psycopg", username="sr", password=SECRET, host="db", database="journal"
    ).render_as_string(hide_password=False)
    path = config(tmp_path, journal_url=url)
    [(severity, message, line)] = sr024(path)
    assert severity is Severity.HIGH and "journal_url" in message
    assert line == line_of(path, "journal_url")
    assert SECRET not in message and "s3cr" not in message


def test_urls_without_a_password_pass(tmp_path: Path) -> None:
    assert sr024(config(tmp_path / "a")) == []  # the SQLite defaults
    password_file = tmp_path / "pg-password"
    password_file.write_text(SECRET + "\n", encoding="utf-8")
    path = config(
        tmp_path / "b",
        registry_url="postgresql+psycopg://sr@db/registry",
        registry_password_file=str(password_file),
    )
    assert sr024(path) == []
