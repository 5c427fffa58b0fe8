"""Issue 6 figures: the detection benchmark against `strongroom simulate`.

One seeded registry, then one simulation per policy on a copy of it (same persons, same
seed): the shipped default policy, and the thresholds the simulator proposes
(tests/simulate/data/proposed_policy.yaml). For every attack scenario: records leaked
before containment, time to containment (simulated seconds), the stopping layer; for the
legitimate population: wrongly throttled / contained per 10,000 user-days and the share of
user-days asked to step up. A third run (proposed policy, dealers never reading their
ledger) isolates the ledger as a false-positive source. Also the simulator's own speed
(gate requests per second).

    python benchmarks/bench_simulate.py [--quick] [--persons N] [--users N] [--days D]
                                        [--policy FILE ...] [--no-dealer-ledger]
Writes benchmarks/results/simulate.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from results_dir import results_dir

from strongroom.simulate import SimConfig, run_simulation, seed_template

ROOT = Path(__file__).resolve().parent
RESULTS = results_dir() / "simulate.json"
PROPOSED = ROOT.parent / "tests" / "simulate" / "data" / "proposed_policy.yaml"


def compact(report: dict[str, Any]) -> dict[str, Any]:
    legit = report["legitimate"]
    return {
        "scenarios": {
            r["scenario"]: {
                "records_leaked": r["records_leaked"],
                "contained": r["contained"],
                "time_to_containment_s": r["time_to_containment_s"],
                "stopped_by": r["stopped_by"],
                "ended_by": r["ended_by"],
                "target": r["target"]["records"],
                "met": r["target"]["met"],
                **({"canary": r["canary"]} if "canary" in r else {}),
            }
            for r in report["scenarios"]
        },
        "legitimate": {
            "user_days": legit["user_days"],
            "throttled_per_10k_user_days": legit["throttled"]["per_10k_user_days"],
            "contained_per_10k_user_days": legit["contained"]["per_10k_user_days"],
            "contained_principals": legit["contained"]["principals"],
            "throttled_principals": legit["throttled"]["principals"],
            "contained_by": legit["contained"]["by"],
            "wrongful_suspensions_per_10k_user_days": legit["wrongful_suspensions"][
                "per_10k_user_days"
            ],
            "findings_by_family": legit["findings_by_family"],
            "by_role": legit["by_role"],
            "step_up_share_of_user_days": legit["step_up"]["share_of_user_days"],
            "targets": legit["targets"],
        },
        "missed": report["summary"]["missed"],
        "run": report["run"],
    }


def show(name: str, c: dict[str, Any]) -> None:
    print(
        f"\n== {name}: {c['run']['requests']:,} requests in {c['run']['wall_seconds']} s "
        f"({c['run']['requests_per_second']} req/s)"
    )
    for scen, r in c["scenarios"].items():
        layer = r["stopped_by"]
        how = (
            f"{layer['action']}({'+'.join(layer['families'])})"
            if layer["layer"] == "containment"
            else f"{layer['layer']}:{layer.get('name', '')}"
        )
        print(
            f"  {scen:20s} leaked {r['records_leaked']:6,}  contained "
            f"{'yes' if r['contained'] else 'no ':3s} after "
            f"{r['time_to_containment_s'] or '-'!s:>10} s  {how:45s} "
            f"target {'-' if r['target'] is None else r['target']} met {r['met']}"
        )
    lg = c["legitimate"]
    print(
        f"  legitimate: {lg['user_days']:,} user-days; wrongful suspensions "
        f"{lg['wrongful_suspensions_per_10k_user_days']}/10k, throttled "
        f"{lg['throttled_per_10k_user_days']}/10k, contained "
        f"{lg['contained_per_10k_user_days']}/10k, step-up "
        f"{100 * lg['step_up_share_of_user_days']:.2f} %"
    )
    for role, r in lg["by_role"].items():
        fe = r["four_eyes"]
        print(
            f"    {role:10s} wrongful suspensions {r['wrongful_suspensions']['user_days']} "
            f"({r['wrongful_suspensions']['per_10k_user_days']}/10k); four eyes: "
            f"{fe['waited']} waited, {fe['approved']} approved (median "
            f"{fe['median_wait_minutes']} min), {fe['still_waiting']} still waiting"
        )
    print(f"  missed: {', '.join(c['missed']) or 'none'}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--policy",
        type=Path,
        action="append",
        help="policies to compare (default: shipped and proposed)",
    )
    parser.add_argument("--no-dealer-ledger", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--proposed-only",
        action="store_true",
        help="one run: the proposed policy, dealers not reading ledgers",
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.persons, args.users, args.days = 3000, 60, 2
    # (name, policy, dealers read their ledger): the shipped policy, the proposed one,
    # and the proposed one without ledger reads (isolates that false-positive source).
    runs: list[tuple[str, Path | None, bool]] = (
        [(p.stem, p, not args.no_dealer_ledger) for p in args.policy]
        if args.policy
        else [("proposed_no_ledger", PROPOSED, False)]
        if args.proposed_only
        else [
            ("default", None, not args.no_dealer_ledger),
            ("proposed", PROPOSED, not args.no_dealer_ledger),
            ("proposed_no_ledger", PROPOSED, False),
        ]
    )
    out: dict[str, Any] = {
        "quick": args.quick,
        "persons": args.persons,
        "users": args.users,
        "days": args.days,
        "seed": args.seed,
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        template = seed_template(Path(tmp) / "template", persons=args.persons, seed=args.seed)
        out["seed_seconds"] = round(time.perf_counter() - t0, 1)
        for name, policy, ledger in runs:
            config = SimConfig(
                persons=args.persons,
                users=args.users,
                days=args.days,
                seed=args.seed,
                policy=policy,
                dealer_ledger=ledger,
            )
            t0 = time.perf_counter()
            report = run_simulation(config, template=template)
            c = compact(report)
            c["seconds"] = round(time.perf_counter() - t0, 1)
            c["policy"] = "shipped default" if policy is None else str(policy.name)
            c["dealer_ledger"] = ledger
            out["runs"][name] = c
            show(name, c)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
