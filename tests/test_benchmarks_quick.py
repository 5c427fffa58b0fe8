"""Every benchmark runs end to end at small sizes (`run_all.py --quick`), so none rots
unnoticed between full runs: the figures in the README come from these scripts. Results
go to a temporary folder, never over measured figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_benchmark_runs_at_small_sizes(tmp_path: Path) -> None:
    env = {**os.environ, "STRONGROOM_BENCH_RESULTS": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "benchmarks/run_all.py", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    scripts = {p.stem.removeprefix("bench_") for p in (ROOT / "benchmarks").glob("bench_*.py")}
    written = {p.stem for p in tmp_path.glob("*.json")}
    assert written == scripts | {"summary"}
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary) == scripts
    assert not [name for name, result in summary.items() if "error" in result]
    assert summary["journal"]["append"]["verified"] is True
    assert summary["journal"]["sustained"]["processes_2x500_per_s"] > 0
