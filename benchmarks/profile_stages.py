"""Where a served request's CPU goes, by stage of Strongroom's request path, from py-spy
samples (raw format, `--gil`: one sample per tick in which some thread of the server held
the GIL, so the samples share out the server's Python CPU time).

Each sample is charged to its innermost frame of Strongroom or of the HTTP server and
framework (uvicorn, h11, Starlette, FastAPI, anyio, asyncio); the libraries Strongroom
calls are charged to their caller: a redis-py frame under the budget backend is the
budgets' time, a SQLAlchemy frame under the registry is the registry's, FastAPI's routing
called from our middleware is the framework's.

    python benchmarks/profile_stages.py FILE.txt [--ms-per-request 5.2]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

# Innermost match wins; the order only matters for paths that match two entries.
STAGES = (
    ("/strongroom/auth/", "authentication (token, DPoP, session, revocation)"),
    ("/strongroom/budgets/", "budgets (Redis)"),
    ("/strongroom/detect/", "detectors (event feed, containment check)"),
    ("/strongroom/journal/", "journal (append, writer thread)"),
    ("/strongroom/vault/", "vault (data keys, decryption)"),
    ("/strongroom/registry/", "registry (SQL)"),
    ("/strongroom/policy/", "policy"),
    ("/strongroom/gate/", "gate (pipeline, masking)"),
    ("/strongroom/api/", "our middleware and routes (door, admission, observe)"),
    ("/strongroom/", "other Strongroom code"),
)
FRAMEWORK = "HTTP server and framework (uvicorn, Starlette, FastAPI, anyio)"
FRAMEWORK_PATHS = ("fastapi/", "starlette/", "uvicorn/", "h11/", "anyio/", "asyncio/")


def stage_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        path = "/" + frame.rpartition("(")[2]
        for marker, stage in STAGES:
            if marker in path:
                return stage
        if any("/" + marker in path for marker in FRAMEWORK_PATHS):
            return FRAMEWORK
    return FRAMEWORK


def stages(path: Path) -> dict[str, float]:
    """Share of the samples by stage, largest first."""
    counts: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        counts[stage_of(stack.split(";")[1:])] += int(n)
    total = sum(counts.values()) or 1
    return {stage: n / total for stage, n in counts.most_common()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--ms-per-request", type=float, help="server CPU a request, to scale")
    parser.add_argument("--json", action="store_true", help="the shares as JSON too")
    args = parser.parse_args()
    shares = stages(args.file)
    for stage, share in shares.items():
        ms = f"  {share * args.ms_per_request:5.2f} ms" if args.ms_per_request else ""
        print(f"{100 * share:5.1f} %{ms}  {stage}")
    if args.json:
        print(json.dumps(shares))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
