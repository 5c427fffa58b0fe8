"""What a role may be granted in a token: scopes, default purpose, lifetime, MFA.

The policy file (`policy/`) is the only source: a home's `policy.yaml`, else the shipped
default policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from strongroom.errors import BadRequest, StrongroomError


@dataclass(frozen=True)
class RoleGrant:
    role: str
    scopes: frozenset[str]
    default_purpose: str | None
    token_lifetime_seconds: int = 300
    mfa_required: bool = False
    step_up_max_age_seconds: int = 900
    purposes: frozenset[str] = frozenset()


def grant_from_policy(policy: Any, role: str) -> RoleGrant:
    """A `RoleGrant` from a compiled policy's `.role(name)` (or a raw policy's roles)."""
    try:
        spec = policy.role(role) if hasattr(policy, "role") else policy.roles[role]
    except (KeyError, LookupError, StrongroomError) as exc:
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
    """The role's grant from the home's policy file, or the shipped default policy."""
    if policy_path is not None and policy_path.is_file():
        return grant_from_policy(_policy_at(str(policy_path), policy_path.stat().st_mtime_ns), role)
    return grant_from_policy(_policy_at(None, 0), role)


@lru_cache(maxsize=8)
def _policy_at(path: str | None, mtime_ns: int) -> Any:
    # Parsed once per file version: the token endpoint asks on every request.
    from strongroom.policy import load_default_policy, load_policy

    return load_policy(Path(path)) if path is not None else load_default_policy()
