"""One small seeded home per session, copied for each simulation (seeding is the slow
part; a copy keeps person IDs, so two runs on copies see the same registry)."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.config import Home
from strongroom.simulate import seed_template

PERSONS = 400
SEED = 5


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Home:
    return seed_template(
        Path(tmp_path_factory.mktemp("sim")) / "template", persons=PERSONS, seed=SEED
    )
