"""Create a home folder: config, policy, keys and schemas (`strongroom init`)."""

from __future__ import annotations

import shutil
from dataclasses import replace

from strongroom.config import MODES, Home, Settings, check_key_provider, check_password_source
from strongroom.errors import BadRequest, Conflict

# Where the vault's keys are (docs/keys.md); `init` writes them like the URLs.
KEY_SETTINGS = (
    "key_provider",
    "pkcs11_module",
    "pkcs11_token_label",
    "pkcs11_pin_file",
    "pkcs11_pin_env",
)
# Where the databases' passwords are, when not in their URLs; `init` writes them too.
PASSWORD_SETTINGS = (
    "registry_password_file",
    "registry_password_env",
    "journal_password_file",
    "journal_password_env",
)


def initialize(
    home: Home,
    *,
    registry_url: str | None = None,
    journal_url: str | None = None,
    redis_url: str | None = None,
    mode: str | None = None,
    keys: dict[str, str] | None = None,
    passwords: dict[str, str] | None = None,
) -> Settings:
    """Create the home folder: config, policy copy, keys (0600 in a 0700 folder, or in the
    HSM `keys` names: `KEY_SETTINGS`), the registry schema (Alembic) and the journal schema.
    Idempotent: existing keys are kept, and on an existing home only the settings given
    change in config.toml. Changing the key provider of a registry that holds data is
    refused: its data keys are wrapped under the old provider's KEKs. `passwords` names
    where the databases' passwords are (`PASSWORD_SETTINGS`); a URL given with a password
    of its own is then refused before anything is written, so config.toml never holds it."""
    from strongroom.auth.keys import ensure_signing_keys
    from strongroom.journal import create_checkpoint_key
    from strongroom.journal.checkpoint import SIGNER_FILE
    from strongroom.policy import DEFAULT_POLICY_PATH
    from strongroom.registry.db import upgrade
    from strongroom.vault import open_key_provider

    if mode is not None and mode not in MODES:
        raise BadRequest(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    key_values = {k: v for k, v in (keys or {}).items() if v}
    unknown = sorted(set(key_values) - set(KEY_SETTINGS))
    if unknown:
        raise BadRequest(f"unknown key setting(s): {', '.join(unknown)}")
    secret_values = {k: v for k, v in (passwords or {}).items() if v}
    unknown = sorted(set(secret_values) - set(PASSWORD_SETTINGS))
    if unknown:
        raise BadRequest(f"unknown password setting(s): {', '.join(unknown)}")
    home.ensure_dirs()
    if home.exists():
        given = {
            key: value
            for key, value in (
                ("registry_url", registry_url),
                ("journal_url", journal_url),
                ("redis_url", redis_url),
                ("mode", mode),
            )
            if value
        }
        given.update(key_values)
        given.update(secret_values)
        current = home.settings()
        _check_passwords(current, given, written=False)
        check_key_provider(replace(current, **given))
        provider = given.get("key_provider", current.key_provider)
        if provider != current.key_provider and _holds_data_keys(current.registry_url):
            raise Conflict(
                f"the registry's data keys are wrapped under the {current.key_provider!r} "
                f"provider's KEKs: switching to {provider!r} would make them unreadable "
                "(migrating a registry between providers is not supported)"
            )
        if given:
            home.update_config(**given)
        settings = home.settings()
    else:
        defaults = home.default_settings()
        settings = replace(
            defaults,
            registry_url=registry_url or defaults.registry_url,
            journal_url=journal_url or defaults.journal_url,
            redis_url=redis_url,
            mode=mode or defaults.mode,
            **key_values,  # type: ignore[arg-type]
            **secret_values,
        )
        _check_passwords(settings, {}, written=True)
        check_key_provider(settings)
        home.write_config(settings)
        settings = home.settings()  # as the server reads it: relative paths in the home
    if not home.policy_path.exists():
        shutil.copyfile(DEFAULT_POLICY_PATH, home.policy_path)
    open_key_provider(home, settings, create=True)
    ensure_signing_keys(home.keys_dir)
    if not (home.keys_dir / SIGNER_FILE).exists():
        create_checkpoint_key(home.keys_dir)
    upgrade(settings.registry_url)
    return settings


def _check_passwords(current: Settings, given: dict[str, str], *, written: bool) -> None:
    """Refuse a database URL holding a password when a file or an environment variable is
    to hold it, before config.toml is written. `current`: the settings as they will be
    written (`written`), or as the home reads them, resolved passwords and all."""
    for db in ("registry", "journal"):
        key = f"{db}_url"
        file = given.get(f"{db}_password_file") or getattr(current, f"{db}_password_file")
        env = given.get(f"{db}_password_env") or getattr(current, f"{db}_password_env")
        if not (file or env):
            continue
        had_source = getattr(current, f"{db}_password_file") or getattr(
            current, f"{db}_password_env"
        )
        # A URL read from a home that names a source already carries the password read.
        url = given.get(key) or (getattr(current, key) if written or not had_source else None)
        if url:
            check_password_source(url, key, file, env, where="strongroom init")


def _holds_data_keys(registry_url: str) -> bool:
    from sqlalchemy import inspect, select

    from strongroom.registry.db import make_engine
    from strongroom.registry.models import DataKey

    engine = make_engine(registry_url)
    try:
        if not inspect(engine).has_table(DataKey.__tablename__):
            return False
        with engine.connect() as conn:
            return conn.execute(select(DataKey.id).limit(1)).first() is not None
    finally:
        engine.dispose()
