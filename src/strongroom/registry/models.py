"""The registry's tables. Identity, address and assets live apart: a dealer's permit check
touches `permits` and the blind index on `identities`, never `addresses`.

Encrypted columns (suffix `_ct`) hold vault ciphertexts bound to the row's public ID and the
field name; `_bidx` columns hold keyed HMAC blind indexes for exact-match lookup. The only
routing attribute in clear is the département code.

Internal integer keys join rows; they never leave the service. Everything that does is a
random UUIDv4 `public_id`.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Pk = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Person(Base):
    __tablename__ = "persons"
    id: Mapped[int] = mapped_column(Pk, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    departement: Mapped[str] = mapped_column(String(3), index=True)
    # Set when the person was erased (crypto-shredded): the row stays as a tombstone so the
    # journal's entries naming the public ID still resolve; nothing personal remains.
    erased_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Identity(Base):
    __tablename__ = "identities"
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), primary_key=True)
    family_name_ct: Mapped[bytes] = mapped_column(LargeBinary)
    given_names_ct: Mapped[bytes] = mapped_column(LargeBinary)
    birth_date_ct: Mapped[bytes] = mapped_column(LargeBinary)
    birth_place_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    name_dob_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), index=True)
    # The blind-index key version that computed name_dob_bidx (a rotation re-indexes the
    # rows under older ones: `registry/reindex.py`).
    bidx_key: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class Address(Base):
    __tablename__ = "addresses"
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), primary_key=True)
    street_ct: Mapped[bytes] = mapped_column(LargeBinary)
    city_ct: Mapped[bytes] = mapped_column(LargeBinary)
    postcode_ct: Mapped[bytes] = mapped_column(LargeBinary)


class Dealer(Base):
    __tablename__ = "dealers"
    id: Mapped[int] = mapped_column(Pk, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    departement: Mapped[str] = mapped_column(String(3), index=True)


class Permit(Base):
    __tablename__ = "permits"
    id: Mapped[int] = mapped_column(Pk, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    # None once the holder is erased and the blind-index key rotated: the sealed number
    # is gone with them, so nothing can recompute it under the new key.
    number_bidx: Mapped[bytes | None] = mapped_column(LargeBinary(16), unique=True, nullable=True)
    bidx_key: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # The number itself, sealed by the vault for its holder's own view; None on rows seeded
    # before it was kept (only their blind index exists).
    number_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    kind: Mapped[str] = mapped_column(String(20))  # hunting | sport | collector
    categories: Mapped[str] = mapped_column(String(10))  # e.g. "B,C"
    issued: Mapped[date] = mapped_column(Date)
    expires: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12))  # valid | suspended | revoked


class Weapon(Base):
    __tablename__ = "weapons"
    id: Mapped[int] = mapped_column(Pk, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    serial_bidx: Mapped[bytes] = mapped_column(LargeBinary(16), index=True)
    serial_ct: Mapped[bytes] = mapped_column(LargeBinary)
    bidx_key: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    category: Mapped[str] = mapped_column(String(2))  # EU category A, B, C
    make: Mapped[str] = mapped_column(String(80))
    model: Mapped[str] = mapped_column(String(80))
    calibre: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(12))  # registered | stolen | seized | for_sale
    holder_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id"), index=True, nullable=True
    )
    dealer_id: Mapped[int | None] = mapped_column(
        ForeignKey("dealers.id"), index=True, nullable=True
    )


class BlindIndexKey(Base):
    """A version of the blind-index key and where it stands (`vault/index_ring.py`):
    active, indexing (a rotation fills it) or retired (destroyed, no row under it)."""

    __tablename__ = "blind_index_keys"
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(12))
    started_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Sale(Base):
    """The dealer's digital police ledger: one row per weapon sold."""

    __tablename__ = "sales"
    id: Mapped[int] = mapped_column(Pk, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    weapon_id: Mapped[int] = mapped_column(ForeignKey("weapons.id"), index=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    permit_id: Mapped[int] = mapped_column(ForeignKey("permits.id"))
    sold_at: Mapped[float] = mapped_column(Float)
    recorded_by: Mapped[str] = mapped_column(String(36))

    __table_args__ = (Index("ix_sales_dealer_sold", "dealer_id", "sold_at", "public_id"),)


class Transfer(Base):
    __tablename__ = "transfers"
    id: Mapped[int] = mapped_column(Pk, primary_key=True, autoincrement=True)
    weapon_id: Mapped[int] = mapped_column(ForeignKey("weapons.id"), index=True)
    # Indexed by either party: a case link asks whether a weapon passed between two
    # subjects.
    from_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id"), nullable=True, index=True
    )
    to_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id"), nullable=True, index=True
    )
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"), nullable=True)
    at: Mapped[float] = mapped_column(Float)


