"""Object scopes: which persons a caller may see, one small class each.

The policy gives each role (and each break-glass purpose) an `object_scope` by name; this
table is the code behind the names. A scope may also say which attribute a principal of
its role must have (`needs`): a prefecture agent without a département, or a dealer
account without a dealer, could see nothing, so such an account is refused at creation.

A new scope is a class here and its name in `OBJECT_SCOPES` (and in the policy model's
`ObjectScope`); the policy then uses it, for a role or for a purpose. A purpose may name
several, which must all allow (`AllOf`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from sqlalchemy.orm import Session

from strongroom.context import Caller
from strongroom.ids import is_public_id
from strongroom.registry.repository import PersonRow, Registry


class ObjectScope:
    """Whether `caller` may see `person` at time `now`. `needs` names the principal
    attribute the scope reads (`departement`, `dealer`), if any."""

    needs: ClassVar[str | None] = None

    def allows(
        self, s: Session, registry: Registry, caller: Caller, person: PersonRow, now: float
    ) -> bool:
        raise NotImplementedError


class Nobody(ObjectScope):
    def allows(
        self, s: Session, registry: Registry, caller: Caller, person: PersonRow, now: float
    ) -> bool:
        return False


class Anyone(ObjectScope):
    def allows(
        self, s: Session, registry: Registry, caller: Caller, person: PersonRow, now: float
    ) -> bool:
        return True


class Self(ObjectScope):
    """The owner's own record."""

    def allows(
        self, s: Session, registry: Registry, caller: Caller, person: PersonRow, now: float
    ) -> bool:
        return person.public_id == caller.principal_id


class OwnDepartement(ObjectScope):
    """Persons living in the agent's département."""

    needs = "departement"

    def allows(
        self, s: Session, registry: Registry, caller: Caller, person: PersonRow, now: float
    ) -> bool:
        return caller.departement is not None and person.departement == caller.departement


class OwnDealer(ObjectScope):
    """Persons who bought from the caller's dealer: the dealer's own ledger."""

    needs = "dealer"

    def allows(
        self, s: Session, registry: Registry, caller: Caller, person: PersonRow, now: float
    ) -> bool:
        if not caller.dealer_id:
            return False
        dealer_pk = registry.dealer_pk(s, caller.dealer_id)
        return dealer_pk is not None and registry.bought_from(s, dealer_pk, person.pk)


class OpenCase(ObjectScope):
    """Need to know: persons linked to the open case the caller's token names, a case of
    the caller's own unit (`Caller.unit`). A made-up, closed, expired or colleague's-unit case
    grants nothing, and neither does a link still waiting for a second agent."""

    def allows(
        self, s: Session, registry: Registry, caller: Caller, person: PersonRow, now: float
    ) -> bool:
        if not caller.case or not is_public_id(caller.case):
            return False
        return registry.linked_in_open_case(s, caller.case, caller.unit, person.pk, now)


OBJECT_SCOPES: dict[str, ObjectScope] = {
    "none": Nobody(),
    "any": Anyone(),
    "self": Self(),
    "own_departement": OwnDepartement(),
    "own_dealer": OwnDealer(),
    "open_case": OpenCase(),
}


class AllOf(ObjectScope):
    def __init__(self, *scopes: ObjectScope) -> None:
        self.scopes = scopes

    def allows(
        self, s: Session, registry: Registry, caller: Caller, person: PersonRow, now: float
    ) -> bool:
        return all(sc.allows(s, registry, caller, person, now) for sc in self.scopes)


def scope_of(names: str | Sequence[str]) -> ObjectScope:
    if isinstance(names, str):
        return OBJECT_SCOPES[names]
    return AllOf(*(OBJECT_SCOPES[n] for n in names))
