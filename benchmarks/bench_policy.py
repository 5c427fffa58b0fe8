"""Policy decision + masking cost per returned record.

For each of several (role, purpose) views, over N synthetic records of 16 fields: time
check_purpose + view lookup + apply for every record, one record at a time, and report the
median and p99 in microseconds, plus the ratio to a plain dict copy of the same record
measured in the same run (so machine speed cancels out). Target: median <= 30 us.

    python benchmarks/bench_policy.py [--quick] [--records N]
Writes benchmarks/results/policy.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import time

from results_dir import results_dir

from strongroom.clock import FakeClock
from strongroom.context import Caller
from strongroom.policy import compile_policy, load_default_policy

RESULTS = results_dir() / "policy.json"
TARGET_US = 30.0

CASES = [
    # (label, caller, endpoint)
    (
        "police/police_check (partial, generalize)",
        Caller(principal_id="officer-1", role="police", scopes=frozenset({"weapons:lookup"})),
        "POST /v1/weapons/lookup",
    ),
    (
        "dealer/ledger_keeping (pseudonym, partial)",
        Caller(
            principal_id="dealer-1",
            role="dealer",
            purpose="ledger_keeping",
            scopes=frozenset({"ledger:read"}),
        ),
        "GET /v1/ledger",
    ),
    (
        "prefecture/case_work (reveal)",
        Caller(
            principal_id="agent-1",
            role="prefecture",
            case="C-1",
            justification="renewal of permit",
            scopes=frozenset({"persons:read"}),
        ),
        "GET /v1/persons/{id}",
    ),
    (
        "auditor/audit (deny all)",
        Caller(principal_id="auditor-1", role="auditor", scopes=frozenset({"journal:read"})),
        "GET /v1/journal/checkpoint",
    ),
]


def make_records(n: int, seed: int = 7) -> list[dict[str, object]]:
    rnd = random.Random(seed)
    names = ["Dupont", "Martin", "Bernard", "Lefebvre-Moreau", "Nguyen", "Da Silva"]
    out = []
    for i in range(n):
        out.append(
            {
                "ref.person_id": f"{rnd.getrandbits(128):032x}",
                "ref.sale_id": f"{rnd.getrandbits(128):032x}",
                "identity.family_name": rnd.choice(names),
                "identity.given_names": rnd.choice(["Jean", "Marie Claire", "Luc"]),
                "identity.birth_date": dt.date(1940 + i % 60, 1 + i % 12, 1 + i % 28),
                "address.street": f"{i % 200} rue des Lilas",
                "address.city": "Lyon",
                "address.postcode": rnd.choice(["69003", "20090", "75011", "97110"]),
                "permit.status": "valid",
                "permit.categories": ["B", "C"],
                "permit.expires": "2027-01-31",
                "weapon.serial": f"SN-{i:08d}",
                "weapon.make": "Beretta",
                "weapon.model": "92",
                "weapon.calibre": "9mm",
                "sale.sold_at": "2026-01-02T10:00:00+00:00",
            }
        )
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_case(compiled, caller: Caller, endpoint: str, records) -> list[float]:
    ns = time.perf_counter_ns
    out = []
    for record in records:
        t0 = ns()
        purpose = compiled.check_purpose(caller, endpoint)
        compiled.view(caller.role, purpose).apply(record, caller.principal_id)
        out.append((ns() - t0) / 1000)
    return out


def bench_baseline(records) -> list[float]:
    ns = time.perf_counter_ns
    out = []
    for record in records:
        t0 = ns()
        dict(record)
        out.append((ns() - t0) / 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 records")
    parser.add_argument("--records", type=int, default=None)
    args = parser.parse_args()
    n = args.records or (1_000 if args.quick else 10_000)
    records = make_records(n)
    compiled = compile_policy(load_default_policy(), b"k" * 32, clock=FakeClock())
    for _label, caller, endpoint in CASES:  # warm-up
        bench_case(compiled, caller, endpoint, records[:200])
    base = statistics.median(bench_baseline(records))
    results = []
    print(f"policy decision + masking, {n:,} records of {len(records[0])} fields")
    print(f"  baseline dict copy: median {base:.2f} us")
    for label, caller, endpoint in CASES:
        times = bench_case(compiled, caller, endpoint, records)
        med, p99 = statistics.median(times), percentile(times, 0.99)
        results.append(
            {
                "case": label,
                "median_us": round(med, 3),
                "p99_us": round(p99, 3),
                "ratio_to_dict_copy": round(med / base, 1) if base else None,
                "within_target": med <= TARGET_US,
            }
        )
        print(
            f"  {label:45s} median {med:6.2f} us  p99 {p99:6.2f} us  "
            f"x{med / base:.1f} dict copy  {'ok' if med <= TARGET_US else 'OVER'}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "policy",
                "records": n,
                "fields_per_record": len(records[0]),
                "target_median_us": TARGET_US,
                "baseline_dict_copy_median_us": round(base, 3),
                "cases": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
