"""Facts the audit derives from a shape-valid policy: which endpoints hand out registry
records (and to whom), which budgets bind an individual extractor, what a caller sees."""

from __future__ import annotations

from strongroom.policy import resolve
from strongroom.policy.model import BudgetSpec, Policy
from strongroom.posture.openapi_doc import task_of

# Scopes of reach that cannot be turned into a bulk extraction: one's own record, nothing.
NO_REACH = frozenset({"self", "none"})
# Budget keys that follow one extractor (an account, its session or client, its shop);
# role, endpoint and global keys are ceilings for everyone and stop nobody in particular.
PERSONAL_KEYS = frozenset({"principal", "session", "client", "organisation"})
RECORD_UNITS = frozenset({"records", "subjects"})
# Export routes move rows only through the approved, capped, watermarked export workflow
# (the `exports:` section, audited by SR014), never per request: the per-request rules
# (record budgets, page caps) do not apply to them.
EXPORT_TASK = "exports"


def callers(policy: Policy, eid: str) -> list[tuple[str, str]]:
    return [c for c in resolve.callers(policy, eid) if c[0] in policy.roles]


def shown(policy: Policy, role: str, purpose: str) -> dict[str, str]:
    """The fields a (role, purpose) sees in any form, with the action."""
    return {f: a for f, a in resolve.actions(policy, role, purpose).items() if a != "deny"}


def record_callers(policy: Policy, eid: str) -> list[tuple[str, str]]:
    """Callers of `eid` that see registry fields about records beyond their own."""
    if task_of(eid.partition(" ")[2]) == EXPORT_TASK:
        return []
    return [
        (r, p)
        for r, p in callers(policy, eid)
        if policy.roles[r].object_scope not in NO_REACH and shown(policy, r, p)
    ]


def record_roles(policy: Policy, eid: str) -> list[str]:
    return sorted({r for r, _ in record_callers(policy, eid)})


def budget_covers(budget: BudgetSpec, role: str, eid: str) -> bool:
    return (budget.roles is None or role in budget.roles) and (
        budget.endpoints is None or eid in budget.endpoints
    )


def record_budgets(policy: Policy, role: str, eid: str) -> list[BudgetSpec]:
    """Enforced (not shadow) per-extractor budgets on records or subjects covering a call."""
    return [
        b
        for b in policy.budgets
        if b.unit in RECORD_UNITS
        and not b.shadow
        and b.key in PERSONAL_KEYS
        and budget_covers(b, role, eid)
    ]
