"""An earlier leak, simulated for the drill: `persons` persons sampled (seeded) from a home's
registry, their plain values written as the known list `strongroom drill --known` reads.
The columns model the leak's richness: names and birth dates only, with permit numbers, with
serials (each person's first valid permit and first weapon).

It decrypts PII, so it is journaled as an administrative action of the local operator (how
many persons, which columns, never a value), and a production home is refused unless the
operator forces it with a reason, journaled too. Honey records are left out: the list is
what a leak of the real registry would hold, not a trap for whoever uses it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from strongroom.errors import BadRequest
from strongroom.posture.drill_knowledge import COLUMNS, Known
from strongroom.registry.models import Identity, Permit, Person, Weapon

DEFAULT_COLUMNS = ("family_name", "birth_date", "permit_number", "departement")
MIN_REASON = 10


def check_columns(columns: Sequence[str]) -> tuple[str, ...]:
    unknown = sorted(set(columns) - set(COLUMNS))
    if unknown or not columns:
        raise BadRequest(
            f"unknown column(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(COLUMNS)}"
        )
    return tuple(c for c in COLUMNS if c in columns)


def sample_known(
    service: Any,
    *,
    persons: int,
    seed: int,
    columns: Sequence[str] = DEFAULT_COLUMNS,
    force_reason: str | None = None,
) -> list[Known]:
    """The sampled persons as known rows holding only `columns`; journaled."""
    wanted = check_columns(columns)
    if persons < 1:
        raise BadRequest("--persons must be at least 1")
    forced = force_reason is not None
    if service.settings.production and not forced:
        raise BadRequest(
            "this home is in production mode: sampling its registry decrypts real persons' "
            "data. Use a seeded copy, or give --force with --reason"
        )
    if forced and len((force_reason or "").strip()) < MIN_REASON:
        raise BadRequest(f"--reason must say why, in at least {MIN_REASON} characters")
    with service.registry.session() as s:
        ids = [
            (int(pk), str(pid), str(dep))
            for pk, pid, dep in s.execute(
                select(Person.id, Person.public_id, Person.departement)
                .join(Identity, Identity.person_id == Person.id)
                .order_by(Person.id)
            )
            if not service.canaries.contains(str(pid))
        ]
        rng = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
        chosen = rng.sample(ids, min(persons, len(ids)))
        rows = [_known(service, s, person, wanted) for person in chosen]
    detail: dict[str, Any] = {"persons": len(rows), "columns": list(wanted), "seed": seed}
    if forced:
        detail["forced"] = True
        detail["why"] = (force_reason or "").strip()
    service.pipeline.record_admin(
        service.admin.operator(), "drill known", reason="pii_sampled", detail=detail
    )
    return rows


def _known(service: Any, s: Any, person: tuple[int, str, str], wanted: tuple[str, ...]) -> Known:
    pk, public_id, departement = person
    vault = service.vault
    values: dict[str, Any] = {"departement": departement}
    identity = s.get(Identity, pk)
    if identity is not None:
        values["family_name"] = vault.decrypt(
            "identity", public_id, "family_name", identity.family_name_ct
        )
        values["birth_date"] = vault.decrypt(
            "identity", public_id, "birth_date", identity.birth_date_ct
        )
        if values["birth_date"]:
            values["birth_year"] = int(str(values["birth_date"])[:4])
    if "permit_number" in wanted:
        permit = s.execute(
            select(Permit)
            .where(Permit.person_id == pk, Permit.number_ct.is_not(None))
            .order_by(Permit.status != "valid", Permit.id)
            .limit(1)
        ).scalar_one_or_none()
        if permit is not None:
            values["permit_number"] = vault.decrypt(
                "asset", permit.public_id, "number", permit.number_ct
            )
    if "serial" in wanted:
        weapon = s.execute(
            select(Weapon).where(Weapon.holder_id == pk).order_by(Weapon.id).limit(1)
        ).scalar_one_or_none()
        if weapon is not None:
            values["serial"] = vault.decrypt("asset", weapon.public_id, "serial", weapon.serial_ct)
    return Known(**{c: values.get(c) or None for c in wanted})
