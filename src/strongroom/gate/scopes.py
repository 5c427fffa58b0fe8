"""Object scopes: which persons a caller may see, one small class each.

The policy gives each role (and each break-glass purpose) an `object_scope` by name; this
table is the code behind the names. A scope may also say which attribute a principal of
its role must have (`needs`): a prefecture agent without a département, or a dealer
account without a dealer, could see nothing, so such an account is refused at creation.

A new scope is a class here and its name in `OBJECT_SCOPES`; the policy then uses it.
"""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy.orm import Session

from strongroom.context import Caller
from strongroom.registry.repository import PersonRow, Registry


class ObjectScope:
    """Whether `caller` may see `person`. `needs` names the principal attribute the scope
    reads (`departement`, `dealer`), if any."""

    needs: ClassVar[str | None] = None

    def allows(self, s: Session, registry: Registry, caller: Caller, person: PersonRow) -> bool:
        raise NotImplementedError


class Nobody(ObjectScope):
    def allows(self, s: Session, registry: Registry, caller: Caller, person: PersonRow) -> bool:
        return False


class Anyone(ObjectScope):
    def allows(self, s: Session, registry: Registry, caller: Caller, person: PersonRow) -> bool:
        return True


class Self(ObjectScope):
    """The owner's own record."""

    def allows(self, s: Session, registry: Registry, caller: Caller, person: PersonRow) -> bool:
        return person.public_id == caller.principal_id


class OwnDepartement(ObjectScope):
    """Persons living in the agent's département."""

    needs = "departement"

    def allows(self, s: Session, registry: Registry, caller: Caller, person: PersonRow) -> bool:
        return caller.departement is not None and person.departement == caller.departement


class OwnDealer(ObjectScope):
    """Persons who bought from the caller's dealer: the dealer's own ledger."""

    needs = "dealer"

    def allows(self, s: Session, registry: Registry, caller: Caller, person: PersonRow) -> bool:
        if not caller.dealer_id:
            return False
        dealer_pk = registry.dealer_pk(s, caller.dealer_id)
        return dealer_pk is not None and registry.bought_from(s, dealer_pk, person.pk)


class AssignedCase(ObjectScope):
    """Persons assigned to the caller under the case its token names."""

    def allows(self, s: Session, registry: Registry, caller: Caller, person: PersonRow) -> bool:
        return caller.case is not None and registry.in_case(
            s, caller.case, caller.principal_id, person.pk
        )


OBJECT_SCOPES: dict[str, ObjectScope] = {
    "none": Nobody(),
    "any": Anyone(),
    "self": Self(),
    "own_departement": OwnDepartement(),
    "own_dealer": OwnDealer(),
    "assigned_case": AssignedCase(),
}
