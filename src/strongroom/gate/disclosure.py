"""Build the masked view of a record: ask the vault only for the fields the policy reveals,
mask, and nest `category.field` keys into objects."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from strongroom.gate.ports import FieldView, VaultPort
from strongroom.registry.repository import PermitRow, PersonRow, Registry, WeaponRow

IDENTITY = ("family_name", "given_names", "birth_date", "birth_place")
ADDRESS = ("street", "city", "postcode")


def wanted(view: FieldView, category: str, names: Iterable[str]) -> list[str]:
    return [n for n in names if f"{category}.{n}" in view.revealed]


def nest(flat: Mapping[str, object]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        category, _, name = key.partition(".")
        out.setdefault(category, {})[name] = value
    return out


def person_fields(
    s: Session, registry: Registry, vault: VaultPort, view: FieldView, person: PersonRow
) -> dict[str, object]:
    """Flat `category.field` map of the person's identity and address, revealed fields
    decrypted, nothing else fetched."""
    flat: dict[str, object] = {}
    identity, address = registry.person_blobs(
        s, person.pk, wanted(view, "identity", IDENTITY), wanted(view, "address", ADDRESS)
    )
    vault.preload([*identity.values(), *address.values()])
    for name, blob in identity.items():
        flat[f"identity.{name}"] = vault.decrypt("identity", person.public_id, name, blob)
    for name, blob in address.items():
        flat[f"address.{name}"] = vault.decrypt("address", person.public_id, name, blob)
    if "address.departement" in view.revealed:
        flat["address.departement"] = person.departement
    return flat


def permit_fields(
    vault: VaultPort, view: FieldView, permit: PermitRow, today: date
) -> dict[str, object]:
    flat: dict[str, object] = {
        "permit.kind": permit.kind,
        "permit.categories": permit.categories.split(",") if permit.categories else [],
        "permit.status": effective_status(permit, today),
        "permit.issued": permit.issued.isoformat(),
        "permit.expires": permit.expires.isoformat(),
    }
    if "permit.number" in view.revealed and permit.number_ct is not None:
        flat["permit.number"] = vault.decrypt("asset", permit.public_id, "number", permit.number_ct)
    return flat


def effective_status(permit: PermitRow, today: date) -> str:
    if permit.status == "valid" and permit.expires < today:
        return "expired"
    return permit.status


def weapon_fields(vault: VaultPort, view: FieldView, weapon: WeaponRow) -> dict[str, object]:
    flat: dict[str, object] = {
        "weapon.category": weapon.category,
        "weapon.make": weapon.make,
        "weapon.model": weapon.model,
        "weapon.calibre": weapon.calibre,
        "weapon.status": weapon.status,
    }
    if "weapon.serial" in view.revealed:
        flat["weapon.serial"] = vault.decrypt("asset", weapon.public_id, "serial", weapon.serial_ct)
    return flat


def masked(
    view: FieldView, flat: Mapping[str, object], requester: str, shown: set[str]
) -> dict[str, object]:
    out = view.apply(flat, requester)
    shown.update(out)
    return out
