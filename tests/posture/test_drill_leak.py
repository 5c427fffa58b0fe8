"""`strongroom drill known`: the known list an earlier leak would be, sampled from a seeded
home's registry with the columns asked, reproducible by its seed, journaled without a value,
and refused on a production home unless forced with a reason."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from strongroom.cli.main import app
from strongroom.cli.seeding import seed_home
from strongroom.compose import compose
from strongroom.config import Home
from strongroom.initialize import initialize
from strongroom.posture.drill_knowledge import Known, load_known
from strongroom.registry.models import Identity, Permit, Person, Weapon


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    h = Home(tmp_path_factory.mktemp("leak") / "home")
    initialize(h)
    seed_home(h, persons=120, seed=3)
    return h


def _known(home: Home, out: Path, *args: str) -> Any:
    return CliRunner().invoke(
        app,
        ["drill", "known", "--output", str(out), *args],
        env={"STRONGROOM_HOME": str(home.path)},
    )


def _admin_entries(home: Home) -> list[dict[str, Any]]:
    svc = compose(home)
    try:
        svc.journal.flush()
        entries = [svc.journal.entry(i) for i in range(svc.journal.size())]
    finally:
        svc.close()
    return [e for e in entries if e.get("endpoint") == "drill known"]


def _in_registry(home: Home, row: Known) -> bool:
    """The row is one real person's: name and birth date of one identity, and that
    person's permit number and serial (found by their blind indexes)."""
    svc = compose(home)
    try:
        vault = svc.vault
        with svc.registry.session() as s:
            by_name = vault.blind_index("name_dob", str(row.family_name), str(row.birth_date))
            # Namesakes share a name and a birth date: any of them may be the row's person.
            persons = {
                p.id: p
                for p in s.execute(
                    select(Person)
                    .join(Identity, Identity.person_id == Person.id)
                    .where(Identity.name_dob_bidx == by_name)
                ).scalars()
            }
            owners = set(persons)
            if row.permit_number is not None:
                permit = s.execute(
                    select(Permit).where(
                        Permit.number_bidx == vault.blind_index("permit", row.permit_number)
                    )
                ).scalar_one_or_none()
                owners &= {permit.person_id} if permit is not None else set()
            if row.serial is not None:
                weapon = s.execute(
                    select(Weapon).where(
                        Weapon.serial_bidx == vault.blind_index("serial", row.serial)
                    )
                ).scalar_one_or_none()
                owners &= {weapon.holder_id} if weapon is not None else set()
            return any(row.departement in (None, persons[pk].departement) for pk in owners)
    finally:
        svc.close()


def test_a_leak_of_the_columns_asked_from_real_persons(home: Home, tmp_path: Path) -> None:
    out = tmp_path / "leak.csv"
    r = _known(home, out, "--persons", "15", "--seed", "4", "--columns", "family_name,birth_date")
    assert r.exit_code == 0, r.output
    assert out.read_text(encoding="utf-8").splitlines()[0] == "family_name,birth_date"
    rows = load_known(out)
    assert len(rows) == 15 and all(r.identity and not r.permit_number for r in rows)
    assert len({(r.family_name, r.birth_date) for r in rows}) == 15
    assert all(_in_registry(home, r) for r in rows[:5])

    rich = tmp_path / "rich.csv"
    cols = "family_name,birth_date,permit_number,departement,serial"
    r = _known(home, rich, "--persons", "15", "--seed", "4", "--columns", cols)
    assert r.exit_code == 0, r.output
    richer = load_known(rich)
    # The same persons (the seed), with more of each.
    assert [(k.family_name, k.birth_date) for k in richer] == [
        (k.family_name, k.birth_date) for k in rows
    ]
    assert sum(1 for k in richer if k.triple) >= 10 and any(k.serial for k in richer)
    assert all(_in_registry(home, k) for k in richer[:5])
    held = next(k for k in richer if k.triple)
    assert not _in_registry(home, replace(held, permit_number="FR-00-00000000"))

    other = tmp_path / "other.csv"
    assert _known(home, other, "--persons", "15", "--seed", "5").exit_code == 0
    assert {k.family_name for k in load_known(other)} != {k.family_name for k in rows}

    entries = _admin_entries(home)
    assert entries[-1]["reason"] == "pii_sampled"
    assert entries[-1]["detail"] == {
        "persons": 15,
        "columns": ["family_name", "birth_date", "permit_number", "departement"],
        "seed": 5,
    }
    assert entries[-2]["detail"]["columns"] == cols.split(",")[:4] + ["serial"]
    # The journal keeps how many and which columns, never a value.
    text = json.dumps(entries)
    assert not any(k.family_name in text or str(k.permit_number) in text for k in richer)


def test_unknown_columns_are_refused(home: Home, tmp_path: Path) -> None:
    r = _known(home, tmp_path / "x.csv", "--persons", "3", "--columns", "family_name,email")
    assert r.exit_code == 2 and "email" in r.output
    assert not (tmp_path / "x.csv").exists()


def test_a_production_home_is_sampled_only_when_forced_with_a_reason(
    tmp_path: Path,
) -> None:
    prod = Home(tmp_path / "prod")
    initialize(prod)
    seed_home(prod, persons=50, seed=2)
    prod.update_config(mode="production")
    out = tmp_path / "prod.csv"
    refused = _known(prod, out, "--persons", "5")
    assert refused.exit_code == 2 and "production" in refused.output
    assert _known(prod, out, "--persons", "5", "--force").exit_code == 2
    assert not out.exists() and _admin_entries(prod) == []
    why = "Red-team exercise EX-42 approved by the DPO"
    forced = _known(prod, out, "--persons", "5", "--force", "--reason", why)
    assert forced.exit_code == 0, forced.output
    assert len(load_known(out)) == 5
    (entry,) = _admin_entries(prod)
    assert entry["detail"]["forced"] is True and entry["detail"]["why"] == why
