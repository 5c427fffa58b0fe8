"""The registry's tasks (owners, dealers, police, prefecture), one method each, all through
the pipeline. Every method returns an `Answer`; every refusal is a typed error the API
turns into problem+json.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from strongroom import endpoints as ep
from strongroom.clock import Clock
from strongroom.context import Caller
from strongroom.errors import BadRequest, Conflict, Forbidden, NotFound
from strongroom.gate.disclosure import (
    effective_status,
    masked,
    nest,
    permit_fields,
    person_fields,
    weapon_fields,
)
from strongroom.gate.pipeline import Answer, Disclosure, Pipeline, Task
from strongroom.gate.ports import PolicyPort, VaultPort
from strongroom.gate.scopes import scope_of
from strongroom.gate.sort_keys import id_key, name_key, number_key
from strongroom.ids import is_public_id, new_public_id
from strongroom.policy.model import ObjectScope as ObjectScopeName
from strongroom.registry.repository import PermitRow, PersonRow, Registry

NOT_VISIBLE = "no such person, or not one you may see"

VERIFY_FIELDS = frozenset({"permit.status", "permit.categories", "permit.expires", "ban.banned"})
WEAPON_FIELDS = frozenset({"ref.weapon_id", "weapon.category", "weapon.status", "permit.status"})
SEARCH_FIELDS = frozenset({"ref.person_id", "permit.status"})
# The purpose under which a dealer keeps its ledger: a sale names its buyer as that does.
LEDGER_PURPOSE = "ledger_keeping"


def parse_birth_date(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except (TypeError, ValueError) as exc:
        raise BadRequest(
            "birth_date must be a date in the form YYYY-MM-DD", reason="invalid_birth_date"
        ) from exc


class RegistryTasks:
    def __init__(
        self,
        *,
        pipeline: Pipeline,
        registry: Registry,
        vault: VaultPort,
        policy: PolicyPort,
        clock: Clock,
    ) -> None:
        self.pipeline = pipeline
        self.registry = registry
        self.vault = vault
        self.policy = policy
        self.clock = clock

    def _today(self) -> date:
        return datetime.fromtimestamp(self.clock.now(), UTC).date()

    # --- owner ---------------------------------------------------------------------------
    def me(self, caller: Caller) -> Answer:
        def work(t: Task) -> Disclosure:
            with self.registry.session() as s:
                person = self.registry.person_by_public_id(s, caller.principal_id)
                if person is None:
                    raise NotFound(NOT_VISIBLE, reason="not_found")
                return self._person_disclosure(s, t, person)

        return self.pipeline.serve(caller, ep.ME, work, expected_records=1)

    # --- prefecture ----------------------------------------------------------------------
    def person(self, caller: Caller, person_id: str) -> Answer:
        def work(t: Task) -> Disclosure:
            if not is_public_id(person_id):
                t.detail["matched"] = False  # a guessed ID: the enumeration detector counts it
                raise NotFound(NOT_VISIBLE, reason="not_found")
            with self.registry.session() as s:
                person = self.registry.person_by_public_id(s, person_id)
                if person is None or not self._in_scope(
                    s, caller, t.purpose, person, full_record=True
                ):
                    # One answer for "absent" and "not yours", to the byte: existence cannot
                    # be probed. The journal keeps which it was.
                    t.detail["matched"] = False
                    t.detail["why"] = "absent" if person is None else "out_of_scope"
                    raise NotFound(NOT_VISIBLE, reason="not_found")
                disclosure = self._person_disclosure(s, t, person)
                disclosure.detail["matched"] = True
                return disclosure

        return self.pipeline.serve(
            caller, ep.PERSON, work, expected_records=1, sort_key=id_key(person_id)
        )

    def _in_scope(
        self, s: Session, caller: Caller, purpose: str, person: PersonRow, *, full_record: bool
    ) -> bool:
        """Object-level authorization, as the policy names it. A full record: the
        purpose's break-glass scope, or the purpose's own (need to know: a subject linked
        to an open case), else the role's. A search: the role's."""
        spec = self.policy.purpose(purpose)
        names: ObjectScopeName | list[ObjectScopeName] = self.policy.role(caller.role).object_scope
        if full_record and spec.break_glass is not None:
            names = spec.break_glass.object_scope
        elif full_record and spec.object_scope is not None:
            names = spec.object_scope
        return scope_of(names).allows(s, self.registry, caller, person, self.clock.now())

    def _person_disclosure(self, s: Session, t: Task, person: PersonRow) -> Disclosure:
        shown: set[str] = set()
        requester = t.caller.principal_id
        flat = person_fields(s, self.registry, self.vault, t.view, person)
        flat["ref.person_id"] = person.public_id
        body = shaped(masked(t.view, flat, requester, shown), "person_id")
        today = self._today()
        body["permits"] = [
            shaped(
                masked(
                    t.view,
                    {**permit_fields(self.vault, t.view, p, today), "ref.permit_id": p.public_id},
                    requester,
                    shown,
                ),
                "permit_id",
                "permit",
            )
            for p in self.registry.permits_of(s, [person.pk])
        ]
        body["weapons"] = [
            shaped(
                masked(
                    t.view,
                    {**weapon_fields(self.vault, t.view, w), "ref.weapon_id": w.public_id},
                    requester,
                    shown,
                ),
                "weapon_id",
                "weapon",
            )
            for w in self.registry.weapons_of(s, person.pk)
        ]
        return Disclosure(body=body, subjects=[person.public_id], fields=shown, records=1)

    # --- dealer --------------------------------------------------------------------------
    def verify_permit(
        self, caller: Caller, permit_number: str, family_name: str, birth_date: str
    ) -> Answer:
        given = {
            "permit.number": permit_number,
            "identity.family_name": family_name,
            "identity.birth_date": birth_date,
        }

        def work(t: Task) -> Disclosure:
            dob = parse_birth_date(birth_date)
            with self.registry.session() as s:
                match = self._match_buyer(s, permit_number, family_name, dob)
                if match is None:
                    return Disclosure(
                        body={"valid": False, "categories": [], "expires": None, "banned": None},
                        detail={"matched": False},
                    )
                person, permit = match
                today = self._today()
                shown: set[str] = set()
                out = masked(
                    t.view,
                    {
                        **permit_fields(self.vault, t.view, permit, today),
                        "ban.banned": self.registry.is_banned(s, person.pk, today),
                    },
                    caller.principal_id,
                    shown,
                )
                body = {
                    "valid": out.get("permit.status") == "valid",
                    "categories": out.get("permit.categories", []),
                    "expires": out.get("permit.expires"),
                    "banned": out.get("ban.banned"),
                }
                return Disclosure(
                    body=body,
                    subjects=[person.public_id],
                    fields=shown,
                    records=1,
                    detail={"matched": True},
                )

        return self.pipeline.serve(
            caller,
            ep.VERIFY,
            work,
            given=given,
            expected_records=1,
            discloses=VERIFY_FIELDS,
            sort_key=self._number_key(permit_number),
        )

    def _match_buyer(
        self, s: Session, permit_number: str, family_name: str, dob: str
    ) -> tuple[PersonRow, PermitRow] | None:
        permit = self.registry.permit_by_bidx(s, self.vault.blind_indexes("permit", permit_number))
        if permit is None:
            return None
        # The name and birth date are checked against the holder's blind index: nothing is
        # decrypted to verify a buyer.
        expected = self.registry.name_dob_bidx_of(s, permit.person_pk)
        if expected not in self.vault.blind_indexes("name_dob", family_name, dob):
            return None
        persons = self.registry.persons_by_pk(s, [permit.person_pk])
        return persons[permit.person_pk], permit

    def record_sale(
        self,
        caller: Caller,
        *,
        weapon_serial: str,
        permit_number: str,
        family_name: str,
        birth_date: str,
    ) -> Answer:
        given = {
            "permit.number": permit_number,
            "identity.family_name": family_name,
            "identity.birth_date": birth_date,
            "weapon.serial": weapon_serial,
        }

        def work(t: Task) -> Disclosure:
            dob = parse_birth_date(birth_date)
            if not caller.dealer_id:
                raise Forbidden("this account belongs to no dealer", reason="out_of_scope")
            with self.registry.session() as s, s.begin():
                dealer_pk = self.registry.dealer_pk(s, caller.dealer_id)
                weapon = self.registry.weapon_by_serial_bidx(
                    s, self.vault.blind_indexes("serial", weapon_serial)
                )
                if dealer_pk is None or weapon is None or weapon.dealer_pk != dealer_pk:
                    raise NotFound("no such weapon in your stock", reason="not_in_stock")
                match = self._match_buyer(s, permit_number, family_name, dob)
                today = self._today()
                if match is None:
                    raise Conflict("the buyer could not be verified", reason="buyer_unverified")
                person, permit = match
                if effective_status(permit, today) != "valid":
                    raise Conflict("the buyer's permit is not valid", reason="permit_invalid")
                if weapon.category not in permit.categories.split(","):
                    raise Conflict(
                        "the permit does not cover this weapon's category",
                        reason="category_not_allowed",
                    )
                if self.registry.is_banned(s, person.pk, today):
                    raise Conflict("the buyer may not acquire weapons", reason="buyer_banned")
                sale_id = new_public_id()
                self.registry.record_sale(
                    s,
                    sale_public_id=sale_id,
                    dealer_pk=dealer_pk,
                    weapon_pk=weapon.pk,
                    buyer_pk=person.pk,
                    permit_pk=permit.pk,
                    at=self.clock.now(),
                    recorded_by=caller.principal_id,
                )
            return Disclosure(
                body={
                    "sale_id": sale_id,
                    "weapon_id": weapon.public_id,
                    "person_id": self._as_in_ledger(caller, person.public_id),
                },
                subjects=[person.public_id],
                records=1,
                fields={"weapon.serial"},
            )

        return self.pipeline.serve(
            caller,
            ep.SALE,
            work,
            given=given,
            expected_records=1,
            discloses=frozenset({"weapon.serial"}),
            sort_key=self._number_key(permit_number),
        )

    def _as_in_ledger(self, caller: Caller, person_id: str) -> object | None:
        """The buyer as the dealer's own ledger names it (a per-dealer pseudonym under the
        shipped policy), never the registry ID; None where the role keeps no ledger."""
        try:
            view = self.policy.view(caller.role, LEDGER_PURPOSE)
        except Forbidden:
            return None
        return view.apply({"ref.person_id": person_id}, caller.principal_id).get("ref.person_id")

    def ledger(
        self, caller: Caller, *, cursor: str | None = None, limit: int | None = None
    ) -> Answer:
        def work(t: Task) -> Disclosure:
            if not caller.dealer_id:
                raise Forbidden("this account belongs to no dealer", reason="out_of_scope")
            size = t.page_size if limit is None else limit
            if size < 1 or size > t.page_size:
                raise BadRequest(f"limit must be between 1 and {t.page_size}", reason="page_size")
            after = decode_cursor(cursor)
            shown: set[str] = set()
            with self.registry.session() as s:
                dealer_pk = self.registry.dealer_pk(s, caller.dealer_id)
                if dealer_pk is None:
                    raise Forbidden("unknown dealer", reason="out_of_scope")
                rows = self.registry.ledger_page(s, dealer_pk, after=after, limit=size)
                weapons = self.registry.weapons_by_pk(s, [r[3] for r in rows])
                buyers = self.registry.persons_by_pk(s, [r[4] for r in rows])
                items = []
                subjects = []
                for _pk, sale_id, sold_at, weapon_pk, buyer_pk in rows:
                    w, buyer = weapons[weapon_pk], buyers[buyer_pk]
                    subjects.append(buyer.public_id)
                    flat = {
                        **weapon_fields(self.vault, t.view, w),
                        **person_fields(s, self.registry, self.vault, t.view, buyer),
                        "ref.weapon_id": w.public_id,
                        "ref.sale_id": sale_id,
                        "ref.person_id": buyer.public_id,
                        "sale.sold_at": datetime.fromtimestamp(sold_at, UTC).isoformat(),
                    }
                    items.append(
                        shaped(masked(t.view, flat, caller.principal_id, shown), "sale_id")
                    )
            nxt = encode_cursor(rows[-1][2], rows[-1][1]) if len(rows) == size else None
            # The dealer's own sales: journaled in full, budgeted, but not volume or breadth
            # evidence for the detectors (a ledger page is not a harvest).
            return Disclosure(
                body={"items": items, "next_cursor": nxt},
                subjects=subjects,
                fields=shown,
                records=len(items),
                detail={"own_records": True},
            )

        return self.pipeline.serve(caller, ep.LEDGER, work, expected_records=limit)

    # --- police --------------------------------------------------------------------------
    def weapon(self, caller: Caller, serial: str) -> Answer:
        given = {"weapon.serial": serial}

        def work(t: Task) -> Disclosure:
            with self.registry.session() as s:
                w = self.registry.weapon_by_serial_bidx(
                    s, self.vault.blind_indexes("serial", serial)
                )
                if w is None:
                    t.detail["matched"] = False
                    raise NotFound("no weapon with this serial", reason="not_found")
                today = self._today()
                holder_valid: bool | None = None
                subjects: list[str] = []
                if w.holder_pk is not None:
                    permits = self.registry.permits_of(s, [w.holder_pk])
                    holder_valid = any(
                        effective_status(p, today) == "valid"
                        and w.category in p.categories.split(",")
                        for p in permits
                    )
                    subjects = [
                        self.registry.persons_by_pk(s, [w.holder_pk])[w.holder_pk].public_id
                    ]
            shown: set[str] = set()
            out = masked(
                t.view,
                {
                    "ref.weapon_id": w.public_id,
                    "weapon.category": w.category,
                    "weapon.status": w.status,
                },
                caller.principal_id,
                shown,
            )
            body = {
                "id": out.get("ref.weapon_id"),
                "category": out.get("weapon.category"),
                "status": out.get("weapon.status"),
                "holder_permit_valid": holder_valid if "permit.status" in t.view.visible else None,
            }
            if body["holder_permit_valid"] is not None:
                shown.add("permit.status")
            return Disclosure(
                body=body, subjects=subjects, records=1, fields=shown, detail={"matched": True}
            )

        return self.pipeline.serve(
            caller,
            ep.WEAPON,
            work,
            given=given,
            expected_records=1,
            discloses=WEAPON_FIELDS,
            sort_key=self._number_key(serial),
        )

    def search_persons(self, caller: Caller, query: dict[str, object]) -> Answer:
        given = {f"identity.{k}": v for k, v in query.items()}

        def work(t: Task) -> Disclosure:
            family_name = str(query.get("family_name", ""))
            dob = parse_birth_date(str(query.get("birth_date", "")))
            today = self._today()
            with self.registry.session() as s:
                persons = self.registry.persons_by_name_dob(
                    s, self.vault.blind_indexes("name_dob", family_name, dob), t.page_size
                )
                visible = [
                    p for p in persons if self._in_scope(s, caller, t.purpose, p, full_record=False)
                ]
                permits = self.registry.permits_of(s, [p.pk for p in visible])
            by_person: dict[int, list[str]] = {}
            for pm in permits:
                by_person.setdefault(pm.person_pk, []).append(effective_status(pm, today))
            shown: set[str] = set()
            items = []
            for p in visible:
                out = masked(
                    t.view,
                    {
                        "ref.person_id": p.public_id,
                        "permit.status": best_status(by_person.get(p.pk, [])),
                    },
                    caller.principal_id,
                    shown,
                )
                items.append(
                    {"id": out.get("ref.person_id"), "permit_status": out.get("permit.status")}
                )
            # No totals: a page, never a count of what else matched.
            return Disclosure(
                body={"items": items},
                subjects=[p.public_id for p in visible],
                records=len(items),
                fields=shown,
                detail={"matched": bool(items)},
            )

        name = query.get("family_name")
        return self.pipeline.serve(
            caller,
            ep.SEARCH,
            work,
            given=given,
            discloses=SEARCH_FIELDS,
            sort_key=name_key(name) if isinstance(name, str) else None,
        )

    def _number_key(self, value: str) -> float | None:
        try:
            return number_key(value, self.vault.blind_index)
        except (BadRequest, ValueError, TypeError):
            return None  # nothing to order (an empty value): the request itself says why


def shaped(
    flat: dict[str, object], id_field: str, category: str | None = None
) -> dict[str, object]:
    """Nest a masked flat record: its `ref.<id_field>` becomes `id`; with `category`, only
    that category's fields are kept at the top level (a permit, a weapon)."""
    nested = nest(flat)
    refs = nested.pop("ref", {})
    body: dict[str, object] = {"id": refs.pop(id_field, None)}
    if category is not None:
        body.update(nested.get(category, {}))
    else:
        body.update(nested)
    body.update({k: v for k, v in refs.items() if k != id_field})
    return body


def best_status(statuses: list[str]) -> str:
    for s in ("valid", "expired", "suspended", "revoked"):
        if s in statuses:
            return s
    return "none"


def encode_cursor(at: float, sale_id: str) -> str:
    raw = json.dumps([at, sale_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[float, str] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, sale_id = json.loads(raw)
        if not is_public_id(sale_id):
            raise ValueError("not a sale id")
        return float(at), sale_id
    except (ValueError, TypeError) as exc:
        raise BadRequest("invalid cursor", reason="invalid_cursor") from exc
