"""Audit and investigations, for auditors and the data protection officer: the journal's
checkpoints and proofs, what a principal saw, who saw a person, the breach report, and
the break-glass reviews. None of it returns a PII value: the journal holds pseudonymous
IDs and field names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strongroom import endpoints as ep
from strongroom.context import Caller
from strongroom.errors import BadRequest, Conflict, Forbidden, NotFound
from strongroom.gate.break_glass import review_dict
from strongroom.gate.pipeline import Answer, Pipeline, Task
from strongroom.gate.ports import JournalPort
from strongroom.journal.investigate import Investigator
from strongroom.journal.log import b64
from strongroom.registry.repository import Registry


class AuditTasks:
    def __init__(
        self,
        *,
        pipeline: Pipeline,
        journal: JournalPort,
        investigator: Investigator,
        registry: Registry,
    ) -> None:
        self.pipeline = pipeline
        self.journal = journal
        self.investigator = investigator
        self.registry = registry

    # --- the journal -----------------------------------------------------------------------
    def journal_checkpoint(self, caller: Caller) -> Answer:
        def fn(t: Task) -> dict[str, Any]:
            note = self.journal.latest_checkpoint() or self.journal.make_checkpoint()
            return {"checkpoint": note, "size": self.journal.size()}

        return self.pipeline.administer(caller, ep.CHECKPOINT, fn)

    def inclusion_proof(self, caller: Caller, index: int, size: int) -> Answer:
        def fn(t: Task) -> dict[str, Any]:
            proof = self.journal.inclusion_proof(index, size)
            return {"index": index, "size": size, "proof": [b64(h) for h in proof]}

        return self.pipeline.administer(caller, ep.INCLUSION, fn)

    def consistency_proof(self, caller: Caller, first: int, second: int) -> Answer:
        def fn(t: Task) -> dict[str, Any]:
            proof = self.journal.consistency_proof(first, second)
            return {"first": first, "second": second, "proof": [b64(h) for h in proof]}

        return self.pipeline.administer(caller, ep.CONSISTENCY, fn)

    # --- investigations --------------------------------------------------------------------
    def investigate_principal(
        self, caller: Caller, principal: str, since: float | None, until: float | None
    ) -> Answer:
        return self.pipeline.administer(
            caller,
            ep.INVESTIGATE_PRINCIPAL,
            lambda t: self._flushed(self.investigator.principal_report, principal, since, until),
            detail={"investigated": principal},
        )

    def investigate_subject(self, caller: Caller, subject: str) -> Answer:
        return self.pipeline.administer(
            caller,
            ep.INVESTIGATE_SUBJECT,
            lambda t: self._flushed(self.investigator.subject_report, subject),
            detail={"investigated_subject": subject},
        )

    def breach_report(
        self, caller: Caller, principals: list[str], since: float | None, until: float | None
    ) -> Answer:
        return self.pipeline.administer(
            caller,
            ep.BREACH,
            lambda t: self._flushed(self.investigator.breach_report, principals, since, until),
            detail={"investigated": principals},
        )

    def _flushed(self, report: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
        # Refusals are committed without their caller waiting: an investigation waits for
        # every entry appended before it, so its counts are exact.
        self.journal.flush()
        return report(*args)

    # --- break-glass reviews (the data protection officer) ---------------------------------
    def reviews(self, caller: Caller, status: str | None = "pending") -> Answer:
        def fn(t: Task) -> dict[str, Any]:
            with self.registry.session() as s:
                rows = self.registry.reviews(s, status=status, limit=t.page_size)
                return {"items": [review_dict(r) for r in rows]}

        return self.pipeline.administer(caller, ep.REVIEWS, fn)

    def decide_review(self, caller: Caller, review_id: str, decision: str, note: str) -> Answer:
        if decision not in ("approved", "rejected"):
            raise BadRequest("decision must be 'approved' or 'rejected'", reason="invalid_input")

        def fn(t: Task) -> dict[str, Any]:
            with self.registry.session() as s, s.begin():
                review = self.registry.review(s, review_id)
                if review is None:
                    raise NotFound("no such review", reason="not_found")
                if review.status != "pending":
                    raise Conflict(
                        f"this review is already {review.status}", reason="already_decided"
                    )
                if review.principal_id == caller.principal_id:
                    raise Forbidden(
                        "nobody reviews their own break-glass access", reason="four_eyes"
                    )
                review.status = decision
                review.decided_by = caller.principal_id
                review.decided_at = self.pipeline.clock.now()
                review.decision_note = note
                return review_dict(review)

        return self.pipeline.administer(
            caller, ep.DECIDE_REVIEW, fn, detail={"review": review_id, "decision": decision}
        )
