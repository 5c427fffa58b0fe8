"""`strongroom simulate`: the real gate, in process, on a simulated clock, against a
legitimate population and attack scenarios; measures what leaks before containment and
what the legitimate users pay for it (issue 6).

    report = run_simulation(SimConfig(users=500, days=7))

The stack (gate, policy, budgets, detectors, journal, vault) is the one `Service` builds
from a home folder; only the clock is a `FakeClock`. Attacks start on the second simulated
day at 10:00 (after a day of legitimate work), a few minutes apart, each from its own
network and accounts, interleaved in time with the legitimate users.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strongroom.config import Home
from strongroom.errors import BadRequest
from strongroom.simulate.incidents import INCIDENTS
from strongroom.simulate.need_to_know import NEED_TO_KNOW
from strongroom.simulate.population import LegitStats, build_population
from strongroom.simulate.report import REPORT_VERSION, legit_report, summary
from strongroom.simulate.runner import DAY, Sim
from strongroom.simulate.scenarios import CORE, Builder
from strongroom.simulate.world import World, clone_home, seed_template

SCENARIOS: dict[str, Builder] = {**CORE, **INCIDENTS, **NEED_TO_KNOW}

__all__ = ["SCENARIOS", "SimConfig", "run_simulation", "seed_template"]


@dataclass(frozen=True)
class SimConfig:
    persons: int = 20_000
    users: int = 500
    days: int = 7
    scenarios: tuple[str, ...] = tuple(SCENARIOS)
    seed: int = 1
    policy: Path | None = None
    home: Path | None = None  # simulate on this home in place (it keeps the traces)
    registry_seed: int | None = None  # the seed the home was seeded with (default: seed)
    # Smaller runs (tests): at most this many requests per scenario; None keeps each
    # scenario's own cap.
    max_requests: int | None = None
    # Dealers read their sales ledger now and then (False: verifications only).
    dealer_ledger: bool = True
    # Prefecture agents work from their département's renewal list now and then (an
    # export an administrator approves), a few of its persons joining their caseload.
    exports: bool = True

    def check(self) -> None:
        unknown = [s for s in self.scenarios if s not in SCENARIOS]
        if unknown:
            raise BadRequest(
                f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}"
            )
        if self.users < 0 or self.days < 1 or self.persons < 1:
            raise BadRequest("--users must be >= 0, --days and --persons >= 1")
        if self.home is not None and self.policy is not None:
            raise BadRequest(
                "--policy applies to a simulation home; with --home, edit that home's policy.yaml"
            )


Progress = Callable[[str, float, float], None]  # (phase, done, total)


def run_simulation(
    config: SimConfig, *, template: Home | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Run one simulation and return its report (a JSON-ready dict). `template` is an
    already seeded home to copy instead of seeding one (tests, benchmarks)."""
    config.check()
    with tempfile.TemporaryDirectory(prefix="strongroom-sim-") as tmp:
        t0 = time.perf_counter()
        if config.home is not None:
            home = Home(config.home)
        elif template is not None:
            home = clone_home(template, Path(tmp) / "home")
            if config.policy is not None:
                home.policy_path.write_bytes(config.policy.read_bytes())
        else:
            if progress:
                progress("seeding", 0, 1)
            home = seed_template(
                Path(tmp) / "home", persons=config.persons, seed=config.seed, policy=config.policy
            )
        world = World(home, seed=config.registry_seed or config.seed)
        try:
            return _run(config, world, time.perf_counter() - t0, progress)
        finally:
            world.close()


def findings_on(world: World, principals: dict[str, str]) -> Counter[str]:
    """Detector findings opened on these principals (the legitimate population), by
    signal family, from the home's alert file (one finding per principal and family)."""
    path = world.home.path / "alerts.jsonl"
    out: Counter[str] = Counter()
    if not path.exists():
        return out
    with path.open(encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            if d.get("activity_id") != 1:
                continue
            if d.get("actor", {}).get("user", {}).get("uid") in principals:
                out[str(d.get("unmapped", {}).get("family"))] += 1
    return out


def _run(
    config: SimConfig, world: World, setup_s: float, progress: Progress | None
) -> dict[str, Any]:
    t0 = time.perf_counter()
    stats = LegitStats()
    users = build_population(
        world,
        stats,
        users=config.users,
        days=config.days,
        seed=config.seed,
        ledger=config.dealer_ledger,
        exports=config.exports,
    )
    attack_day = 1 if config.days > 1 else 0
    campaigns = []
    for i, name in enumerate(config.scenarios):
        start = world.start + attack_day * DAY + 10 * 3600 + 600 * i
        rng = random.Random(f"{config.seed}:{name}")  # noqa: S311 - simulation, not crypto
        campaign = SCENARIOS[name](world, rng, start, i + 1)
        if config.max_requests is not None:
            campaign.spec.cap_requests = min(campaign.spec.cap_requests, config.max_requests)
        campaigns.append(campaign)
    end = max([world.start + config.days * DAY] + [c.end for c in campaigns])
    setup_s += time.perf_counter() - t0

    def tick(now: float, requests: int) -> None:
        if progress:
            progress(f"{requests:,} requests", now - world.start, end - world.start)

    sim = Sim(world, end=end, progress=tick)
    for user, first in users:
        sim.add(user, first)
    for c in campaigns:
        for acct in c.accounts:
            sim.add(acct, c.start + acct.index * 0.37)
    sim.run()
    legit = legit_report(stats, findings=findings_on(world, stats.roles))
    scenarios = [c.result() for c in campaigns]
    return {
        "version": REPORT_VERSION,
        "config": {
            "persons": len(world.registry.persons),
            "users": config.users,
            "days": config.days,
            "seed": config.seed,
            "scenarios": list(config.scenarios),
            "policy": config.policy.name if config.policy else "home",
            "max_requests": config.max_requests,
            "dealer_ledger": config.dealer_ledger,
            "exports": config.exports,
        },
        "run": {
            "requests": sim.requests,
            "setup_seconds": round(setup_s, 1),
            "wall_seconds": round(sim.wall_seconds, 1),
            "requests_per_second": round(sim.requests / sim.wall_seconds, 1)
            if sim.wall_seconds
            else None,
            "simulated_days": round((end - world.start) / DAY, 2),
        },
        "legitimate": legit,
        "scenarios": scenarios,
        "summary": summary(scenarios, legit),
    }
