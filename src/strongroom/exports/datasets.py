"""The named queries behind the policy's export datasets.

The policy names a dataset and the fields each purpose may take from it; this catalogue
holds the query. A dataset the policy names but the catalogue lacks, or a field the query
cannot provide, is refused when the export desk is built, not on the day of the request.

Row datasets stream from the registry (server-side cursors, bounded memory) and are
scoped to the requester's département; aggregate datasets are counts that go through
small-cell suppression (suppression.py) before they leave.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, func, select

from strongroom.exports.suppression import DEFAULT_MIN_CELL
from strongroom.registry.models import Permit, Person, Weapon

EXPIRING_WITHIN_DAYS = 180


@dataclass(frozen=True)
class Scope:
    """What bounds a dataset's rows: the requester's département and today's date (from
    the injected clock)."""

    departement: str | None
    today: date


class Dataset(Protocol):
    name: str
    kind: str  # "rows" | "aggregate"
    provides: frozenset[str]
    needs_departement: bool

    def count(self, conn: Connection, scope: Scope) -> int: ...
    def rows(self, conn: Connection, scope: Scope, limit: int) -> Iterator[dict[str, Any]]: ...


@dataclass(frozen=True)
class PermitsExpiring:
    """Valid permits of the requester's département expiring within 180 days, soonest
    first: the list renewal letters are printed from. No decryption: every field is a
    clear column (IDs, permit attributes, département)."""

    name: str = "departement_permits_expiring"
    kind: str = "rows"
    needs_departement: bool = True
    provides: frozenset[str] = frozenset(
        {
            "ref.person_id",
            "ref.permit_id",
            "permit.kind",
            "permit.categories",
            "permit.status",
            "permit.issued",
            "permit.expires",
            "address.departement",
        }
    )

    def _where(self, q: Any, scope: Scope) -> Any:
        until = scope.today + timedelta(days=EXPIRING_WITHIN_DAYS)
        return q.where(
            Person.departement == scope.departement,
            Permit.status == "valid",
            Permit.expires >= scope.today,
            Permit.expires <= until,
        )

    def count(self, conn: Connection, scope: Scope) -> int:
        q = select(func.count()).select_from(Permit).join(Person, Person.id == Permit.person_id)
        return int(conn.execute(self._where(q, scope)).scalar_one())

    def rows(self, conn: Connection, scope: Scope, limit: int) -> Iterator[dict[str, Any]]:
        q = select(
            Person.public_id,
            Permit.public_id,
            Permit.kind,
            Permit.categories,
            Permit.status,
            Permit.issued,
            Permit.expires,
            Person.departement,
        ).join(Person, Person.id == Permit.person_id)
        q = self._where(q, scope).order_by(Permit.expires, Permit.public_id).limit(limit)
        result = conn.execution_options(stream_results=True, yield_per=2000).execute(q)
        for pid, permit_id, kind, cats, status, issued, expires, dep in result:
            yield {
                "ref.person_id": pid,
                "ref.permit_id": permit_id,
                "permit.kind": kind,
                "permit.categories": cats,
                "permit.status": status,
                "permit.issued": issued.isoformat(),
                "permit.expires": expires.isoformat(),
                "address.departement": dep,
            }

    def canary(
        self, rnd: Callable[[str], bytes], ids: Callable[[str], str], scope: Scope
    ) -> dict[str, Any]:
        """A synthetic row drawn like the real ones: same département, an expiry in the
        window, a common kind and category set."""

        def pick(what: str, options: tuple[str, ...]) -> str:
            return options[rnd(what)[0] % len(options)]

        days = int.from_bytes(rnd("expires")[:4], "big") % EXPIRING_WITHIN_DAYS
        expires = scope.today + timedelta(days=days)
        issued = expires - timedelta(days=365 * 15)
        return {
            "ref.person_id": ids("ref.person_id"),
            "ref.permit_id": ids("ref.permit_id"),
            "permit.kind": pick(
                "kind", ("hunting", "hunting", "hunting", "sport", "sport", "collector")
            ),
            "permit.categories": pick("categories", ("C", "C", "C", "B,C", "B")),
            "permit.status": "valid",
            "permit.issued": issued.isoformat(),
            "permit.expires": expires.isoformat(),
            "address.departement": scope.departement,
        }


@dataclass(frozen=True)
class WeaponsByDepartementCategory:
    """Registered weapons held, counted by the holder's département and the weapon's EU
    category. National: counts only, after small-cell suppression."""

    name: str = "weapons_by_departement_category"
    kind: str = "aggregate"
    needs_departement: bool = False
    provides: frozenset[str] = frozenset({"address.departement", "weapon.category"})
    min_cell: int = DEFAULT_MIN_CELL
    axes: tuple[str, str] = ("address.departement", "weapon.category")

    def count(self, conn: Connection, scope: Scope) -> int:
        return len(self.cells(conn))

    def cells(self, conn: Connection) -> dict[tuple[str, str], int]:
        q = (
            select(Person.departement, Weapon.category, func.count())
            .join(Person, Person.id == Weapon.holder_id)
            .group_by(Person.departement, Weapon.category)
        )
        return {(d, c): int(n) for d, c, n in conn.execute(q).all()}

    def rows(self, conn: Connection, scope: Scope, limit: int) -> Iterator[dict[str, Any]]:
        raise NotImplementedError("aggregates are generated through suppression")


@dataclass
class Catalogue:
    datasets: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Any | None:
        return self.datasets.get(name)

    def check(self, policy_datasets: Mapping[str, Any]) -> list[str]:
        """Problems between the policy's datasets and this catalogue (empty: consistent)."""
        problems = []
        for name, spec in policy_datasets.items():
            ds = self.datasets.get(name)
            if ds is None:
                problems.append(f"export dataset {name!r} has no query in the catalogue")
                continue
            for purpose, fields in spec.purposes.items():
                extra = sorted(set(fields) - ds.provides)
                if extra:
                    problems.append(
                        f"export dataset {name!r} cannot provide {extra} (purpose {purpose!r})"
                    )
        return problems


def default_catalogue() -> Catalogue:
    found = [PermitsExpiring(), WeaponsByDepartementCategory()]
    return Catalogue({d.name: d for d in found})
