"""No honey record shares a family name and birth date with a real person: not after
seeding (a plan whose drawn identities collide is repaired before any write), not after a
real person is added with a honey record's pair (the honey record moves). SQLite and
PostgreSQL, a real vault, the real tables."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from strongroom.registry.canaries import CanarySet
from strongroom.registry.models import Identity, Person
from strongroom.registry.namesakes import NEAR_DAYS, add_person, shared_name_dob
from strongroom.registry.repository import Registry
from strongroom.registry.seed_plan import Planner
from strongroom.registry.seed_pools import build_pools
from strongroom.vault.blind_index import normalize
from tests.registry.seed_testkit import TODAY, Seeded, people, seeded

# Seed 10 draws two honey records onto a real person's exact family name and birth date
# (asserted below, so the test cannot pass vacuously).
PERSONS, CANARIES, SEED = 3000, 300, 10


def _holders(s: Seeded) -> tuple[dict[bytes, set[str]], set[str]]:
    honey = CanarySet(s.engine, s.provider.honey_key())
    by_bidx: dict[bytes, set[str]] = {}
    with s.engine.connect() as conn:
        for bidx, pid in conn.execute(
            select(Identity.name_dob_bidx, Person.public_id).join(
                Person, Person.id == Identity.person_id
            )
        ):
            by_bidx.setdefault(bytes(bidx), set()).add(str(pid))
    return by_bidx, {p for ps in by_bidx.values() for p in ps if honey.contains(p)}


def test_the_drawn_plan_collides() -> None:
    planner = Planner(build_pools(SEED), SEED, PERSONS, TODAY)
    targets = planner.canary_targets(CANARIES)

    def pair(i: int, t: tuple[str, str] | None = None) -> tuple[str, date]:
        family, birth = planner.name_dob(i, t)
        return normalize(family), birth

    honey = {pair(i, t) for i, t in targets.items()}
    real = {pair(i) for i in range(PERSONS) if i not in targets}
    assert len(honey & real) == 2


def test_seeding_keeps_honey_records_off_real_namesakes(db_url: str, tmp_path: Path) -> None:
    s = seeded(db_url, tmp_path / "keys", persons=PERSONS, seed_value=SEED, canaries=CANARIES)
    by_bidx, honey = _holders(s)
    assert len(honey) == CANARIES
    for pids in by_bidx.values():
        assert not (pids & honey and pids - honey), "a honey record shares name_dob"
    assert shared_name_dob(s.engine, s.provider.honey_key()) == []
    # Not even a day apart (the typo an honest officer makes): checked in clear, here only.
    real: dict[str, set[date]] = {}
    honey_pairs = []
    for p in people(s):
        key = (normalize(p["family_name"]), date.fromisoformat(p["birth_date"]))
        if p["public_id"] in honey:
            honey_pairs.append(key)
        else:
            real.setdefault(key[0], set()).add(key[1])
    for family, birth in honey_pairs:
        near = {birth + timedelta(days=d) for d in range(-NEAR_DAYS, NEAR_DAYS + 1)}
        assert not near & real.get(family, set())


def test_a_real_namesake_moves_the_honey_record(db_url: str, tmp_path: Path) -> None:
    s = seeded(db_url, tmp_path / "keys", persons=300, seed_value=3, canaries=30)
    key = s.provider.honey_key()
    _, honey = _holders(s)
    registry = Registry(s.engine)
    target = next(p for p in people(s) if p["public_id"] in honey)
    family, dob = target["family_name"], date.fromisoformat(target["birth_date"])
    bidx = s.vault.blind_index("name_dob", family, dob.isoformat())

    # Provoked by hand (an insert that skips the check): the audit names the collision.
    with Session(s.engine) as sess, sess.begin():
        first = sess.execute(select(Identity).order_by(Identity.person_id)).scalars().first()
        assert first is not None
        dup = Person(public_id="00000000-0000-4000-8000-000000000001", departement="75")
        sess.add(dup)
        sess.flush()
        dup_pk = dup.id
        sess.add(
            Identity(
                person_id=dup.id,
                family_name_ct=first.family_name_ct,
                given_names_ct=first.given_names_ct,
                birth_date_ct=first.birth_date_ct,
                name_dob_bidx=bidx,
            )
        )
    assert shared_name_dob(s.engine, key) == [bidx]
    with Session(s.engine) as sess, sess.begin():
        sess.execute(delete(Identity).where(Identity.person_id == dup_pk))
        sess.execute(delete(Person).where(Person.id == dup_pk))
    assert shared_name_dob(s.engine, key) == []

    # Through add_person: the real person gets the pair, the honey record another date.
    with Session(s.engine) as sess, sess.begin():
        newcomer = add_person(
            sess,
            s.vault,
            key,
            departement=target["departement"],
            family_name=family.upper(),  # the blind index folds case: still a namesake
            given_names="Camille",
            birth_date=dob,
            birth_place="Paris",
            street="1 rue de la Paix",
            city="Paris",
            postcode="75002",
        )
    assert shared_name_dob(s.engine, key) == []
    with registry.session() as sess:
        assert [p.public_id for p in registry.persons_by_name_dob(sess, [bidx], 10)] == [newcomer]
    moved = next(p for p in people(s) if p["public_id"] == target["public_id"])
    assert moved["family_name"] == family and moved["given_names"] == target["given_names"]
    assert timedelta(days=NEAR_DAYS) < dob - date.fromisoformat(moved["birth_date"])
    assert CanarySet(s.engine, key).contains(target["public_id"])  # still a honey record

    # A namesake a day away (an honest typo's reach) moves it again.
    now = date.fromisoformat(moved["birth_date"])
    with Session(s.engine) as sess, sess.begin():
        add_person(
            sess,
            s.vault,
            key,
            departement=target["departement"],
            family_name=family,
            given_names="Dominique",
            birth_date=now + timedelta(days=1),
            birth_place="Lyon",
            street="2 rue de la Paix",
            city="Paris",
            postcode="75002",
        )
    again = next(p for p in people(s) if p["public_id"] == target["public_id"])
    assert date.fromisoformat(again["birth_date"]) < now - timedelta(days=NEAR_DAYS)
