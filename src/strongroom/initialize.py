"""Create a home folder: config, policy, keys and schemas (`strongroom init`)."""

from __future__ import annotations

import shutil
from dataclasses import replace

from strongroom.config import MODES, Home, Settings, check_key_provider
from strongroom.errors import BadRequest, Conflict

# Where the vault's keys are (docs/keys.md); `init` writes them like the URLs.
KEY_SETTINGS = (
    "key_provider",
    "pkcs11_module",
    "pkcs11_token_label",
    "pkcs11_pin_file",
    "pkcs11_pin_env",
)


def initialize(
    home: Home,
    *,
    registry_url: str | None = None,
    journal_url: str | None = None,
    redis_url: str | None = None,
    mode: str | None = None,
    keys: dict[str, str] | None = None,
) -> Settings:
    """Create the home folder: config, policy copy, keys (0600 in a 0700 folder, or in the
    HSM `keys` names: `KEY_SETTINGS`), the registry schema (Alembic) and the journal schema.
    Idempotent: existing keys are kept, and on an existing home only the settings given
    change in config.toml. Changing the key provider of a registry that holds data is
    refused: its data keys are wrapped under the old provider's KEKs."""
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
        current = home.settings()
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
        )
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
