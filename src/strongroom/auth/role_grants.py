"""What a role may be granted in a token: scopes, default purpose, lifetime, MFA.

The policy file (`policy/`) is the only source: a home's `policy.yaml`, else the shipped
default policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from strongroom.errors import BadRequest

if TYPE_CHECKING:
    from strongroom.policy.model import Policy


@dataclass(frozen=True)
class RoleGrant:
    role: str
    scopes: frozenset[str]
    default_purpose: str | None
    token_lifetime_seconds: int = 300
    mfa_required: bool = False
    step_up_max_age_seconds: int = 900
    purposes: frozenset[str] = frozenset()
    # A professional account (a principal row, a second factor), not a self-service owner.
    staff: bool = True
    passkey_required: bool = False


def grant_from_policy(policy: Policy, role: str) -> RoleGrant:
    """The `RoleGrant` of a role of the policy, or a BadRequest naming the role."""
    spec = policy.roles.get(role)
    if spec is None:
        raise BadRequest(f"unknown role {role!r}")
    return RoleGrant(
        role=role,
        scopes=frozenset(spec.scopes),
        default_purpose=spec.default_purpose,
        token_lifetime_seconds=spec.token_lifetime_seconds,
        mfa_required=spec.mfa_required,
        step_up_max_age_seconds=spec.step_up_max_age_seconds,
        purposes=frozenset(spec.purposes),
        staff=spec.staff,
        passkey_required=spec.passkey_required,
    )


def default_role_names() -> tuple[str, ...]:
    """The roles of the shipped default policy."""
    return tuple(_policy_at(None, 0).roles)


def load_role_grant(role: str, policy_path: Path | None = None) -> RoleGrant:
    """The role's grant from the home's policy file, or the shipped default policy."""
    if policy_path is not None and policy_path.is_file():
        return grant_from_policy(_policy_at(str(policy_path), policy_path.stat().st_mtime_ns), role)
    return grant_from_policy(_policy_at(None, 0), role)


@lru_cache(maxsize=8)
def _policy_at(path: str | None, mtime_ns: int) -> Policy:
    # Parsed once per file version: the token endpoint asks on every request.
    from strongroom.policy import load_default_policy, load_policy

    return load_policy(Path(path)) if path is not None else load_default_policy()
