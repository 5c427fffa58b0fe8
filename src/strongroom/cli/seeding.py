"""Seeding a home's registry, with a progress bar for people and none for tests."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from strongroom.cli.common import counting
from strongroom.config import Home

DEMO_FILE = "demo.json"
PARALLEL_FROM = 50_000


def seed_home(
    home: Home, *, persons: int, seed: int, progress: Callable[[int], None] | None = None
) -> Any:
    """Seed the home's registry and keep the demo fixtures (synthetic values the demo
    prints in its curl examples) in `demo.json`, mode 0600, outside the database (only
    when the keys are in files: an HSM-backed home keeps no clear value)."""
    from strongroom.registry.db import make_engine
    from strongroom.registry.keystore import registry_vault
    from strongroom.registry.seed import seed as run
    from strongroom.registry.seed_parallel import file_vault_factory
    from strongroom.vault import open_key_provider

    settings = home.settings()
    engine = make_engine(settings.registry_url)
    try:
        vault = registry_vault(open_key_provider(home, settings), engine)
        # Large seeds plan and encrypt in worker processes while this one writes (file keys
        # only: the workers read keys/vault.json; an HSM-backed home seeds in this process).
        parallel = persons >= PARALLEL_FROM and settings.key_provider == "file"
        workers = (os.cpu_count() or 1) if parallel else 0
        report = run(
            engine,
            vault,
            persons=persons,
            seed=seed,
            progress=progress,
            workers=workers,
            vault_factory=file_vault_factory(home.keys_dir, settings.registry_url)
            if workers
            else None,
        )
    finally:
        engine.dispose()
    if settings.key_provider != "file":
        # The fixtures are clear values (a family name, a permit number): a home whose keys
        # are in an HSM keeps none, so a copy of it holds no PII at all.
        return report
    path = home.path / DEMO_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"fixtures": report.fixtures}, fh, indent=2, default=str)
    return report


def run_seed(home: Home, *, persons: int, seed: int) -> Any:
    with counting("seeding persons", persons) as advance:
        return seed_home(home, persons=persons, seed=seed, progress=advance)


def read_demo(home: Home) -> dict[str, Any]:
    """What the demo keeps in `demo.json` (fixtures, principals, case); empty before the
    first seed."""
    path = home.path / DEMO_FILE
    if not path.is_file():
        return {}
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def write_demo(home: Home, doc: dict[str, Any]) -> None:
    """Rewrite an existing `demo.json` (its 0600 mode stays); before the seed wrote one,
    there is nothing to keep the demo's choices beside."""
    path = home.path / DEMO_FILE
    if path.is_file():
        path.write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")


def load_fixtures(home: Home) -> dict[str, Any] | None:
    return read_demo(home).get("fixtures")
