"""Administrative and audit tasks through the same pipeline: purpose and scope from the
policy, budgets, journal. They return no PII values: the journal holds pseudonymous IDs and
field names, budgets and containments hold counters and principal IDs."""

from __future__ import annotations

from typing import Any

from strongroom.context import Caller
from strongroom.errors import NotFound
from strongroom.exports.gate_mixin import ExportGate
from strongroom.gate.core import Answer, Task
from strongroom.gate.reviews import BreakGlass
from strongroom.gate.tasks import Tasks
from strongroom.journal.investigate import Investigator
from strongroom.journal.log import b64


class Gate(ExportGate, BreakGlass, Tasks):
    # --- the journal (auditor) -------------------------------------------------------------
    def journal_checkpoint(self, caller: Caller) -> Answer:
        def fn(t: Task) -> dict[str, Any]:
            note = self.journal.latest_checkpoint() or self.journal.make_checkpoint()
            return {"checkpoint": note, "size": self.journal.size()}

        return self.administer(caller, "GET /v1/journal/checkpoint", fn)

    def inclusion_proof(self, caller: Caller, index: int, size: int) -> Answer:
        def fn(t: Task) -> dict[str, Any]:
            proof = self.journal.inclusion_proof(index, size)
            return {"index": index, "size": size, "proof": [b64(h) for h in proof]}

        return self.administer(caller, "GET /v1/journal/proof/inclusion", fn)

    def consistency_proof(self, caller: Caller, first: int, second: int) -> Answer:
        def fn(t: Task) -> dict[str, Any]:
            proof = self.journal.consistency_proof(first, second)
            return {"first": first, "second": second, "proof": [b64(h) for h in proof]}

        return self.administer(caller, "GET /v1/journal/proof/consistency", fn)

    # --- investigations (auditor) -----------------------------------------------------------
    def investigate_principal(
        self, caller: Caller, principal: str, since: float | None, until: float | None
    ) -> Answer:
        return self.administer(
            caller,
            "GET /v1/investigations/principals/{id}",
            lambda t: Investigator(self.journal).principal_report(principal, since, until),
            detail={"investigated": principal},
        )

    def investigate_subject(self, caller: Caller, subject: str) -> Answer:
        return self.administer(
            caller,
            "GET /v1/investigations/subjects/{id}",
            lambda t: Investigator(self.journal).subject_report(subject),
            detail={"investigated_subject": subject},
        )

    def breach_report(
        self, caller: Caller, principals: list[str], since: float | None, until: float | None
    ) -> Answer:
        return self.administer(
            caller,
            "POST /v1/investigations/breach",
            lambda t: Investigator(self.journal).breach_report(principals, since, until),
            detail={"investigated": principals},
        )

    # --- budgets and containment (admin) ----------------------------------------------------
    def budget_state(self, caller: Caller, principal: str) -> Answer:
        return self.administer(
            caller,
            "GET /v1/budgets/{principal}",
            lambda t: {"principal": principal, "budgets": self.budgets.state(principal)},
        )

    def containments(self, caller: Caller) -> Answer:
        return self.administer(
            caller,
            "GET /v1/containments",
            lambda t: {"items": [c.to_dict() for c in self.detector.list_containments()]},
        )

    def lift_containment(self, caller: Caller, containment_id: str, why: str) -> Answer:
        def fn(t: Task) -> dict[str, Any]:
            lifted = self.detector.lift(containment_id, by=caller.principal_id, why=why)
            return {"lifted": lifted.to_dict() if hasattr(lifted, "to_dict") else lifted}

        return self.administer(
            caller,
            "POST /v1/containments/{id}/lift",
            fn,
            detail={"containment": containment_id, "why": why},
        )

    def revoke_principal(self, caller: Caller, principal_id: str, why: str) -> Answer:
        """Suspend a staff principal and revoke every token it holds: effective on its next
        request to any worker (the principals table and the revocation store are shared)."""

        def fn(t: Task) -> dict[str, Any]:
            with self.registry.session() as s, s.begin():
                if not self.registry.set_principal_status(s, principal_id, "suspended"):
                    raise NotFound("no such principal", reason="not_found")
            if self.revoke_tokens is not None:
                self.revoke_tokens(principal_id)
            return {"principal": principal_id, "status": "suspended"}

        return self.administer(
            caller,
            "POST /v1/principals/{id}/revoke",
            fn,
            detail={"principal": principal_id, "why": why},
        )
