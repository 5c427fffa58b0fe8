"""An export never leads its recipient to a honey record: every ID in a generated file
that the API would take resolves to a real person (or a permit of one) or to nothing; the
watermark's canary lines are fabricated and name nothing, and still trace the file.

A seeded registry with honey records (SQLite and PostgreSQL), the real desk and gate, the
honey key the deployment would use, and a canary set on the engine as `compose` builds it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from strongroom.clock import FakeClock
from strongroom.exports import ExportDesk, ExportStore, Watermark, export_key
from strongroom.exports.datasets import PermitsExpiring, Scope
from strongroom.exports.watermark import find_ids
from strongroom.gate import Pipeline
from strongroom.journal import Journal
from strongroom.policy import compile_policy, load_default_policy
from strongroom.registry.canaries import CanarySet
from strongroom.registry.models import Dealer, Permit, Person, Sale, Weapon
from strongroom.registry.repository import Registry
from tests.exports.conftest import JUSTIFICATION, Env, OpenBudgets, QuietDetector
from tests.exports.test_exports_trace import DATASET, FIELDS
from tests.registry.seed_testkit import TODAY, seeded


def test_no_export_id_reads_a_honey_record(db_url: str, tmp_path: Path) -> None:
    s = seeded(db_url, tmp_path / "keys", persons=3000, seed_value=10, canaries=300)
    engine, honey_key = s.engine, s.provider.honey_key()
    honey = CanarySet(engine, honey_key)  # what compose builds for the detector
    ExportStore(engine).create_tables()
    # The département whose renewal list holds the most honey records, before the fix.
    ds = PermitsExpiring()
    with engine.connect() as conn:
        depts = conn.execute(select(Person.departement).distinct()).scalars().all()
        in_window = {
            d: [r["ref.person_id"] for r in ds.rows(conn, Scope(d, TODAY), 10_000)] for d in depts
        }
    dep = max(depts, key=lambda d: sum(map(honey.contains, in_window[d])))
    assert sum(map(honey.contains, in_window[dep])) >= 1, "no honey record to leave out"

    clock = FakeClock(datetime(TODAY.year, TODAY.month, TODAY.day, 9, tzinfo=UTC).timestamp())
    policy = compile_policy(load_default_policy(), b"p" * 32, clock=clock)
    journal = Journal.open(f"sqlite:///{tmp_path / 'journal.db'}", signer=None, clock=clock)
    pipeline = Pipeline(
        registry=Registry(engine),
        policy=policy,
        budgets=OpenBudgets(),  # type: ignore[arg-type]
        journal=journal,
        detector=QuietDetector(),  # type: ignore[arg-type]
        clock=clock,
    )
    store = ExportStore(engine)
    desk = ExportDesk(
        pipeline=pipeline,
        store=store,
        engine=engine,
        spec=policy.policy.exports,
        watermark=Watermark(export_key(honey_key)),
        exports_dir=tmp_path / "exports",
        clock=clock,
        is_honey=honey.contains,
    )
    env = Env(desk, store, journal, clock, policy, tmp_path, [], [], None, None)  # type: ignore[arg-type]
    requester = env.caller("prefecture", departement=dep)
    export_id = desk.request(
        requester, dataset=DATASET, fields=FIELDS, justification=JUSTIFICATION
    ).body["id"]
    desk.approve(env.caller("admin"), export_id)
    _, download = desk.download(requester, export_id)
    lines = b"".join(download.chunks()).decode().splitlines()

    ids = {i.lower() for line in lines for i in find_ids(line)}
    with engine.connect() as conn:
        persons = set(
            conn.execute(select(Person.public_id).where(Person.public_id.in_(ids))).scalars()
        )
        permits = {
            str(k): str(v)
            for k, v in conn.execute(
                select(Permit.public_id, Person.public_id)
                .join(Person, Person.id == Permit.person_id)
                .where(Permit.public_id.in_(ids))
            )
        }
        elsewhere = [
            conn.execute(select(col).where(col.in_(ids))).scalars().all()
            for col in (Weapon.public_id, Dealer.public_id, Sale.public_id)
        ]
    assert persons and permits, "the export holds real rows"
    assert not [p for p in persons if honey.contains(p)]
    assert not [p for p in permits.values() if honey.contains(p)]
    assert elsewhere == [[], [], []]
    # What names nothing is exactly the canary lines' IDs: two per canary line.
    nowhere = ids - set(persons) - set(permits)
    canaries = store.get(export_id).canary_count  # type: ignore[union-attr]
    assert canaries >= 1 and len(nowhere) == 2 * canaries
    for pid in nowhere:
        assert uuid.UUID(pid).version == 4
    # The real rows are the window's honest persons, none left out beyond the honey records.
    assert persons == {p for p in in_window[dep] if not honey.contains(p)}

    # Tracing still works, from the canary lines alone (lower-cased: no fingerprint).
    canary_lines = [ln.lower() for ln in lines[1:] if set(find_ids(ln.lower())) & nowhere]
    hits = desk.trace(env.caller("admin"), [lines[0], *canary_lines])
    assert [h["id"] for h in hits] == [export_id]
    assert hits[0]["evidence"]["canary_lines"] == len(canary_lines) == canaries
    journal.close()
