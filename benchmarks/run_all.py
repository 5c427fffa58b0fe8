"""Run every benchmark (`bench_*.py`) in turn and gather their JSON results into
benchmarks/results/summary.json. `--quick` passes --quick to each (small sizes)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from results_dir import results_dir

HERE = Path(__file__).resolve().parent
RESULTS = results_dir()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("only", nargs="*", help="names to run (e.g. vault journal)")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.only]
    failed = []
    for script in scripts:
        print(f"== {script.stem}", flush=True)
        started = time.perf_counter()
        cmd = [sys.executable, str(script)] + (["--quick"] if args.quick else [])
        code = subprocess.call(cmd, cwd=HERE.parent)
        print(f"== {script.stem}: exit {code} in {time.perf_counter() - started:.1f} s", flush=True)
        if code:
            failed.append(script.stem)
    summary = {}
    for path in sorted(RESULTS.glob("*.json")):
        if path.name == "summary.json":
            continue
        try:
            summary[path.stem] = json.loads(path.read_text())
        except json.JSONDecodeError:
            summary[path.stem] = {"error": "unreadable result"}
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2))
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
