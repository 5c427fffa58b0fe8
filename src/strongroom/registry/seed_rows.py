"""From plain plans to database rows: every identity and address field encrypted by the
vault under the person's public ID, permit numbers and serials reduced to blind indexes
(serials also encrypted in the asset store). Nothing personal leaves this module in clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from strongroom.ids import new_public_id
from strongroom.registry.erasure import kek_versions_of, key_row, mint_person_keys
from strongroom.registry.seed_plan import (
    PERMIT_SLOTS,
    STOCK_SLOTS,
    WEAPON_SLOTS,
    DealerPlan,
    PersonPlan,
    Planner,
)
from strongroom.registry.seed_sql import empty_rows
from strongroom.vault.blind_index import BlindIndexer

HEX = "0123456789abcdef"


class SeedVault(Protocol):
    def encrypt(
        self, store: str, row_id: str, field: str, value: str, key: Any = None
    ) -> bytes: ...
    def index_writer(self) -> BlindIndexer: ...


@dataclass(frozen=True)
class Bases:
    """The highest existing key per table; seeded keys start after it."""

    dealers: int = 0
    persons: int = 0
    permits: int = 0
    weapons: int = 0
    sales: int = 0
    transfers: int = 0
    bans: int = 0

    def person(self, i: int) -> int:
        return self.persons + 1 + i

    def permit(self, i: int, slot: int) -> int:
        return self.permits + 1 + i * PERMIT_SLOTS + slot

    def weapon(self, i: int, slot: int) -> int:
        return self.weapons + 1 + i * WEAPON_SLOTS + slot

    def stock_weapon(self, persons: int, dealer: int, slot: int) -> int:
        return self.weapons + 1 + persons * WEAPON_SLOTS + dealer * STOCK_SLOTS + slot

    def dealer(self, k: int) -> int:
        return self.dealers + 1 + k


def canary_public_id(k: int) -> str:
    """A fresh random UUIDv4 whose first hex digit is k mod 16: canaries sit in every
    sixteenth of the ID space, so a sweep from any starting ID meets one early."""
    want = HEX[k % 16]
    while True:
        pid = new_public_id()
        if pid[0] == want:
            return pid


def dealer_rows(
    vault: SeedVault,
    planner: Planner,
    dealers: list[DealerPlan],
    bases: Bases,
    public_ids: list[str],
) -> dict[str, list[tuple[Any, ...]]]:
    rows = empty_rows()
    ix = vault.index_writer()
    for d, pid in zip(dealers, public_ids, strict=True):
        dealer_pk = bases.dealer(d.index)
        rows["dealers"].append((dealer_pk, pid, d.name, d.departement))
        for w in d.stock:
            wid = new_public_id()
            rows["weapons"].append(
                (
                    bases.stock_weapon(planner.persons, d.index, w.slot),
                    wid,
                    ix.digest("serial", w.serial),
                    ix.version,
                    vault.encrypt("asset", wid, "serial", w.serial),
                    w.category,
                    w.make,
                    w.model,
                    w.calibre,
                    w.status,
                    None,
                    dealer_pk,
                )
            )
    return rows


def person_rows(
    vault: SeedVault,
    plans: list[PersonPlan],
    public_ids: list[str],
    bases: Bases,
    dealer_ids: list[str],
    taken_dek_ids: frozenset[int] = frozenset(),
) -> dict[str, list[tuple[Any, ...]]]:
    """Each person's identity and address under keys of their own (`erasure`), minted
    here and written in the same batch."""
    rows = empty_rows()
    # One key version for the batch, recorded on each row it indexes.
    ix = vault.index_writer()
    enc, bidx = vault.encrypt, ix.digest
    data_keys = rows["data_keys"]
    versions = kek_versions_of(vault)  # type: ignore[arg-type]
    persons, identities, addresses = rows["persons"], rows["identities"], rows["addresses"]
    permits, weapons, sales, transfers = (
        rows["permits"],
        rows["weapons"],
        rows["sales"],
        rows["transfers"],
    )
    for p, pid in zip(plans, public_ids, strict=True):
        pk = bases.person(p.index)
        birth = p.birth_date.isoformat()
        keys = mint_person_keys(vault, pk, taken_dek_ids, versions)  # type: ignore[arg-type]
        ik, ak = keys["identity"], keys["address"]
        data_keys.append(key_row(ik, pk))
        data_keys.append(key_row(ak, pk))
        persons.append((pk, pid, p.departement))
        identities.append(
            (
                pk,
                enc("identity", pid, "family_name", p.family_name, ik),
                enc("identity", pid, "given_names", p.given_names, ik),
                enc("identity", pid, "birth_date", birth, ik),
                enc("identity", pid, "birth_place", p.birth_place, ik),
                bidx("name_dob", p.family_name, birth),
                ix.version,
            )
        )
        addresses.append(
            (
                pk,
                enc("address", pid, "street", p.street, ak),
                enc("address", pid, "city", p.city, ak),
                enc("address", pid, "postcode", p.postcode, ak),
            )
        )
        for pm in p.permits:
            permit_id = new_public_id()
            permits.append(
                (
                    bases.permit(p.index, pm.slot),
                    permit_id,
                    pk,
                    bidx("permit", pm.number),
                    ix.version,
                    enc("asset", permit_id, "number", pm.number),
                    pm.kind,
                    pm.categories,
                    pm.issued,
                    pm.expires,
                    pm.status,
                )
            )
        for w in p.weapons:
            wpk, wid = bases.weapon(p.index, w.slot), new_public_id()
            weapons.append(
                (
                    wpk,
                    wid,
                    bidx("serial", w.serial),
                    ix.version,
                    enc("asset", wid, "serial", w.serial),
                    w.category,
                    w.make,
                    w.model,
                    w.calibre,
                    w.status,
                    pk,
                    None,
                )
            )
            tid = bases.transfers + 1 + p.index * WEAPON_SLOTS + w.slot
            if w.sale is not None:
                dealer, permit_slot, at = w.sale
                # The ledger names the recording desk; seeded history predates the
                # accounts, so it names the dealer itself.
                sales.append(
                    (
                        bases.sales + 1 + p.index * WEAPON_SLOTS + w.slot,
                        new_public_id(),
                        bases.dealer(dealer),
                        wpk,
                        pk,
                        bases.permit(p.index, permit_slot),
                        at,
                        dealer_ids[dealer],
                    )
                )
                transfers.append((tid, wpk, None, pk, bases.dealer(dealer), at))
            elif w.transfer_from is not None:
                source, at = w.transfer_from
                transfers.append((tid, wpk, bases.person(source), pk, None, at))
        if p.ban is not None:
            rows["bans"].append((bases.bans + 1 + p.index, pk, p.ban[0], p.ban[1]))
    return rows
