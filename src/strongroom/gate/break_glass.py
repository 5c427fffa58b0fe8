"""Break-glass: a purpose that widens access for a limited time.

The policy requires a justification and a recent step-up (checked by `check_purpose`); on
first use the window opens a review item for the data protection officer, and once the
window has passed the pipeline refuses. Reviews are kept, decided or not; the auditor's use
cases (`gate.audit`) list and decide them.
"""

from __future__ import annotations

from typing import Any

from strongroom.clock import Clock
from strongroom.errors import Forbidden
from strongroom.gate.pipeline import Task
from strongroom.gate.ports import PolicyPort
from strongroom.ids import new_public_id
from strongroom.registry.models import Review
from strongroom.registry.repository import Registry


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


class BreakGlassWindows:
    """One window per session (or token), opened by its first break-glass request."""

    def __init__(self, *, registry: Registry, policy: PolicyPort, clock: Clock) -> None:
        self.registry = registry
        self.policy = policy
        self.clock = clock

    def enter(self, task: Task) -> None:
        spec = self.policy.purpose(task.purpose).break_glass
        if spec is None:
            return
        caller = task.caller
        grant_key = caller.session_id or caller.token_id or "no-session"
        now = self.clock.now()
        with self.registry.session() as s, s.begin():
            review = self.registry.open_review(s, caller.principal_id, grant_key)
            if review is None:
                review = Review(
                    public_id=new_public_id(),
                    principal_id=caller.principal_id,
                    purpose=task.purpose,
                    session_id=grant_key,
                    case_ref=caller.case,
                    justification=caller.justification or "",
                    started_at=now,
                    expires_at=now + spec.duration_seconds,
                    status="pending",
                )
                self.registry.add_review(s, review)
                task.detail["break_glass_opened"] = review.public_id
            elif review.expires_at <= now:
                raise Forbidden(
                    "the break-glass window has closed; a new session and justification are needed",
                    reason="break_glass_expired",
                )
            task.detail["break_glass"] = review.public_id