class Ban(Base):
    """A ban on acquiring or holding weapons. The reason is never shown to dealers."""

    __tablename__ = "bans"
    id: Mapped[int] = mapped_column(Pk, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    since: Mapped[date] = mapped_column(Date)
    until: Mapped[date | None] = mapped_column(Date, nullable=True)


class Principal(Base):
    """A staff account. Owners authenticate as their subject and need no row here."""

    __tablename__ = "principals"
    id: Mapped[int] = mapped_column(Pk, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    role: Mapped[str] = mapped_column(String(20), index=True)
    departement: Mapped[str | None] = mapped_column(String(3), nullable=True)
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"), nullable=True)
    label: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(12), default="active")
    created_at: Mapped[float] = mapped_column(Float)


class Case(Base):
    """A task that needs full records: a permit application, renewal, suspension or
    seizure (prefecture), an investigation (police), or an owner's own request. It belongs
    to a unit (`role:departement`, e.g. `prefecture:75`); only that unit's agents read
    through it, and only the subjects linked to it, while it is open and unexpired."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Pk, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str] = mapped_column(String(64), index=True)
    reference: Mapped[str] = mapped_column(String(120))
    covert: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(12), default="open")
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    closed_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    def grants(self, unit: str, now: float) -> bool:
        """Whether the case still grants its unit anything: open and unexpired."""
        return self.unit == unit and self.status == "open" and self.expires_at > now


class CaseSubject(Base):
    """A subject linked to a case, with the reason; `pending` until a second agent of the
    unit approves a link that needs four eyes."""

    __tablename__ = "case_subjects"
    id: Mapped[int] = mapped_column(Pk, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    reason: Mapped[str] = mapped_column(String(200))
    linked_by: Mapped[str] = mapped_column(String(64))
    linked_at: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(12), default="active")
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (UniqueConstraint("case_id", "person_id"),)


class DataKey(Base):
    """Wrapped data-encryption keys (envelope encryption); unwrapped only in memory.
    `person_id` names the one person a key encrypts (identity and address fields), None
    for a generation shared by many rows. No foreign key: a seed writes keys and persons
    in one batch, and an erased person's keys are deleted while its tombstone stays."""

    __tablename__ = "data_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    store: Mapped[str] = mapped_column(String(20))
    kek_version: Mapped[int] = mapped_column(Integer)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    person_id: Mapped[int | None] = mapped_column(Pk, nullable=True, index=True)


class CanaryMark(Base):
    """Honey records, kept keyed: HMAC(honey_key, public_id). Without the key a copy of the
    database cannot tell a canary from a real person."""

    __tablename__ = "canary_marks"
    mark: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)


class Review(Base):
    """A break-glass access awaiting the data protection officer's decision. Kept forever:
    a decision is recorded beside the request, never replaces it."""

    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(Pk, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    principal_id: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(40))
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    case_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    justification: Mapped[str] = mapped_column(String(2000))
    started_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    decision_note: Mapped[str | None] = mapped_column(String(2000), nullable=True)
