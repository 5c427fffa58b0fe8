"""Break-glass: a purpose that widens access for a limited time. The policy requires a
justification and a recent step-up (checked by `check_purpose`); the gate opens a review
item for the data protection officer on first use, notifies, and refuses once the window
has passed. Reviews are kept, decided or not."""

from __future__ import annotations

from typing import Any

from strongroom.context import Caller
from strongroom.errors import BadRequest, Conflict, Forbidden, NotFound
from strongroom.gate.core import Answer, GateCore, Task
from strongroom.ids import new_public_id
from strongroom.registry.models import Review


def review_dict(r: Review) -> dict[str, Any]:
    return {
        "id": r.public_id,
        "principal": r.principal_id,
        "purpose": r.purpose,
        "case": r.case_ref,
        "justification": r.justification,
        "started_at": r.started_at,
        "expires_at": r.expires_at,
        "status": r.status,
        "decided_by": r.decided_by,
        "decided_at": r.decided_at,
        "note": r.decision_note,
    }


class BreakGlass(GateCore):
    """Break-glass windows and the reviews they open, mixed into the gate."""

    def _break_glass(self, t: Task) -> None:
        spec = self.policy.purpose(t.purpose)
        if spec.break_glass is None:
            return
        caller = t.caller
        grant_key = caller.session_id or caller.token_id or "no-session"
        now = self.clock.now()
        with self.registry.session() as s, s.begin():
            review = self.registry.open_review(s, caller.principal_id, grant_key)
            if review is None:
                review = Review(
                    public_id=new_public_id(),
                    principal_id=caller.principal_id,
                    purpose=t.purpose,
                    session_id=grant_key,
                    case_ref=caller.case,
                    justification=caller.justification or "",
                    started_at=now,
                    expires_at=now + spec.break_glass.duration_seconds,
                    status="pending",
                )
                self.registry.add_review(s, review)
                t.detail["break_glass_opened"] = review.public_id
            elif review.expires_at <= now:
                raise Forbidden(
                    "the break-glass window has closed; a new session and justification are needed",
                    reason="break_glass_expired",
                )
            t.detail["break_glass"] = review.public_id

    def reviews(self, caller: Caller, status: str | None = "pending") -> Answer:
        def fn(t: Task) -> dict[str, Any]:
            with self.registry.session() as s:
                rows = self.registry.reviews(s, status=status, limit=t.page_size)
                return {"items": [review_dict(r) for r in rows]}

        return self.administer(caller, "GET /v1/reviews", fn)

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
                review.decided_at = self.clock.now()
                review.decision_note = note
                return review_dict(review)

        return self.administer(
            caller,
            "POST /v1/reviews/{id}/decision",
            fn,
            detail={"review": review_id, "decision": decision},
        )
