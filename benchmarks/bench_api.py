"""Issue 2 figure: a prefecture person read through the API (gate, policy, budgets, vault,
journal, detectors), median latency, and its ratio to the same read with vault and gate
bypassed (the same rows fetched and returned as stored), measured in one run, in process.

    python benchmarks/bench_api.py [--persons 100000] [--reads 2000] [--quick]
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from results_dir import results_dir

RESULTS = results_dir()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.persons, args.reads = 5_000, 300

    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from strongroom.api.app import create_app
    from strongroom.cli.demo import DEMO_CASE, DEMO_JUSTIFICATION, create_demo_principals
    from strongroom.cli.seeding import seed_home
    from strongroom.clock import FakeClock
    from strongroom.compose import compose
    from strongroom.config import Home
    from strongroom.initialize import initialize
    from strongroom.registry.models import Person

    with tempfile.TemporaryDirectory() as tmp:
        home = Home(Path(tmp) / "home")
        initialize(home)
        t0 = time.perf_counter()
        report = seed_home(home, persons=args.persons, seed=3)
        seed_s = time.perf_counter() - t0
        # Reads paced like a busy agent (one every 30 s of simulated time), so detectors and
        # budgets see human work; a principal whose budget runs out is replaced.
        clock = FakeClock(time.time())
        svc = compose(home, clock=clock)
        principals = create_demo_principals(svc, report.fixtures)
        dept = report.fixtures["departement"]
        with svc.registry.session() as s:
            ids = list(
                s.execute(select(Person.public_id).where(Person.departement == dept)).scalars()
            )
        # Need to know: the agent reads through an open case of its unit, its subjects
        # linked (by the operator, as a case-management system would).
        operator = svc.admin.operator()
        case = svc.cases.open_as_operator(
            operator, unit=f"prefecture:{dept}", kind="renewal", reference=DEMO_CASE
        )["id"]
        for pid in ids:
            svc.cases.link_as_operator(operator, case, pid, "renewal campaign")
        app = create_app(svc)
        client = TestClient(app)
        bypass = FastAPI()

        @bypass.get("/raw/{person_id}")
        def raw(person_id: str) -> dict[str, object]:
            reg = svc.registry
            with reg.session() as s:
                p = reg.person_by_public_id(s, person_id)
                if p is None:
                    return {}
                ident, addr = reg.person_blobs(
                    s,
                    p.pk,
                    ["family_name", "given_names", "birth_date", "birth_place"],
                    ["street", "city", "postcode"],
                )
                permits = reg.permits_of(s, [p.pk])
                weapons = reg.weapons_of(s, p.pk)
            enc = {
                k: base64.b64encode(v).decode() if v else None for k, v in {**ident, **addr}.items()
            }
            return {
                "id": p.public_id,
                **enc,
                "permits": [
                    {"id": x.public_id, "kind": x.kind, "status": x.status} for x in permits
                ],
                "weapons": [{"id": w.public_id, "category": w.category} for w in weapons],
            }

        raw_client = TestClient(bypass)
        rng = random.Random(5)

        headers = {
            "Authorization": "Bearer "
            + svc.token_issuer.issue(
                role="prefecture",
                subject=principals["prefecture"],
                case=case,
                justification=DEMO_JUSTIFICATION,
                lifetime=3600,
            )
        }
        gated: list[float] = []
        direct: list[float] = []
        refused = 0
        for i in range(args.reads):
            pid = rng.choice(ids)
            clock.advance(30)
            if i % 2 == 0:
                t = time.perf_counter()
                r = client.get(f"/v1/persons/{pid}", headers=headers)
                elapsed = time.perf_counter() - t
                if r.status_code == 200:
                    gated.append(elapsed)
                else:
                    refused += 1
                    fresh = create_demo_principals_fresh(svc, dept)
                    headers = {
                        "Authorization": "Bearer "
                        + svc.token_issuer.issue(
                            role="prefecture",
                            subject=fresh,
                            case=case,
                            justification=DEMO_JUSTIFICATION,
                            lifetime=3600,
                        )
                    }
            else:
                t = time.perf_counter()
                raw_client.get(f"/raw/{pid}")
                direct.append(time.perf_counter() - t)
        svc.close()
    med_g, med_d = statistics.median(gated), statistics.median(direct)
    result = {
        "persons": args.persons,
        "reads": args.reads,
        "seed_seconds": round(seed_s, 1),
        "gated_median_ms": round(med_g * 1000, 3),
        "bypass_median_ms": round(med_d * 1000, 3),
        "ratio_gated_to_bypass": round(med_g / med_d, 2),
        "target_ratio_max": 1.5,
        "gated_refusals": refused,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "api.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


def create_demo_principals_fresh(svc: object, dept: str) -> str:
    return svc.admin.add_principal(
        role="prefecture",
        departement=dept,  # type: ignore[attr-defined]
        label="bench",
    )


if __name__ == "__main__":
    sys.exit(main())
