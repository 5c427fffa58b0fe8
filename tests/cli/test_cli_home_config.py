"""The home and its config, as an operator meets them: unknown keys are errors naming the
key and its line, init on an existing home changes only what it is told, a moved home
works where it lies, and several workers need a shared store."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from strongroom.cli.main import app
from strongroom.compose import compose
from strongroom.config import Home
from strongroom.registry.models import Person


def init(home: Path, *args: str) -> None:
    r = CliRunner().invoke(app, ["init", *args], env={"STRONGROOM_HOME": str(home)})
    assert r.exit_code == 0, r.output


def test_a_misspelt_key_is_an_error_naming_it_and_its_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init(home)
    config = home / "config.toml"
    config.write_text(config.read_text() + 'redis_ur = "redis://127.0.0.1:6379/0"\n')
    line = len(config.read_text().splitlines())
    r = CliRunner().invoke(app, ["principal", "list"], env={"STRONGROOM_HOME": str(home)})
    assert r.exit_code == 2
    assert f"config.toml:{line}" in r.output and "redis_ur" in r.output
    assert "redis_url" in r.output  # the suggestion
    assert "Traceback" not in r.output


def test_init_on_an_existing_home_changes_only_what_it_is_told(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init(home)
    config = home / "config.toml"
    text = config.read_text().replace('alerts_syslog = ""', 'alerts_syslog = "127.0.0.1:5514"')
    config.write_text(text + "# our SOC's collector, ticket OPS-12\n")
    init(home, "--redis", "redis://127.0.0.1:6379/3")
    after = config.read_text()
    settings = Home(home).settings()
    assert settings.redis_url == "redis://127.0.0.1:6379/3"
    assert settings.alerts_syslog == "127.0.0.1:5514"
    assert "# our SOC's collector, ticket OPS-12" in after
    assert (
        after.replace('redis_url = "redis://127.0.0.1:6379/3"', "")
        == text.replace('redis_url = ""  # empty: budgets in this process', "")
        + "# our SOC's collector, ticket OPS-12\n"
    )


def test_a_moved_home_uses_its_own_databases(tmp_path: Path) -> None:
    from strongroom.cli.seeding import seed_home

    first = Home(tmp_path / "first")
    init(first.path)
    seed_home(first, persons=30, seed=3)
    moved = tmp_path / "elsewhere" / "restored"
    shutil.copytree(first.path, moved)
    shutil.rmtree(first.path)  # the original is gone: nothing may still point at it
    svc = compose(Home(moved))
    try:
        assert str(moved) in str(svc.engine.url)
        with svc.registry.session() as s:
            assert s.execute(select(func.count(Person.id))).scalar_one() >= 30
        assert svc.journal.size() >= 0
    finally:
        svc.close()
    assert not first.path.exists()


def test_several_workers_without_a_shared_store_are_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init(home)
    r = CliRunner().invoke(
        app, ["serve", "--port", "1", "--workers", "2"], env={"STRONGROOM_HOME": str(home)}
    )
    assert r.exit_code == 2
    assert "redis_url" in r.output and "Traceback" not in r.output


def test_mode_is_written_by_init_and_checked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init(home)
    config = home / "config.toml"
    text = config.read_text()
    assert 'mode = "demo"' in text and "# production:" in text
    assert Home(home).settings().mode == "demo"

    init(home, "--mode", "production")
    assert Home(home).settings().production
    assert config.read_text() == text.replace('mode = "demo"', 'mode = "production"')

    env = {"STRONGROOM_HOME": str(home)}
    demo = CliRunner().invoke(app, ["demo", "--no-serve", "--persons", "100"], env=env)
    assert demo.exit_code == 2 and "production" in demo.output

    config.write_text(text.replace('mode = "demo"', 'mode = "staging"'))
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith("mode ="))
    r = CliRunner().invoke(app, ["principal", "list"], env=env)
    assert r.exit_code == 2
    assert f"config.toml:{line}" in r.output and "staging" in r.output
    bad = CliRunner().invoke(app, ["init", "--mode", "staging"], env=env)
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_init_writes_the_operations_settings_and_they_are_checked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init(home)
    config = home / "config.toml"
    text = config.read_text()
    for line in (
        'metrics_allow = ["127.0.0.0/8", "::1/128"]',
        'log_format = "json"',
        "access_log = true",
        "shutdown_grace_seconds = 5",
    ):
        assert line in text
    settings = Home(home).settings()
    assert settings.metrics_allow == ("127.0.0.0/8", "::1/128")
    assert (settings.log_format, settings.access_log, settings.shutdown_grace_seconds) == (
        "json",
        True,
        5,
    )
    for bad, says in (
        ('metrics_allow = ["10.0.0.0/33"]', "metrics_allow"),
        ('log_format = "xml"', "log_format must be one of json, text"),
        ('access_log = "yes"', "access_log must be true or false"),
        ("shutdown_grace_seconds = 0", "shutdown_grace_seconds"),
    ):
        key = bad.split(" ", 1)[0]
        lines = [ln for ln in text.splitlines() if not ln.startswith(key + " ")]
        config.write_text("\n".join([*lines, bad]) + "\n")
        r = CliRunner().invoke(app, ["principal", "list"], env={"STRONGROOM_HOME": str(home)})
        assert r.exit_code == 2 and says in r.output, r.output
    config.write_text(
        text.replace('metrics_allow = ["127.0.0.0/8", "::1/128"]', "metrics_allow = []")
    )
    assert Home(home).settings().metrics_allow == ()


def test_init_writes_the_external_issuer_settings_and_they_are_checked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init(home)
    config = home / "config.toml"
    text = config.read_text()
    for line in (
        'external_issuer = ""',
        "external_roles = []",
        'external_role_claim = "realm_access.roles"',
        'external_purpose_claim = "purpose"',
    ):
        assert line in text
    assert Home(home).settings().external_issuer is None
    env = {"STRONGROOM_HOME": str(home)}
    issuer = 'external_issuer = "https://kc.example/realms/registry"'
    own = Home(home).settings().issuer
    for bad, says in (
        # Our own issuer's name for the provider: which key set signs would be a guess.
        (
            [f'external_issuer = "{own}"', 'external_roles = ["gendarme=police"]'],
            "is this server's own issuer",
        ),
        ([issuer], "external_issuer needs external_roles"),
        ([issuer, 'external_roles = ["gendarme"]'], 'is not "<their role>=<our role>"'),
        ([issuer, 'external_roles = ["gendarme=sheriff"]'], "does not have: sheriff"),
    ):
        keys = {b.split(" ", 1)[0] for b in bad}
        lines = [ln for ln in text.splitlines() if ln.split(" ", 1)[0] not in keys]
        config.write_text("\n".join([*lines, *bad]) + "\n")
        r = CliRunner().invoke(app, ["principal", "list"], env=env)
        assert r.exit_code == 2 and says in r.output, r.output
        assert "Traceback" not in r.output
    Home(home).update_config(external_roles=["gendarme = police"])
    settings = Home(home).settings()
    assert settings.external_issuer == "https://kc.example/realms/registry"
    assert settings.external_roles == ("gendarme=police",)


def test_a_home_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    """A home under a file (or on a read-only volume) is refused with its path and the
    system's reason, exit 2, no traceback; nothing is left behind."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    r = CliRunner().invoke(app, ["init"], env={"STRONGROOM_HOME": str(blocker / "home")})
    assert r.exit_code == 2, r.output
    assert f"{blocker / 'home'}: Not a directory" in r.output
    assert "Traceback" not in r.output
    assert blocker.read_text() == "not a folder\n"
