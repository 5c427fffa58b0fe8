"""What a witness costs: a served `strongroom witness serve` on loopback, a journal that
grows by --batch entries before each checkpoint, each submitted with its consistency
proof (kept-alive client, as the server's WitnessPusher uses, and a new client a call, as
a one-off CLI does); reading back the cosigned checkpoint; `verify` with and without it.

    .venv/bin/python benchmarks/witness_roundtrip.py [--rounds 200] [--batch 500]

Not a `bench_*` script: run_all does not run it (it serves a process of its own).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from strongroom.clock import SYSTEM_CLOCK
from strongroom.events import AccessEvent
from strongroom.journal import Journal, NoteSigner
from strongroom.journal.witness import WitnessSpec, fetch_cosigned, submit_checkpoint
from strongroom.posture.served import free_port
from strongroom.witness.state import init_home


def entry(i: int) -> dict[str, object]:
    return AccessEvent(
        ts=1.7e9 + i,
        kind="access",
        principal=f"p-{i % 97}",
        role="police",
        endpoint="owners.get",
        outcome="allowed",
        purpose="investigation",
        subjects=(f"s-{i % 1000}",),
        fields=("identity.family_name",),
        records=1,
    ).to_entry()


def ms(values: list[float]) -> str:
    q = sorted(values)
    return f"median {statistics.median(q) * 1000:.2f} ms, p90 {q[int(len(q) * 0.9)] * 1000:.2f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="witness-bench-"))
    signer = NoteSigner.generate("bench.local/journal")
    cosigner = init_home(work / "witness", "w.bench/w1", [signer.verifier().verifier_key])
    port = free_port()
    command = [sys.executable, "-m", "strongroom.cli.main", "witness", "serve"]
    command += ["--home", str(work / "witness"), "--port", str(port)]
    with (work / "witness.log").open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    spec = WitnessSpec(url, cosigner.verifier())
    try:
        for _ in range(300):
            try:
                httpx.get(url)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        journal = Journal.open(
            f"sqlite:///{work / 'journal.db'}",
            signer=signer,
            clock=SYSTEM_CLOCK,
            checkpoint_every=10**12,
            checkpoint_interval=1e12,
        )
        kept, fresh, n, acked = [], [], 0, 0
        with httpx.Client() as client:
            for r in range(args.rounds):
                for _ in range(args.batch):
                    journal.append(entry(n))
                    n += 1
                journal.make_checkpoint()
                t = time.perf_counter()
                if r % 2:
                    done = submit_checkpoint(
                        journal, url, old_size=acked, verifier=spec.verifier, client=client
                    )
                    kept.append(time.perf_counter() - t)
                else:
                    done = submit_checkpoint(journal, url, old_size=acked, verifier=spec.verifier)
                    fresh.append(time.perf_counter() - t)
                acked = done.size
            assert journal.verifier is not None
            reads = []
            for _ in range(50):
                t = time.perf_counter()
                cp = fetch_cosigned(spec, journal.verifier, client=client)
                reads.append(time.perf_counter() - t)
        assert cp is not None and cp.size == n
        t = time.perf_counter()
        alone = journal.verify()
        t_alone = time.perf_counter() - t
        t = time.perf_counter()
        held = journal.verify([(str(spec), cp)])
        t_held = time.perf_counter() - t
        journal.close()
        print(f"submissions of {args.batch} new entries each, tree up to {n:,}:")
        print(f"  kept-alive client  {ms(kept)}")
        print(f"  new client a call  {ms(fresh)}")
        print(f"reading back the cosigned checkpoint: {ms(reads)}")
        print(
            f"verify {n:,} entries: storage only {t_alone:.2f} s (ok={alone.ok}), "
            f"with the witness's checkpoint {t_held:.2f} s (ok={held.ok})"
        )
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
