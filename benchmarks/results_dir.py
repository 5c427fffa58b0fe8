"""Where the benchmarks write their JSON results: benchmarks/results/, or the folder in
$STRONGROOM_BENCH_RESULTS (the test suite's smoke run of every benchmark writes to a
temporary one, so it never overwrites measured figures)."""

from __future__ import annotations

import os
from pathlib import Path


def results_dir() -> Path:
    return Path(
        os.environ.get("STRONGROOM_BENCH_RESULTS") or Path(__file__).resolve().parent / "results"
    )
