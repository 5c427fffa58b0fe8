"""Create a home folder: config, policy, keys and schemas (`strongroom init`)."""

from __future__ import annotations

import shutil
from dataclasses import replace

from strongroom.config import MODES, Home, Settings
from strongroom.errors import BadRequest


def initialize(
    home: Home,
    *,
    registry_url: str | None = None,
    journal_url: str | None = None,
    redis_url: str | None = None,
    mode: str | None = None,
) -> Settings:
    """Create the home folder: config, policy copy, keys (0600 in a 0700 folder), the
    registry schema (Alembic) and the journal schema. Idempotent: existing keys are kept,
    and on an existing home only the URLs given change in config.toml."""
    from strongroom.auth.keys import ensure_signing_keys
    from strongroom.journal import create_checkpoint_key
    from strongroom.journal.checkpoint import SIGNER_FILE
    from strongroom.policy import DEFAULT_POLICY_PATH
    from strongroom.registry.db import upgrade
    from strongroom.vault import open_key_provider

    if mode is not None and mode not in MODES:
        raise BadRequest(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
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
        )
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
