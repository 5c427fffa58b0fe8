"""The compiled policy: what the gate calls on every request. Compiled once at start into
per-(role, purpose) tuples of (field, masker) so masking a record is one short loop.

Step-up: `check_purpose` raises `Unauthorized(reason="insufficient_user_authentication")`
(RFC 9470 §3: the client re-authenticates with `max_age`) when the purpose demands step-up
and the caller's `acr` ranks below the purpose's `step_up_acr` (password < TOTP < passkey,
`auth/acr.py`) or its `auth_time` is missing or older than the role's
`step_up_max_age_seconds`. The challenge names the level (`acr_values`) and `max_age`, so a
TOTP session cannot pass a step-up that asks for a passkey.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from strongroom.auth import acr
from strongroom.auth.rfc9470_step_up import step_up_required
from strongroom.clock import SYSTEM_CLOCK, Clock
from strongroom.context import Caller
from strongroom.errors import Forbidden
from strongroom.policy import resolve
from strongroom.policy.masking import Masker, masker
from strongroom.policy.model import Action, EndpointSpec, Policy, PurposeSpec, RoleSpec
from strongroom.policy.specificity import SearchRule

_MISSING = object()


class FieldView:
    """What one (role, purpose) sees. `revealed`: fields whose plaintext the masking needs
    (the gate decrypts only these); `visible`: fields present in output; `plain`: shown
    verbatim; `actions`: field -> action for the journal; `weight`: disclosure weight of
    one record's visible fields."""

    __slots__ = ("role", "purpose", "actions", "revealed", "visible", "plain", "weight", "_steps")

    def __init__(
        self,
        role: str,
        purpose: str,
        steps: tuple[tuple[str, Masker | None], ...],
        actions: Mapping[str, Action],
        weight: int,
    ) -> None:
        self.role = role
        self.purpose = purpose
        self._steps = steps
        self.actions = dict(actions)
        self.visible = frozenset(name for name, _ in steps)
        self.revealed = self.visible  # every masker derives its output from the plaintext
        self.plain = frozenset(name for name, fn in steps if fn is None)
        self.weight = weight

    def apply(self, record: Mapping[str, object], requester_id: str) -> dict[str, object]:
        """Mask one record; fields not visible, and keys the policy does not know, are
        removed (deny by default)."""
        out: dict[str, object] = {}
        get = record.get
        for name, fn in self._steps:
            value = get(name, _MISSING)
            if value is not _MISSING:
                out[name] = value if fn is None else fn(value, requester_id)
        return out

    def __repr__(self) -> str:
        return f"FieldView({self.role}/{self.purpose}, visible={sorted(self.visible)})"


