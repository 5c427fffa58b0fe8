"""Rotating the blind-index key online (issue 25), on SQLite and PostgreSQL: searches over
HTTP (the ASGI app) find every person before, during (the re-index interrupted half-way:
persons on each side of the cut) and after; a resumed run finishes; once it has, no
index value computed under the retired key is left in the database, the key is gone from
the provider, and a copy of the database taken before cannot be matched with the keys
that remain."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from strongroom.compose import compose
from strongroom.registry.models import Identity, Permit, Person, Weapon
from strongroom.registry.namesakes import add_person
from strongroom.vault import BlindIndexer, FileKeyProvider, UnknownKeyError
from tests.conftest import pg_database
from tests.deployment import Deployment, build_deployment

WHY = "annual blind-index key rotation"


class Interrupted(Exception):
    pass


@pytest.fixture(params=["sqlite", "postgresql"])
def dep(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    with contextlib.ExitStack() as cleanup:
        pg = request.param == "postgresql"
        url = cleanup.enter_context(pg_database()) if pg else None
        d = build_deployment(tmp_path / "home", persons=150, registry_url=url)
        cleanup.callback(d.service.close)
        cleanup.callback(d.client.close)
        yield d


def clear_rows(dep: Deployment) -> list[dict[str, Any]]:
    """Every living real person's search values and weapon serials, decrypted by the
    deployment's own vault (test set-up), with the key version their row is under."""
    svc, vault = dep.service, dep.service.vault
    out = []
    with svc.registry.session() as s:
        rows = s.execute(
            select(
                Person.id,
                Person.public_id,
                Identity.family_name_ct,
                Identity.birth_date_ct,
                Identity.bidx_key,
            ).join(Identity, Identity.person_id == Person.id)
        ).all()
        serials: dict[int, list[str]] = {}
        for holder, wid, ct in s.execute(
            select(Weapon.holder_id, Weapon.public_id, Weapon.serial_ct)
        ).all():
            if holder is not None:
                serials.setdefault(holder, []).append(vault.decrypt("asset", wid, "serial", ct))
        numbers: dict[int, list[str]] = {}
        for holder, permit, ct in s.execute(
            select(Permit.person_id, Permit.public_id, Permit.number_ct)
        ).all():
            if ct is not None:
                numbers.setdefault(holder, []).append(vault.decrypt("asset", permit, "number", ct))
    for pk, pid, name_ct, dob_ct, version in rows:
        if svc.canaries.contains(pid):
            continue
        out.append(
            {
                "id": pid,
                "family_name": vault.decrypt("identity", pid, "family_name", name_ct),
                "birth_date": vault.decrypt("identity", pid, "birth_date", dob_ct),
                "version": version,
                "serials": serials.get(pk, []),
                "permits": numbers.get(pk, []),
            }
        )
    return out


def stored_digests(dep: Deployment) -> set[bytes]:
    with dep.service.registry.session() as s:
        found = set()
        for column in (Identity.name_dob_bidx, Permit.number_bidx, Weapon.serial_bidx):
            found |= {bytes(b) for b in s.execute(select(column)).scalars() if b is not None}
    return found


def digests_of(ix: BlindIndexer, people: list[dict[str, Any]]) -> set[bytes]:
    return (
        {ix.digest("name_dob", p["family_name"], p["birth_date"]) for p in people}
        | {ix.digest("serial", serial) for p in people for serial in p["serials"]}
        | {ix.digest("permit", number) for p in people for number in p["permits"]}
    )


def found_over_http(dep: Deployment, people: list[dict[str, Any]]) -> None:
    """Each person found by an exact search and each of their weapons by its serial, as
    a police officer over HTTP (a fresh principal each time: the detectors judge a
    handful of unrelated searches from one new officer, not the whole test's)."""
    officer = dep.service.admin.add_principal(role="police", label="rotation test")
    headers = dep.headers("police", subject=officer)
    for p in people:
        r = dep.client.post(
            "/v1/persons/search",
            headers=headers,
            json={"family_name": p["family_name"], "birth_date": p["birth_date"]},
        )
        assert r.status_code == 200, r.text
        assert p["id"] in [i["id"] for i in r.json()["items"]]
        for serial in p["serials"][:1]:
            w = dep.client.post("/v1/weapons/lookup", headers=headers, json={"serial": serial})
            assert w.status_code == 200, w.text


