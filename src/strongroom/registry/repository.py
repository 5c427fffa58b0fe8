"""Read and write the registry's rows. Minimal columns per question; no decryption here
(the gate asks the vault for the fields the policy reveals, and no others)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import Engine, Executable, Result, bindparam, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from strongroom.registry.errors import storage_errors
from strongroom.registry.models import (
    Address,
    Ban,
    Case,
    CaseSubject,
    Dealer,
    Identity,
    Permit,
    Person,
    Principal,
    Review,
    Sale,
    Transfer,
    Weapon,
)


@dataclass(frozen=True)
class PersonRow:
    pk: int
    public_id: str
    departement: str


@dataclass(frozen=True)
class PermitRow:
    pk: int
    public_id: str
    person_pk: int
    kind: str
    categories: str
    issued: date
    expires: date
    status: str
    number_ct: bytes | None


@dataclass(frozen=True)
class WeaponRow:
    pk: int
    public_id: str
    serial_ct: bytes
    category: str
    make: str
    model: str
    calibre: str
    status: str
    holder_pk: int | None
    dealer_pk: int | None


@dataclass(frozen=True)
class PrincipalRow:
    pk: int
    public_id: str
    role: str
    departement: str | None
    dealer_public_id: str | None
    status: str
    label: str


# The columns a PermitRow holds, in its order.
PERMIT_COLUMNS = (
    Permit.id,
    Permit.public_id,
    Permit.person_id,
    Permit.kind,
    Permit.categories,
    Permit.issued,
    Permit.expires,
    Permit.status,
    Permit.number_ct,
)

_WEAPON_COLUMNS = (
    Weapon.id,
    Weapon.public_id,
    Weapon.serial_ct,
    Weapon.category,
    Weapon.make,
    Weapon.model,
    Weapon.calibre,
    Weapon.status,
    Weapon.holder_id,
    Weapon.dealer_id,
)

# The request path's reads, built once with bound parameters. Building a select and its
# cache key costs about three times as much as running it on SQLite, on every request;
# these run on the session's connection, past the ORM's execution layer (the rows are
# plain columns, never entities).
# An erased person's tombstone answers exactly like a missing record.
_PERSON_BY_PUBLIC_ID = select(Person.id, Person.public_id, Person.departement).where(
    Person.public_id == bindparam("public_id"), Person.erased_at.is_(None)
)
_PERMITS_OF = (
    select(*PERMIT_COLUMNS)
    .where(Permit.person_id.in_(bindparam("pks", expanding=True)))
    .order_by(Permit.public_id)
)
# One person's (a record's read): an expanding IN is rendered anew on every execution.
_PERMITS_OF_ONE = (
    select(*PERMIT_COLUMNS).where(Permit.person_id == bindparam("pk")).order_by(Permit.public_id)
)
_WEAPONS_OF = (
    select(*_WEAPON_COLUMNS).where(Weapon.holder_id == bindparam("pk")).order_by(Weapon.public_id)
)
# A PrincipalRow's columns, in its order, its dealer by public ID.
_PRINCIPALS = select(
    Principal.id,
    Principal.public_id,
    Principal.role,
    Principal.departement,
    Dealer.public_id,
    Principal.status,
    Principal.label,
).outerjoin(Dealer, Dealer.id == Principal.dealer_id)
_PRINCIPAL = _PRINCIPALS.where(Principal.public_id == bindparam("public_id"))
_LINKED_IN_OPEN_CASE = (
    select(CaseSubject.id)
    .join(Case, Case.id == CaseSubject.case_id)
    .where(
        Case.public_id == bindparam("case"),
        Case.unit == bindparam("unit"),
        Case.status == "open",
        Case.expires_at > bindparam("now"),
        CaseSubject.person_id == bindparam("pk"),
        CaseSubject.status == "active",
    )
    .limit(1)
)


@cache
def _person_columns(identity: tuple[str, ...], address: tuple[str, ...]) -> Executable:
    """The named ciphertexts of a person's identity and address rows, in one statement
    (each row's key first: whether it exists)."""
    return (
        select(
            Identity.person_id,
            *[getattr(Identity, f"{c}_ct") for c in identity],
            Address.person_id,
            *[getattr(Address, f"{c}_ct") for c in address],
        )
        .select_from(Person)
        .outerjoin(Identity, Identity.person_id == Person.id)
        .outerjoin(Address, Address.person_id == Person.id)
        .where(Person.id == bindparam("pk"))
    )


def _run(s: Session, statement: Executable, params: Mapping[str, Any]) -> Result[Any]:
    return s.connection().execute(statement, params)


class Registry:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose storage errors leave it as `StorageUnavailable`: callers above
        the registry handle the project's errors only (journaled, budget settled)."""
        with storage_errors(), self._sessions() as s:
            yield s

    # --- persons -------------------------------------------------------------------
    def person_by_public_id(self, s: Session, public_id: str) -> PersonRow | None:
        row = _run(s, _PERSON_BY_PUBLIC_ID, {"public_id": public_id}).first()
        return PersonRow(*row) if row else None

    def persons_by_pk(self, s: Session, pks: Sequence[int]) -> dict[int, PersonRow]:
        if not pks:
            return {}
        rows = s.execute(
            select(Person.id, Person.public_id, Person.departement).where(Person.id.in_(pks))
        ).all()
        return {r[0]: PersonRow(*r) for r in rows}

    # Lookups take every digest of the value a search computes: one per live blind-index
    # key version (two while a rotation re-indexes, `vault/index_ring.py`).
    def persons_by_name_dob(
        self, s: Session, bidxs: Sequence[bytes], limit: int
    ) -> list[PersonRow]:
        rows = s.execute(
            select(Person.id, Person.public_id, Person.departement)
            .join(Identity, Identity.person_id == Person.id)
            .where(Identity.name_dob_bidx.in_(bidxs))
            .order_by(Person.public_id)
            .limit(limit)
        ).all()
        return [PersonRow(*r) for r in rows]

    def person_blobs(
        self, s: Session, person_pk: int, identity: Sequence[str], address: Sequence[str]
    ) -> tuple[dict[str, bytes | None], dict[str, bytes | None]]:
        """Only the named encrypted columns of the person's identity and address, e.g.
        ("family_name", "birth_date") and ("city",); a missing row gives an empty map."""
        if not identity and not address:
            return {}, {}
        row = _run(s, _person_columns(tuple(identity), tuple(address)), {"pk": person_pk}).first()
        if row is None:
            return {}, {}
        split = 1 + len(identity)
        found_id, found_addr = row[0] is not None, row[split] is not None
        return (
            dict(zip(identity, row[1:split], strict=True)) if found_id else {},
            dict(zip(address, row[split + 1 :], strict=True)) if found_addr else {},
        )

    def name_dob_bidx_of(self, s: Session, person_pk: int) -> bytes | None:
        return s.execute(
            select(Identity.name_dob_bidx).where(Identity.person_id == person_pk)
        ).scalar()

    def is_banned(self, s: Session, person_pk: int, today: date) -> bool:
        row = s.execute(
            select(Ban.id)
            .where(
                Ban.person_id == person_pk,
                Ban.since <= today,
                (Ban.until.is_(None)) | (Ban.until >= today),
            )
            .limit(1)
        ).first()
        return row is not None

    def bought_from(self, s: Session, dealer_pk: int, person_pk: int) -> bool:
        """Whether the person bought a weapon from this dealer (the dealer's own ledger)."""
        row = s.execute(
            select(Sale.id).where(Sale.dealer_id == dealer_pk, Sale.buyer_id == person_pk).limit(1)
        ).first()
        return row is not None

    # --- cases ------------------------------------------------------------------------
    def case(self, s: Session, public_id: str) -> Case | None:
        return s.execute(select(Case).where(Case.public_id == public_id)).scalar_one_or_none()

    def add_case(self, s: Session, case: Case) -> None:
        s.add(case)
        s.flush()

    def cases_of_unit(self, s: Session, unit: str, *, status: str | None, limit: int) -> list[Case]:
        q = select(Case).where(Case.unit == unit)
        if status is not None:
            q = q.where(Case.status == status)
        return list(s.execute(q.order_by(Case.opened_at.desc()).limit(limit)).scalars())

    def case_link(self, s: Session, case_pk: int, person_pk: int) -> CaseSubject | None:
        return s.execute(
            select(CaseSubject).where(
                CaseSubject.case_id == case_pk, CaseSubject.person_id == person_pk
            )
        ).scalar_one_or_none()

    def add_case_link(self, s: Session, link: CaseSubject) -> None:
        s.add(link)
        s.flush()

    def case_link_count(self, s: Session, case_pk: int) -> int:
        return int(
            s.execute(
                select(func.count(CaseSubject.id)).where(CaseSubject.case_id == case_pk)
            ).scalar_one()
        )

    def case_links_by_status(
        self, s: Session, unit: str | None, status: str, now: float, *, limit: int
    ) -> list[tuple[Case, CaseSubject, str]]:
        """Links of one unit (or every unit: None) by four-eyes status, each with its case
        and the subject's public ID: `pending` on open, unexpired cases, oldest first;
        `approved` (active, decided by a second agent) or `rejected`, newest decision
        first."""
        q = (
            select(Case, CaseSubject, Person.public_id)
            .join(CaseSubject, CaseSubject.case_id == Case.id)
            .join(Person, Person.id == CaseSubject.person_id)
        )
        if unit is not None:
            q = q.where(Case.unit == unit)
        if status == "pending":
            q = q.where(
                CaseSubject.status == "pending", Case.status == "open", Case.expires_at > now
            ).order_by(CaseSubject.linked_at)
        else:
            q = q.where(
                CaseSubject.status == ("active" if status == "approved" else status),
                CaseSubject.decided_by.is_not(None),
            ).order_by(CaseSubject.decided_at.desc())
        return [(c, link, str(p)) for c, link, p in s.execute(q.limit(limit)).all()]

    def related_to_case(self, s: Session, case: Case, person_pk: int, now: float) -> bool:
        """Whether a subject about to be linked has something to do with the case: it is on
        another open case of the same unit (which the unit's agents read it through
        already), or a weapon passed between it and a subject of the case. What the
        linking detectors tell a case from a list of targets by. A closed case does not
        count: over the years a unit has had most of its département on some case."""
        known = s.execute(
            select(CaseSubject.id)
            .join(Case, Case.id == CaseSubject.case_id)
            .where(
                CaseSubject.person_id == person_pk,
                CaseSubject.status == "active",
                Case.unit == case.unit,
                Case.id != case.id,
                Case.status == "open",
                Case.expires_at > now,
            )
            .limit(1)
        ).first()
        if known is not None:
            return True
        on_case = select(CaseSubject.person_id).where(CaseSubject.case_id == case.id)
        shared = s.execute(
            select(Transfer.id)
            .where(
                ((Transfer.from_person_id == person_pk) & Transfer.to_person_id.in_(on_case))
                | ((Transfer.to_person_id == person_pk) & Transfer.from_person_id.in_(on_case))
            )
            .limit(1)
        ).first()
        return shared is not None

    def linked_in_open_case(
        self, s: Session, case_public_id: str, unit: str, person_pk: int, now: float
    ) -> bool:
        """Whether the person is linked (and approved) to this case, the case is open,
        unexpired and the unit's: the need-to-know test of a full-record read."""
        params = {"case": case_public_id, "unit": unit, "now": now, "pk": person_pk}
        return _run(s, _LINKED_IN_OPEN_CASE, params).first() is not None

    # --- permits and weapons --------------------------------------------------------
    def permit_by_bidx(self, s: Session, bidxs: Sequence[bytes]) -> PermitRow | None:
        row = s.execute(select(*PERMIT_COLUMNS).where(Permit.number_bidx.in_(bidxs))).first()
        return PermitRow(*row) if row else None

    def permits_of(self, s: Session, person_pks: Sequence[int]) -> list[PermitRow]:
        if not person_pks:
            return []
        if len(person_pks) == 1:
            rows = _run(s, _PERMITS_OF_ONE, {"pk": person_pks[0]}).all()
        else:
            rows = _run(s, _PERMITS_OF, {"pks": list(person_pks)}).all()
        return [PermitRow(*r) for r in rows]

    def weapon_by_serial_bidx(self, s: Session, bidxs: Sequence[bytes]) -> WeaponRow | None:
        row = s.execute(select(*_WEAPON_COLUMNS).where(Weapon.serial_bidx.in_(bidxs))).first()
        return WeaponRow(*row) if row else None

    def weapons_of(self, s: Session, person_pk: int) -> list[WeaponRow]:
        rows = _run(s, _WEAPONS_OF, {"pk": person_pk}).all()
        return [WeaponRow(*r) for r in rows]

    def weapons_by_pk(self, s: Session, pks: Sequence[int]) -> dict[int, WeaponRow]:
        if not pks:
            return {}
        rows = s.execute(select(*_WEAPON_COLUMNS).where(Weapon.id.in_(pks))).all()
        return {r[0]: WeaponRow(*r) for r in rows}

    # --- dealers and sales ------------------------------------------------------------
    def dealer_pk(self, s: Session, dealer_public_id: str) -> int | None:
        return s.execute(select(Dealer.id).where(Dealer.public_id == dealer_public_id)).scalar()

    def record_sale(
        self,
        s: Session,
        *,
        sale_public_id: str,
        dealer_pk: int,
        weapon_pk: int,
        buyer_pk: int,
        permit_pk: int,
        at: float,
        recorded_by: str,
    ) -> None:
        s.add(
            Sale(
                public_id=sale_public_id,
                dealer_id=dealer_pk,
                weapon_id=weapon_pk,
                buyer_id=buyer_pk,
                permit_id=permit_pk,
                sold_at=at,
                recorded_by=recorded_by,
            )
        )
        s.add(
            Transfer(
                weapon_id=weapon_pk,
                from_person_id=None,
                to_person_id=buyer_pk,
                dealer_id=dealer_pk,
                at=at,
            )
        )
        s.execute(
            update(Weapon)
            .where(Weapon.id == weapon_pk)
            .values(holder_id=buyer_pk, dealer_id=None, status="registered")
        )

    def ledger_page(
        self, s: Session, dealer_pk: int, *, after: tuple[float, str] | None, limit: int
    ) -> list[tuple[int, str, float, int, int]]:
        """(sale pk, sale public id, sold_at, weapon pk, buyer pk), newest first. Keyset
        paging on (sold_at, public id): no offsets, no internal keys in cursors."""
        q = select(Sale.id, Sale.public_id, Sale.sold_at, Sale.weapon_id, Sale.buyer_id).where(
            Sale.dealer_id == dealer_pk
        )
        if after is not None:
            at, pid = after
            q = q.where((Sale.sold_at < at) | ((Sale.sold_at == at) & (Sale.public_id < pid)))
        q = q.order_by(Sale.sold_at.desc(), Sale.public_id.desc()).limit(limit)
        return [tuple(r) for r in s.execute(q).all()]  # type: ignore[misc]

    # --- principals ---------------------------------------------------------------------
    def principal(self, s: Session, public_id: str) -> PrincipalRow | None:
        row = _run(s, _PRINCIPAL, {"public_id": public_id}).first()
        return PrincipalRow(*row) if row else None

    def principals(self, s: Session) -> list[PrincipalRow]:
        rows = s.execute(_PRINCIPALS.order_by(Principal.role, Principal.created_at)).all()
        return [PrincipalRow(*r) for r in rows]

    def add_principal(
        self,
        s: Session,
        *,
        public_id: str,
        role: str,
        departement: str | None,
        dealer_pk: int | None,
        label: str,
        at: float,
    ) -> None:
        s.add(
            Principal(
                public_id=public_id,
                role=role,
                departement=departement,
                dealer_id=dealer_pk,
                label=label,
                status="active",
                created_at=at,
            )
        )

    def set_principal_status(self, s: Session, public_id: str, status: str) -> bool:
        result = s.execute(
            update(Principal).where(Principal.public_id == public_id).values(status=status)
        )
        return bool(result.rowcount)

    # --- break-glass reviews -----------------------------------------------------------------
    def open_review(self, s: Session, principal_id: str, grant_key: str) -> Review | None:
        return s.execute(
            select(Review)
            .where(Review.principal_id == principal_id, Review.session_id == grant_key)
            .order_by(Review.started_at.desc())
            .limit(1)
        ).scalar_one_or_none()

    def add_review(self, s: Session, review: Review) -> None:
        s.add(review)

    def reviews(self, s: Session, *, status: str | None, limit: int) -> list[Review]:
        q = select(Review)
        if status:
            q = q.where(Review.status == status)
        return list(s.execute(q.order_by(Review.started_at.desc()).limit(limit)).scalars())

    def review(self, s: Session, public_id: str) -> Review | None:
        return s.execute(select(Review).where(Review.public_id == public_id)).scalar_one_or_none()
