"""An incremental refresh: only the persons changed since the last release are read, and
its counts equal a full count of the same registry, on SQLite and PostgreSQL, after
changes of every kind (a new person, a weapon transferred and one recategorized, a permit
suspended, a sale, bans added, lifted and coming into force with the calendar, a person
moving département, an erasure, a year of birthdays). What cannot be applied person by
person (a dealer's département) is counted in full, and the journal says why."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from analytics_testkit import policy_text

from strongroom.analytics import changes as log
from strongroom.analytics.collect import Collector, Contribution, Counts, today_of
from strongroom.analytics.desk import BuildMode
from strongroom.analytics.sealed import StateKeys
from strongroom.cli.seeding import seed_home
from strongroom.clock import FakeClock
from strongroom.compose import Service, compose
from strongroom.config import Home
from strongroom.initialize import initialize
from strongroom.registry.namesakes import add_person

DAY = 86400.0
# Every universe, commune size bands and months: what a refresh must keep exact.
ANALYTICS = """
analytics:
  k: 5
  quasi_identifiers:
    departement: {generalize: departement}
    age: {generalize: band, width: 5}
    commune: {generalize: size_band}
    date: {generalize: month}
  views:
    owners:
      description: Owners.
      universe: persons
      dims: [departement, age, commune]
    owner_rows:
      description: Owners, one row each.
      universe: persons
      kind: rows
      dims: [departement, holds_weapons]
    permits:
      description: Permits.
      universe: permits
      dims: [departement, kind, status]
    weapons:
      description: Weapons.
      universe: weapons
      dims: [age, category, status]
    sales:
      description: Sales.
      universe: sales
      dims: [departement, category, date]
    bans:
      description: Bans.
      universe: bans
      dims: [departement, active]
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def svc(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    url = None if request.param == "sqlite" else request.getfixturevalue("pg_url")
    home = Home(tmp_path / "home")
    initialize(home, registry_url=url)
    home.policy_path.write_text(policy_text(ANALYTICS), encoding="utf-8")
    seed_home(home, persons=400, seed=3)
    service = compose(home, clock=FakeClock())
    try:
        yield service
    finally:
        service.close()


def _collector(svc: Service) -> Collector:
    desk = svc.analytics
    levels: dict[str, set[Any]] = {}
    for g in desk._groups(BuildMode()):
        levels.setdefault(g.universe, set()).update(g.levels)
    return Collector(
        svc.engine,
        svc.vault,
        svc.keys.honey_key(),
        desk.gen,
        StateKeys(desk.pseudonym_key),
        levels,
        holds_weapons=True,  # owner_rows shows it
    )


def _kept_counts(svc: Service, collector: Collector) -> Counts:
    with svc.engine.connect() as conn:
        kept = log.load_tallies(conn)
    assert kept is not None
    decoded = Counts.decode(collector.keys.open(kept[1], b"counts"), collector.levels)
    assert decoded is not None
    return decoded[0]


def _exact(svc: Service) -> None:
    """The counts the refresh kept are a full count's, cell by cell, persons and units."""
    collector = _collector(svc)
    full = collector.count_all(today_of(svc.clock.now()))
    kept = _kept_counts(svc, collector)
    assert kept.persons == full.persons
    assert kept.published(collector.gen) == full.cells
    assert kept.communes == full.counts.communes


def _sql(svc: Service, statement: str, **params: Any) -> Any:
    with svc.engine.begin() as conn:
        return conn.execute(sa.text(statement), params)


def _one(svc: Service, statement: str) -> Any:
    with svc.engine.connect() as conn:
        return conn.execute(sa.text(statement)).scalar_one()


def _a_day_of_everything(svc: Service) -> None:
    today = today_of(svc.clock.now())
    holder = _one(svc, "SELECT min(holder_id) FROM weapons WHERE holder_id IS NOT NULL")
    other = _one(svc, "SELECT max(id) FROM persons WHERE erased_at IS NULL")
    weapon = _one(svc, f"SELECT min(id) FROM weapons WHERE holder_id = {holder}")
    _sql(svc, "UPDATE weapons SET holder_id = :o WHERE id = :w", o=other, w=weapon)
    sold = _one(svc, "SELECT min(weapon_id) FROM sales")
    _sql(svc, "UPDATE weapons SET category = 'A' WHERE id = :w", w=sold)
    _sql(svc, "UPDATE permits SET status = 'suspended' WHERE id = (SELECT min(id) FROM permits)")
    sale = _one(svc, "SELECT max(id) FROM sales")
    _sql(
        svc,
        "INSERT INTO sales (public_id, dealer_id, weapon_id, buyer_id, permit_id, sold_at,"
        " recorded_by) SELECT 'sale-added-by-test', dealer_id, weapon_id, :b, permit_id,"
        " sold_at + 86400, recorded_by FROM sales WHERE id = :s",
        b=other,
        s=sale,
    )
    _sql(svc, "INSERT INTO bans (person_id, since, until) VALUES (:p, :s, NULL)", p=holder, s=today)
    # Comes into force with the calendar: no write on the day it does.
    _sql(
        svc,
        "INSERT INTO bans (person_id, since, until) VALUES (:p, :s, NULL)",
        p=other,
        s=today + timedelta(days=100),
    )
    _sql(svc, "DELETE FROM bans WHERE id = (SELECT min(id) FROM bans)")
    mover = _one(svc, "SELECT min(id) FROM persons WHERE departement <> '13'")
    _sql(svc, "UPDATE persons SET departement = '13' WHERE id = :p", p=mover)
    with svc.registry.session() as s, s.begin():
        add_person(
            s,
            svc.vault,
            svc.keys.honey_key(),
            departement="75",
            family_name="Nouvelle",
            given_names="Personne",
            birth_date=date(1990, 5, 17),
            birth_place=None,
            street="1 rue du Test",
            city="Paris",
            postcode="75001",
        )
    erased = _one(svc, "SELECT public_id FROM persons WHERE id = 7")
    svc.admin.isolate_persons("tests: erasure needs own keys")
    svc.admin.erase_person(erased, "tests: right to erasure")


def _journaled(svc: Service) -> dict[str, Any]:
    journal = svc.journal
    entries = [journal.entry(i) for i in range(journal.size())]
    built = [e for e in entries if e.get("reason") in ("analytics_built", "analytics_refreshed")]
    detail: dict[str, Any] = built[-1]["detail"]
    return detail


def test_a_refresh_applies_a_days_changes_exactly(svc: Service) -> None:
    first = svc.analytics.build(svc.admin.operator())
    assert first.counted == "full"
    _exact(svc)
    _a_day_of_everything(svc)
    svc.clock.advance(200 * DAY)  # birthdays: age bands change with no write at all
    report = svc.analytics.build(svc.admin.operator(), refresh=True)
    assert report.counted == "incremental", report.why_full
    persons = _one(svc, "SELECT count(*) FROM persons")
    assert 0 < report.recounted < persons / 2
    assert _journaled(svc)["counted"] == "incremental"
    assert _journaled(svc)["persons_recounted"] == report.recounted
    _exact(svc)
    # Nothing changed since: nothing read, the same counts.
    again = svc.analytics.build(svc.admin.operator(), refresh=True)
    assert (again.counted, again.recounted) == ("incremental", 0)
    _exact(svc)


def test_what_cannot_be_applied_is_counted_in_full_and_journaled(svc: Service) -> None:
    svc.analytics.build(svc.admin.operator())
    _sql(svc, "UPDATE dealers SET departement = '2A' WHERE id = (SELECT min(id) FROM dealers)")
    report = svc.analytics.build(svc.admin.operator(), refresh=True)
    assert report.counted == "full"
    assert report.why_full == "changes to dealers"
    assert _journaled(svc)["counted"] == "full"
    assert _journaled(svc)["counted_in_full_because"] == "changes to dealers"
    _exact(svc)
    # The next refresh starts from these counts again.
    assert svc.analytics.build(svc.admin.operator(), refresh=True).counted == "incremental"
    _exact(svc)


def test_a_release_that_was_never_published_is_not_built_upon(svc: Service) -> None:
    svc.analytics.build(svc.admin.operator())
    with svc.engine.begin() as conn:
        log.mark_pending(conn, 99)  # contributions written, then the publication failed
    report = svc.analytics.build(svc.admin.operator(), refresh=True)
    assert report.counted == "full"
    _exact(svc)


def test_what_a_refresh_keeps_is_sealed_and_migrated(svc: Service) -> None:
    """Migration 0015 built what the analytics tables declare; the contributions and
    counts kept between releases hold no generalized value in clear."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from strongroom.analytics.ledger import metadata

    with svc.engine.connect() as conn:
        ours = set(metadata.tables)
        diff = [
            x
            for x in compare_metadata(MigrationContext.configure(conn), metadata)
            if not (x[0] == "remove_table" and x[1].name not in ours)
            and not (x[0] == "remove_index" and x[1].table.name not in ours)
        ]
    assert diff == [], diff
    svc.analytics.build(svc.admin.operator())
    with svc.engine.connect() as conn:
        kept = [(int(p), t, bytes(s)) for p, t, s in conn.execute(sa.select(log.people))]
        (counts,) = conn.execute(sa.select(log.tallies.c.document)).scalars()
    collector = _collector(svc)
    assert len(kept) == _kept_counts(svc, collector).persons > 0
    states = [s for _, _, s in kept]
    for clear in (b'"75"', b'"no"', b'"valid"', b"-29"):
        assert not any(clear in s for s in states), clear
        assert clear not in counts, clear
    pid, _, state = kept[0]
    opened = Contribution.decode(collector.keys.open(state, f"person:{pid}".encode()))
    assert opened.person[3] in ("yes", "no")