def test_searches_find_everyone_before_during_and_after_a_rotation(dep: Deployment) -> None:
    svc = dep.service
    # An erased person's permit keeps its number's index, but no sealed number.
    erased = next(p for p in clear_rows(dep) if p["permits"])
    svc.admin.erase_person(erased["id"], "GDPR Art. 17: retention period elapsed")
    people = clear_rows(dep)
    assert len(people) > 100 and {p["version"] for p in people} == {1}
    armed = [p for p in people if p["serials"]]
    old = BlindIndexer(FileKeyProvider(dep.home.keys_dir).blind_index_key(1), 1)
    backup = stored_digests(dep)  # the index columns of a copy taken before the rotation
    assert digests_of(old, people) <= backup  # positive control: the old key matches it
    found_over_http(dep, armed[:3])

    def stop_half_way(done: int, total: int) -> None:
        # Persons are re-indexed first: stop half-way through them.
        assert total > len(people)
        if done >= len(people) // 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        svc.admin.rotate_blind_index(WHY, progress=stop_half_way, batch=20, settle=0)

    # Half-way: rows on each side of the cut, and the servers search under both keys.
    during = clear_rows(dep)
    before_cut = [p for p in during if p["version"] == 1 and p["serials"]]
    after_cut = [p for p in during if p["version"] == 2 and p["serials"]]
    assert before_cut and after_cut
    status = svc.admin.blind_index_status()
    assert status["indexing"] == 2
    assert 0 < status["progress"]["done"] < status["progress"]["total"]
    found_over_http(dep, before_cut[:3] + after_cut[:3])
    # A person added meanwhile is indexed under the new version at once.
    with svc.registry.session() as s, s.begin():
        newcomer = add_person(
            s,
            svc.vault,
            svc.keys.honey_key(),
            departement="75",
            family_name="Rotationnel",
            given_names="Camille",
            birth_date=date(1981, 3, 4),
            birth_place="Paris",
            street="1 rue de la Paix",
            city="Paris",
            postcode="75002",
        )
    added = next(p for p in clear_rows(dep) if p["id"] == newcomer)
    assert added["version"] == 2
    # Another worker of the same home learns of the rotation from the registry database.
    other = compose(dep.home)
    try:
        assert other.vault.index_ring.live() == {1: "active", 2: "indexing"}
        assert len(other.vault.blind_indexes("serial", "X-1")) == 2
        assert other.vault.index_writer().version == 2
    finally:
        other.close()

    out = svc.admin.rotate_blind_index(WHY, settle=0)
    assert out["resumed"] and out["version"] == 2 and out["retired"] == [1]
    # The resumed run re-indexes exactly what the interrupted one left.
    progress = status["progress"]
    assert out["reindexed"] == progress["total"] - progress["done"]

    after = clear_rows(dep)
    assert {p["version"] for p in after} == {2}
    found_over_http(dep, before_cut[:3] + after_cut[:3] + [added])
    status = svc.admin.blind_index_status()
    assert [(v["version"], v["state"]) for v in status["versions"]] == [
        (1, "retired"),
        (2, "active"),
    ]
    assert all(set(counts) == {"2"} for counts in status["rows"].values())
    assert svc.vault.index_ring.live() == {2: "active"}

    # The retired key's values are gone from the database, and the key from the provider.
    live = stored_digests(dep)
    assert digests_of(old, people).isdisjoint(live)
    numbers = {old.digest("permit", n) for n in erased["permits"]}
    assert numbers <= backup and numbers.isdisjoint(live)
    with svc.registry.session() as s:
        gone = s.execute(
            select(Permit.number_bidx, Permit.bidx_key)
            .join(Person, Person.id == Permit.person_id)
            .where(Person.public_id == erased["id"])
        ).all()
    assert gone and all(b is None and v == 2 for b, v in gone)
    provider = FileKeyProvider(dep.home.keys_dir)
    assert provider.blind_index_versions() == [2]
    with pytest.raises(UnknownKeyError):
        provider.blind_index_key(1)
    # The copy taken before is indexed under the destroyed key: the keys that remain match
    # nothing in it (while they match every live row).
    new = svc.vault.index_writer()
    assert digests_of(new, people) <= live
    assert digests_of(new, people).isdisjoint(backup)
    reasons = [str(svc.journal.entry(i).get("reason")) for i in range(svc.journal.size())]
    assert reasons.count("blind_index_rotation_started") == 2
    assert reasons.count("blind_index_rotated") == 1