class CompiledPolicy:
    def __init__(self, policy: Policy, pseudonym_key: bytes, clock: Clock = SYSTEM_CLOCK):
        if len(pseudonym_key) < 16:
            raise ValueError("the pseudonym key must be at least 16 bytes")
        self.policy = policy
        self.clock = clock
        self._weights = {name: policy.field_spec(name).weight for name in policy.field_names()}
        self._links = [(frozenset(link.categories), link.extra) for link in policy.links]
        self._views: dict[tuple[str, str], FieldView] = {}
        for role, purpose in resolve.pairs(policy):
            acts = resolve.actions(policy, role, purpose)
            steps = tuple(
                (
                    name,
                    masker(
                        action,
                        field=name,
                        generalizer=policy.field_spec(name).generalize,
                        key=pseudonym_key,
                        partial_length=policy.masking.partial_length,
                        pseudonym_length=policy.masking.pseudonym_length,
                    ),
                )
                for name, action in acts.items()
                if action != "deny"
            )
            weight = self.weight(name for name, _ in steps)
            self._views[(role, purpose)] = FieldView(role, purpose, steps, acts, weight)
        self._search = {
            eid: SearchRule(eid, spec.min_specificity, spec.filterable)
            for eid, spec in policy.endpoints.items()
        }

    def role(self, name: str) -> RoleSpec:
        spec = self.policy.roles.get(name)
        if spec is None:
            raise Forbidden(f"role {name!r} is not in the policy", reason="role_unknown")
        return spec

    def self_service(self, role: str) -> bool:
        """A role the policy declares non-staff (owners): no principal row to check."""
        spec = self.policy.roles.get(role)
        return spec is not None and not spec.staff

    def staff_roles(self) -> tuple[str, ...]:
        return tuple(name for name, spec in self.policy.roles.items() if spec.staff)

    def purpose(self, name: str) -> PurposeSpec:
        spec = self.policy.purposes.get(name)
        if spec is None:
            raise Forbidden(f"purpose {name!r} is not in the policy", reason="purpose_unknown")
        return spec

    def endpoint(self, endpoint_id: str) -> EndpointSpec:
        spec = self.policy.endpoints.get(endpoint_id)
        if spec is None:
            raise Forbidden(
                f"endpoint {endpoint_id!r} is not in the policy", reason="endpoint_unknown"
            )
        return spec

    def check_purpose(self, caller: Caller, endpoint_id: str) -> str:
        """The effective purpose of this call, or a typed refusal."""
        ep = self.endpoint(endpoint_id)
        role = self.role(caller.role)
        if caller.role not in ep.roles:
            raise Forbidden(
                f"role {caller.role!r} may not call {endpoint_id}", reason="role_not_allowed"
            )
        if ep.scope not in caller.scopes:
            raise Forbidden(f"{endpoint_id} needs scope {ep.scope!r}", reason="scope_missing")
        name = caller.purpose or role.default_purpose
        if not name:
            raise Forbidden("declare a purpose for this access", reason="purpose_missing")
        if name not in role.purposes or (ep.purposes is not None and name not in ep.purposes):
            raise Forbidden(
                f"purpose {name!r} is not allowed here for role {caller.role!r}",
                reason="purpose_not_allowed",
            )
        purpose = self.purpose(name)
        if purpose.justification.required and (
            len((caller.justification or "").strip()) < purpose.justification.min_length
        ):
            raise Forbidden(
                f"purpose {name!r} needs a justification of at least "
                f"{purpose.justification.min_length} characters",
                reason="justification_required",
            )
        if purpose.case_required and not (caller.case or "").strip():
            raise Forbidden(f"purpose {name!r} needs a case reference", reason="case_required")
        if purpose.step_up or purpose.break_glass is not None or purpose.step_up_acr:
            max_age = role.step_up_max_age_seconds
            required = acr.LEVELS[purpose.step_up_acr or "mfa"]
            stale = caller.auth_time is None or self.clock.now() - caller.auth_time > max_age
            if stale or not acr.satisfies(caller.acr, required):
                raise step_up_required(
                    f"purpose {name!r} needs a recent step-up authentication", required, max_age
                )
        return name

    def view(self, role: str, purpose: str) -> FieldView:
        found = self._views.get((role, purpose))
        if found is None:
            raise Forbidden(
                f"purpose {purpose!r} is not allowed for role {role!r}",
                reason="purpose_not_allowed",
            )
        return found

    def check_search(self, endpoint_id: str, given: Mapping[str, object]) -> None:
        self.endpoint(endpoint_id)
        self._search[endpoint_id].check(given)

    def page_size(self, endpoint_id: str) -> int:
        return self.endpoint(endpoint_id).page_size

    def weight(self, fields: Iterable[str]) -> int:
        """Disclosure weight: the fields' sensitivity weights plus the largest surcharge of
        a link (e.g. identity + address + weapon) whose categories are all present."""
        total = 0
        cats = set()
        for name in fields:
            w = self._weights.get(name)
            if w is None:
                raise ValueError(f"unknown field {name!r}")
            total += w
            cats.add(name.partition(".")[0])
        extra = max((x for link, x in self._links if link <= cats), default=0)
        return total + extra


def compile_policy(
    policy: Policy, pseudonym_key: bytes, *, clock: Clock = SYSTEM_CLOCK
) -> CompiledPolicy:
    return CompiledPolicy(policy, pseudonym_key, clock)
