"""benchmarks/profile_stages.py shares a served request's CPU out by stage: each py-spy
sample goes to its innermost frame of Strongroom or of the HTTP framework, the libraries
Strongroom calls to their caller."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from profile_stages import FRAMEWORK, stages  # noqa: E402

PROC = 'process 1:"python -m strongroom.cli.main serve"'
LOOP = "Handle._run (asyncio/events.py:80)"
ROUTE = "APIRoute.handle (fastapi/routing.py:1373)"
DOOR = "Door.__call__ (strongroom/api/admission.py:90)"
RESERVE = "RedisBackend.reserve (strongroom/budgets/redis_backend.py:69)"
REDIS = "Redis.execute_command (redis/client.py:957)"
SQL = "Connection.execute (sqlalchemy/engine/base.py:1494)"
REGISTRY = "Registry.person_blobs (strongroom/registry/repository.py:219)"
SERVE = "Pipeline.serve (strongroom/gate/pipeline.py:151)"


def test_samples_go_to_the_stage_that_called_the_library(tmp_path: Path) -> None:
    samples = tmp_path / "samples.txt"
    lines = [
        (";".join([PROC, LOOP, DOOR, RESERVE, REDIS]), 3),  # redis-py under the budgets
        (";".join([PROC, LOOP, DOOR, ROUTE]), 2),  # FastAPI's routing under our door
        (";".join([PROC, SERVE, REGISTRY, SQL]), 4),  # SQLAlchemy under the registry
        (";".join([PROC, SERVE]), 1),  # the pipeline itself
    ]
    samples.write_text("\n".join(f"{stack} {n}" for stack, n in lines) + "\n")
    shares = stages(samples)
    assert shares == {
        "registry (SQL)": 0.4,
        "budgets (Redis)": 0.3,
        FRAMEWORK: 0.2,
        "gate (pipeline, masking)": 0.1,
    }
    assert list(shares) == sorted(shares, key=shares.__getitem__, reverse=True)
