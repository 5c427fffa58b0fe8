"""Seeding streams in batches: the peak resident memory of a process that seeds 50,000
persons stays close to that of one seeding 10,000 (a seed that kept its rows would need
about 5 KB more per person, i.e. some 200 MB more).

Each size runs in a fresh interpreter, so the peak (ru_maxrss) belongs to that seed alone.
SQLite's page cache is native memory that grows with the file up to its configured bound
(512 MB while seeding by default); the children set it to 2 MB so that only the seed's own
memory counts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = r"""
import json, resource, sys
from pathlib import Path
from strongroom.registry.db import make_engine, upgrade
from strongroom.registry.keystore import SqlWrappedKeyStore
from strongroom.registry.seed import seed
from strongroom.vault import FileKeyProvider, Vault

folder, persons = Path(sys.argv[1]), int(sys.argv[2])
url = f"sqlite:///{folder / 'r.db'}"
upgrade(url)
engine = make_engine(url)
vault = Vault(FileKeyProvider.create(folder / "keys"), SqlWrappedKeyStore(engine))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
report = seed(engine, vault, persons=persons, seed=3, sqlite_cache_mib=2)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kb": before, "peak_kb": after, "persons": report.counts["persons"]}))
"""


def _peak_kb(tmp_path: Path, persons: int) -> dict[str, int]:
    folder = tmp_path / str(persons)
    folder.mkdir()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), str(persons)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["persons"] == persons
    return result


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_persons(tmp_path: Path) -> None:
    small = _peak_kb(tmp_path, 10_000)
    large = _peak_kb(tmp_path, 50_000)
    growth_small = small["peak_kb"] - small["before_kb"]
    growth_large = large["peak_kb"] - large["before_kb"]
    # 40,000 more persons kept in memory would add ~200 MB; bounded batches add ~nothing.
    assert growth_large < growth_small + 30_000, (small, large)
