"""What a role may be granted in a token: scopes, default purpose, lifetime, MFA.

The policy file (`policy/`) is the source of truth. Until a home's policy can be loaded, the
small `FALLBACK` table below stands in; it lives here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strongroom.errors import BadRequest


@dataclass(frozen=True)
class RoleGrant:
    role: str
    scopes: frozenset[str]
    default_purpose: str | None
    token_lifetime_seconds: int = 300
    mfa_required: bool = False
    step_up_max_age_seconds: int = 900
    purposes: frozenset[str] = frozenset()


FALLBACK: dict[str, RoleGrant] = {
    g.role: g
    for g in (
        RoleGrant("owner", frozenset({"registry:self"}), "self_service"),
        RoleGrant("dealer", frozenset({"registry:verify", "ledger:write"}), "sale_verification",
                  mfa_required=True),
        RoleGrant("police", frozenset({"registry:read"}), "investigation", mfa_required=True),
        RoleGrant("prefecture", frozenset({"registry:read", "registry:write"}), "case_work",
                  mfa_required=True),
        RoleGrant("auditor", frozenset({"journal:read"}), "audit", mfa_required=True),
        RoleGrant("admin", frozenset({"admin"}), "administration", mfa_required=True),
    )
}


def grant_from_policy(policy: Any, role: str) -> RoleGrant:
    """A `RoleGrant` from a compiled policy's `.role(name)` (or a raw policy's roles)."""
    try:
        spec = policy.role(role) if hasattr(policy, "role") else policy.roles[role]
    except (KeyError, LookupError) as exc:
        raise BadRequest(f"unknown role {role!r}") from exc
    if spec is None:
        raise BadRequest(f"unknown role {role!r}")
    return RoleGrant(
        role=role,
        scopes=frozenset(spec.scopes),
        default_purpose=getattr(spec, "default_purpose", None),
        token_lifetime_seconds=int(getattr(spec, "token_lifetime_seconds", 300)),
        mfa_required=bool(getattr(spec, "mfa_required", False)),
        step_up_max_age_seconds=int(getattr(spec, "step_up_max_age_seconds", 900)),
        purposes=frozenset(getattr(spec, "purposes", ()) or ()),
    )


def load_role_grant(role: str, policy_path: Path | None = None) -> RoleGrant:
    """The role's grant from the home's policy when the policy layer can load it, else the
    fallback table."""
    policy = _load_policy(policy_path)
    if policy is not None:
        return grant_from_policy(policy, role)
    grant = FALLBACK.get(role)
    if grant is None:
        raise BadRequest(f"unknown role {role!r}; one of: {', '.join(FALLBACK)}")
    return grant


def _load_policy(policy_path: Path | None) -> Any:
    try:
        from strongroom.policy import load_default_policy, load_policy  # type: ignore[attr-defined]
    except ImportError:
        return None
    if policy_path is not None and policy_path.is_file():
        return load_policy(policy_path)
    return load_default_policy()
