"""Honey records cannot be reached by a legitimate workflow: none ever bought from a
dealer, so no dealer's ledger lists one."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from strongroom.registry.canaries import CanarySet
from strongroom.registry.models import Person, Sale
from tests.registry.seed_testkit import seeded


def test_no_canary_in_any_dealer_ledger(tmp_path: Path) -> None:
    s = seeded(f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "keys", persons=3000, canaries=300)
    canaries = CanarySet(s.engine, s.provider.honey_key())
    with s.engine.connect() as conn:
        ids = conn.execute(select(Person.public_id)).scalars().all()
        buyers = (
            conn.execute(select(Person.public_id).join(Sale, Sale.buyer_id == Person.id))
            .scalars()
            .all()
        )
    honey = [i for i in ids if canaries.contains(i)]
    assert len(honey) >= 300  # the canaries exist and are found by the keyed marks
    assert buyers, "the registry has sales"
    assert not [b for b in buyers if canaries.contains(b)]
