"""Cases: the task a full-record read is bound to (need to know).

A unit's agents (and the case-management system feeding the registry, or the local operator
on the CLI) open cases of the kinds the policy lets their role open, link subjects to them
with a reason, and close them. A full-record read under case work, an investigation or
break-glass is then allowed only for a subject linked to the open case the token names,
a case of the caller's unit (`gate/scopes.py`, `open_case`). Links past the policy's
`links_before_approval` for one case, and a police link outside the unit's département,
wait for a second agent of the unit. Every step is journaled; refusals say only "no".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strongroom import endpoints as ep
from strongroom.context import Caller
from strongroom.errors import BadRequest, Conflict, Forbidden, NotFound
from strongroom.gate.pipeline import Answer, Disclosure, Pipeline, Task
from strongroom.ids import is_public_id, new_public_id
from strongroom.policy.model import CasesSpec
from strongroom.registry.models import Case, CaseSubject
from strongroom.registry.repository import PersonRow, Registry

NO_CASE = "no such case or subject, or not one you may use"
# The four-eyes states a queue of links is asked for by.
LINK_STATUSES = ("pending", "approved", "rejected")
DAY = 86_400


def case_dict(c: Case, links: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": c.public_id,
        "kind": c.kind,
        "unit": c.unit,
        "reference": c.reference,
        "status": c.status,
        "opened_by": c.opened_by,
        "opened_at": c.opened_at,
        "expires_at": c.expires_at,
        "closed_at": c.closed_at,
    }
    if links is not None:
        out["links"] = links
    return out


@dataclass(frozen=True)
class Linked:
    """A link made: the answer's body, and what the detectors learn of the case's shape
    (its kind, the subjects it holds with this one, pending included, and whether this
    subject relates to the case: `Registry.related_to_case`)."""

    body: dict[str, Any]
    kind: str
    links: int
    related: bool


class CaseTasks:
    def __init__(self, *, pipeline: Pipeline, registry: Registry, spec: CasesSpec) -> None:
        self.pipeline = pipeline
        self.registry = registry
        self.spec = spec

    # --- HTTP: a unit's agents ---------------------------------------------------------------
    def open(self, caller: Caller, *, kind: str, reference: str) -> Answer:
        def work(t: Task) -> Disclosure:
            case = self._open(caller.principal_id, caller.role, caller.unit, kind, reference)
            t.detail["case"] = case["id"]
            return Disclosure(body=case, detail={"case": case["id"], "kind": kind})

        return self.pipeline.serve(caller, ep.CASE_OPEN, work, expected_records=0)

    def of_unit(self, caller: Caller, status: str | None = "open") -> Answer:
        def fn(t: Task) -> dict[str, Any]:
            with self.registry.session() as s:
                rows = self.registry.cases_of_unit(s, caller.unit, status=status, limit=t.page_size)
                return {"items": [case_dict(c) for c in rows]}

        return self.pipeline.administer(caller, ep.CASE_LIST, fn)

    def link(self, caller: Caller, case_id: str, subject_id: str, reason: str) -> Answer:
        def work(t: Task) -> Disclosure:
            t.detail.update(case=case_id)
            link = self._link(
                caller.principal_id,
                caller.role,
                caller.unit,
                caller.departement,
                case_id,
                subject_id,
                reason,
            )
            # The subject is touched (budgets count it, the honey detector sees it), but
            # nothing of it is disclosed. The case's shape goes to the detectors (linking,
            # case growth): its kind, how many subjects it holds now, and whether this one
            # relates to it.
            return Disclosure(
                body=link.body,
                subjects=[subject_id],
                detail={
                    "case": case_id,
                    "linked": subject_id,
                    "link_status": link.body["status"],
                    "kind": link.kind,
                    "links": link.links,
                    "related": link.related,
                },
            )

        return self.pipeline.serve(caller, ep.CASE_LINK, work, expected_records=0)

    def approve_link(self, caller: Caller, case_id: str, subject_id: str) -> Answer:
        def work(t: Task) -> Disclosure:
            t.detail.update(case=case_id)
            linker = self._decide(caller, case_id, subject_id, "active")
            return Disclosure(
                body={"case": case_id, "subject": subject_id, "status": "active"},
                # Whose link it was: the collusion detector follows approvals to linkers.
                detail={"case": case_id, "approved": subject_id, "for": linker},
            )

        return self.pipeline.serve(caller, ep.CASE_APPROVE_LINK, work, expected_records=0)

    def reject_link(self, caller: Caller, case_id: str, subject_id: str, note: str) -> Answer:
        """A second agent refuses a link that waits: it grants nothing, and stays on record
        (the same subject is not linked to the case again); the note is journaled."""
        note = note.strip()
        if not 5 <= len(note) <= 200:
            raise BadRequest(
                "rejecting a link needs a note (5-200 characters)", reason="invalid_input"
            )

        def work(t: Task) -> Disclosure:
            t.detail.update(case=case_id)
            linker = self._decide(caller, case_id, subject_id, "rejected")
            return Disclosure(
                body={"case": case_id, "subject": subject_id, "status": "rejected"},
                detail={"case": case_id, "rejected": subject_id, "for": linker, "note": note},
            )

        return self.pipeline.serve(caller, ep.CASE_REJECT_LINK, work, expected_records=0)

    def pending_links(self, caller: Caller, status: str = "pending") -> Answer:
        """The caller's unit's links by four-eyes status, each saying whether the caller
        made it (a second agent decides: not the linker)."""

        def fn(t: Task) -> dict[str, Any]:
            items = self._links(caller.unit, status, t.page_size)
            return {"items": [{**i, "yours": i["linked_by"] == caller.principal_id} for i in items]}

        return self.pipeline.administer(caller, ep.CASE_PENDING_LINKS, fn)

    def link_oversight(self, caller: Caller, status: str = "pending") -> Answer:
        """Every unit's links by four-eyes status: what auditors and administrators watch;
        the decision is the unit's agents'."""
        return self.pipeline.administer(
            caller,
            ep.CASE_LINK_OVERSIGHT,
            lambda t: {"items": self._links(None, status, t.page_size)},
        )

    def close(self, caller: Caller, case_id: str) -> Answer:
        def work(t: Task) -> Disclosure:
            t.detail.update(case=case_id)
            return Disclosure(
                body=self._close(caller.principal_id, caller.unit, case_id),
                detail={"case": case_id},
            )

        return self.pipeline.serve(caller, ep.CASE_CLOSE, work, expected_records=0)

    # --- HTTP: an owner, on their own record -------------------------------------------------
    def file_by_owner(self, caller: Caller, *, kind: str) -> Answer:
        """An owner's own request (a renewal) opens its case at the prefecture of the
        owner's département, the owner linked: no agent has to link them first."""

        def work(t: Task) -> Disclosure:
            spec = self.spec.kinds.get(kind)
            if spec is None or not spec.filed_by_owner:
                known = sorted(k for k, v in self.spec.kinds.items() if v.filed_by_owner)
                raise BadRequest(
                    f"kind must be one of: {', '.join(known) or 'none'}",
                    reason="invalid_case_kind",
                )
            with self.registry.session() as s:
                person = self.registry.person_by_public_id(s, caller.principal_id)
            if person is None:
                raise NotFound(NO_CASE, reason="not_found")
            role = spec.roles[0]
            unit = f"{role}:{person.departement}"
            case = self._open(caller.principal_id, role, unit, kind, "filed by the owner")
            self._link(
                caller.principal_id,
                role,
                unit,
                person.departement,
                case["id"],
                caller.principal_id,
                "the owner's own request",
                four_eyes=False,
            )
            t.detail["case"] = case["id"]
            return Disclosure(
                body={"case": case["id"], "kind": kind, "unit": unit, "status": "open"},
                detail={"case": case["id"], "kind": kind, "own_records": True},
            )

        return self.pipeline.serve(caller, ep.ME_REQUEST, work, expected_records=0)

    # --- the local operator (CLI), for a unit it names ----------------------------------------
    def open_as_operator(
        self, operator: Caller, *, unit: str, kind: str, reference: str
    ) -> dict[str, Any]:
        role = unit.partition(":")[0]
        case = self._open(operator.principal_id, role, unit, kind, reference)
        self.pipeline.record_admin(
            operator,
            "case open",
            reason="case_opened",
            detail={"case": case["id"], "unit": unit, "kind": kind},
        )
        return case

    def link_as_operator(
        self, operator: Caller, case_id: str, subject_id: str, reason: str
    ) -> dict[str, Any]:
        unit = self._unit_of(case_id)
        role, _, departement = unit.partition(":")
        # The operator (or the case-management system it stands for) is not held to the
        # agents' four eyes: its links are administrative actions, journaled as such.
        link = self._link(
            operator.principal_id,
            role,
            unit,
            departement or None,
            case_id,
            subject_id,
            reason,
            four_eyes=False,
        )
        self.pipeline.record_admin(
            operator,
            "case link",
            reason="case_linked",
            detail={"case": case_id, "linked": subject_id, "link_status": link.body["status"]},
        )
        return link.body

    def close_as_operator(self, operator: Caller, case_id: str) -> dict[str, Any]:
        closed = self._close(operator.principal_id, self._unit_of(case_id), case_id)
        self.pipeline.record_admin(
            operator, "case close", reason="case_closed", detail={"case": case_id}
        )
        return closed

    def list_all(self, unit: str, status: str | None = None) -> list[dict[str, Any]]:
        with self.registry.session() as s:
            return [
                case_dict(c)
                for c in self.registry.cases_of_unit(s, unit, status=status, limit=1000)
            ]

    # --- the rules, whoever acts ---------------------------------------------------------------
    def _decide(self, caller: Caller, case_id: str, subject_id: str, status: str) -> str:
        """Decide a pending link of the caller's unit (four eyes: not the linker's own);
        return who linked it."""
        now = self.pipeline.clock.now()
        with self.registry.session() as s, s.begin():
            case = self._usable(s, case_id, caller.unit)
            person = self._person(s, subject_id)
            link = self.registry.case_link(s, case.id, person.pk)
            if link is None or link.status != "pending":
                raise NotFound(NO_CASE, reason="not_found")
            if link.linked_by == caller.principal_id:
                raise Forbidden("a second agent approves or rejects this link", reason="four_eyes")
            link.status, link.decided_by, link.decided_at = (status, caller.principal_id, now)
            return link.linked_by

    def _links(self, unit: str | None, status: str, limit: int) -> list[dict[str, Any]]:
        if status not in LINK_STATUSES:
            raise BadRequest(f"status is {', '.join(LINK_STATUSES)}", reason="invalid_input")
        now = self.pipeline.clock.now()
        with self.registry.session() as s:
            rows = self.registry.case_links_by_status(s, unit, status, now, limit=limit)
            return [
                {
                    "case": c.public_id,
                    "kind": c.kind,
                    "unit": c.unit,
                    "reference": c.reference,
                    "subject": subject,
                    "reason": link.reason,
                    "linked_by": link.linked_by,
                    "linked_at": link.linked_at,
                    "status": status,
                    "decided_by": link.decided_by,
                    "decided_at": link.decided_at,
                }
                for c, link, subject in rows
            ]

    def _open(self, by: str, role: str, unit: str, kind: str, reference: str) -> dict[str, Any]:
        spec = self.spec.kinds.get(kind)
        if spec is None or role not in spec.roles:
            known = sorted(k for k, v in self.spec.kinds.items() if role in v.roles)
            raise BadRequest(
                f"kind must be one of: {', '.join(known) or 'none for this role'}",
                reason="invalid_case_kind",
            )
        reference = reference.strip()
        if not 3 <= len(reference) <= 120:
            raise BadRequest(
                "a case needs its legal or procedure reference (3-120 characters)",
                reason="invalid_input",
            )
        now = self.pipeline.clock.now()
        case = Case(
            public_id=new_public_id(),
            kind=kind,
            unit=unit,
            reference=reference,
            covert=spec.covert,
            opened_by=by,
            opened_at=now,
            expires_at=now + self.spec.lifetime_days * DAY,
            status="open",
        )
        with self.registry.session() as s, s.begin():
            self.registry.add_case(s, case)
            return case_dict(case, links=0)

    def _link(
        self,
        by: str,
        role: str,
        unit: str,
        departement: str | None,
        case_id: str,
        subject_id: str,
        reason: str,
        *,
        four_eyes: bool = True,
    ) -> Linked:
        reason = reason.strip()
        if not 5 <= len(reason) <= 200:
            raise BadRequest("a link needs a reason (5-200 characters)", reason="invalid_input")
        now = self.pipeline.clock.now()
        with self.registry.session() as s, s.begin():
            case = self._usable(s, case_id, unit)
            person = self._person(s, subject_id)
            if self.registry.case_link(s, case.id, person.pk) is not None:
                raise Conflict(
                    "this subject is linked to this case already", reason="already_linked"
                )
            held = self.registry.case_link_count(s, case.id)
            related = self.registry.related_to_case(s, case, person.pk, now)
            waits = four_eyes and held >= self.spec.links_before_approval
            if (
                four_eyes
                and role in self.spec.approval_outside_jurisdiction
                and departement is not None
                and person.departement != departement
            ):
                waits = True
            status = "pending" if waits else "active"
            self.registry.add_case_link(
                s,
                CaseSubject(
                    case_id=case.id,
                    person_id=person.pk,
                    reason=reason,
                    linked_by=by,
                    linked_at=now,
                    status=status,
                ),
            )
        return Linked(
            {"case": case_id, "subject": subject_id, "status": status},
            kind=case.kind,
            links=held + 1,
            related=related,
        )

    def _close(self, by: str, unit: str, case_id: str) -> dict[str, Any]:
        now = self.pipeline.clock.now()
        with self.registry.session() as s, s.begin():
            case = self._usable(s, case_id, unit)
            case.status, case.closed_by, case.closed_at = "closed", by, now
            return case_dict(case)

    def _unit_of(self, case_id: str) -> str:
        """The unit a case belongs to, whatever its state (the operator acts for it)."""
        with self.registry.session() as s:
            case = self.registry.case(s, case_id) if is_public_id(case_id) else None
            if case is None:
                raise NotFound(NO_CASE, reason="not_found")
            return case.unit

    def _usable(self, s: Any, case_id: str, unit: str) -> Case:
        """An open, unexpired case of this unit, or the one answer for every other case."""
        case = self.registry.case(s, case_id) if is_public_id(case_id) else None
        if case is None or not case.grants(unit, self.pipeline.clock.now()):
            raise NotFound(NO_CASE, reason="not_found")
        return case

    def _person(self, s: Any, subject_id: str) -> PersonRow:
        person = (
            self.registry.person_by_public_id(s, subject_id) if is_public_id(subject_id) else None
        )
        if person is None:
            raise NotFound(NO_CASE, reason="not_found")
        return person
