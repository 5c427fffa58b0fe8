"""The legitimate population never reads a honey record: exact searches (a namesake is
listed too) and export follow-ups raise no honey alert on the seeded registry; give the
honey records real persons' family names and birth dates and the same population trips
them at once."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select, update

from strongroom.config import Home
from strongroom.registry.canaries import CanarySet
from strongroom.registry.db import make_engine
from strongroom.registry.keystore import SqlWrappedKeyStore
from strongroom.registry.models import Identity, Person
from strongroom.simulate.population import LegitStats, build_population
from strongroom.simulate.runner import DAY, Sim
from strongroom.simulate.world import World, clone_home
from strongroom.vault import FileKeyProvider, Vault
from tests.simulate.conftest import SEED

USERS, DAYS = 60, 3


def honey_alerts(home: Home) -> tuple[LegitStats, int]:
    world = World(home, seed=SEED)
    try:
        stats = LegitStats()
        users = build_population(world, stats, users=USERS, days=DAYS, seed=3, exports=True)
        sim = Sim(world, end=world.start + DAYS * DAY)
        for user, first in users:
            sim.add(user, first)
        sim.run()
    finally:
        world.close()
    path = home.path / "alerts.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return stats, sum(1 for line in lines if "honey" in json.dumps(json.loads(line)))


def test_no_honey_alert_from_the_legitimate_population(template: Home, tmp_path: Path) -> None:
    stats, alerts = honey_alerts(clone_home(template, tmp_path / "home"))
    assert stats.requests["police"] > 100 and stats.requests["prefecture"] > 50
    assert stats.exports >= 1 and stats.follow_ups >= 1  # the export follow-ups ran
    assert alerts == 0
    assert not [k for k in stats.containments if "honey" in k]


def test_a_honey_record_with_a_real_namesake_trips_the_population(
    template: Home, tmp_path: Path
) -> None:
    home = clone_home(template, tmp_path / "home")
    engine = make_engine(home.settings().registry_url)
    try:
        keys = FileKeyProvider(home.keys_dir)
        vault = Vault(keys, SqlWrappedKeyStore(engine))
        honey = CanarySet(engine, keys.honey_key())
        with engine.begin() as conn:
            rows = conn.execute(
                select(Person.id, Person.public_id, Identity.family_name_ct, Identity.birth_date_ct)
                .join(Identity, Identity.person_id == Person.id)
                .order_by(Person.id)
            ).all()
            canaries = [r for r in rows if honey.contains(r[1])]
            real = [r for r in rows if not honey.contains(r[1])]
            assert canaries
            # Each honey record takes a real person's family name and birth date.
            for (pk, pid, _, _), (_, rpid, fam_ct, dob_ct) in zip(canaries, real, strict=False):
                family = vault.decrypt("identity", rpid, "family_name", bytes(fam_ct))
                dob = vault.decrypt("identity", rpid, "birth_date", bytes(dob_ct))
                conn.execute(
                    update(Identity)
                    .where(Identity.person_id == pk)
                    .values(
                        family_name_ct=vault.encrypt("identity", pid, "family_name", family),
                        birth_date_ct=vault.encrypt("identity", pid, "birth_date", dob),
                        name_dob_bidx=vault.blind_index("name_dob", family, dob),
                    )
                )
    finally:
        engine.dispose()
    _, alerts = honey_alerts(home)
    assert alerts > 0
