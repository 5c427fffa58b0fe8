"""Rule resolution, shared by the checker, the compiler and the matrix: field wildcards
(`address.*`), precedence (an exact field beats its category wildcard), deny by default.
Pure functions over a validated `Policy`."""

from __future__ import annotations

from strongroom.policy.model import Action, Policy

DENY: Action = "deny"


def expand(policy: Policy, pattern: str) -> list[str]:
    """The field names a pattern covers; [] for an unknown field or category."""
    cat, _, leaf = pattern.partition(".")
    names = policy.fields.get(cat)
    if names is None:
        return []
    if leaf == "*":
        return [f"{cat}.{name}" for name in names]
    return [pattern] if leaf in names else []


def needs(policy: Policy, purpose: str) -> frozenset[str]:
    spec = policy.purposes.get(purpose)
    if spec is None:
        return frozenset()
    return frozenset(f for pattern in spec.needs for f in expand(policy, pattern))


def actions(policy: Policy, role: str, purpose: str) -> dict[str, Action]:
    """Every field's effective action for (role, purpose). A `generalize` on a field whose
    generalizer is `drop` resolves to deny: nothing coarser can be shown."""
    rules = policy.rules.get(role, {}).get(purpose, {})
    out: dict[str, Action] = dict.fromkeys(policy.field_names(), DENY)
    # Wildcards first, exact names second, so the exact rule wins.
    for exact in (False, True):
        for pattern, action in rules.items():
            if pattern.endswith(".*") == exact:
                continue
            for name in expand(policy, pattern):
                out[name] = action
    for name, action in out.items():
        if action == "generalize" and policy.field_spec(name).generalize == "drop":
            out[name] = DENY
    return out


def pairs(policy: Policy) -> list[tuple[str, str]]:
    """Every (role, purpose) a role may declare, in file order."""
    return [
        (role, p)
        for role, spec in policy.roles.items()
        for p in spec.purposes
        if p in policy.purposes
    ]


def callers(policy: Policy, endpoint_id: str) -> list[tuple[str, str]]:
    """The (role, purpose) pairs that may call an endpoint."""
    spec = policy.endpoints[endpoint_id]
    out = []
    for role in spec.roles:
        rspec = policy.roles.get(role)
        if rspec is None:
            continue
        for purpose in rspec.purposes:
            if purpose in policy.purposes and (spec.purposes is None or purpose in spec.purposes):
                out.append((role, purpose))
    return out
