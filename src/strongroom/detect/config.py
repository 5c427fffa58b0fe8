"""Detector and response configuration: the mapping from the policy file's `detectors:` /
`responses:` sections, checked against the registration table (`table.py`).

Unknown detector names, parameters or response keys are refused with an error naming the
path (`detectors.velocity.params.foo`), so a typo in the policy never silently disables a
detector.

Roles are declared in the policy: each per-role parameter of a detector (the table's
`role_params`, e.g. `detectors.velocity.params.human_ceiling_records_per_minute`) maps role
names to that role's figure. A role the policy gives no figure for falls back on the
neutral `FALLBACK_ROLE`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from strongroom.detect import table

LADDER: tuple[str, ...] = (
    "alert",
    "throttle",
    "step_up",
    "suspend_session",
    "suspend_principal",
    "block_ip_prefix",
)
# Rungs that lock someone out: they need a honey hit or two independent signal families.
SUSPENSIONS = frozenset({"suspend_session", "suspend_principal", "block_ip_prefix"})


class DetectConfigError(ValueError):
    """A detector or response setting the engine cannot accept; the message names the path."""


@dataclass(frozen=True)
class RoleProfile:
    """What a human in this role does. `work_hours` is (start, end) local hours, None for
    a role on duty around the clock."""

    records_per_minute: float
    daily_subjects: float
    work_hours: tuple[int, int] | None = None


# A role the policy gives no figures for: a modest human pace, around the clock.
FALLBACK_ROLE = RoleProfile(records_per_minute=10, daily_subjects=10)


@dataclass(frozen=True)
class DetectorSettings:
    enabled: bool = True
    shadow: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rung:
    action: str
    threshold: float
    shadow: bool = False
    duration_seconds: float | None = None
    factor: float = 1.0


DEFAULT_RESPONSES: tuple[Rung, ...] = (
    Rung("alert", 30),
    Rung("throttle", 50, duration_seconds=3600, factor=0.25),
    Rung("step_up", 60, duration_seconds=900),
    Rung("suspend_session", 75, duration_seconds=86_400),
    Rung("suspend_principal", 90),
    Rung("block_ip_prefix", 95, duration_seconds=3600),
)


@dataclass(frozen=True)
class DetectConfig:
    # Only what the policy declares; any other role gets FALLBACK_ROLE.
    roles: Mapping[str, RoleProfile] = field(default_factory=dict)
    detectors: Mapping[str, DetectorSettings] = field(default_factory=dict)
    responses: tuple[Rung, ...] = DEFAULT_RESPONSES
    family_caps: Mapping[str, float] = field(default_factory=lambda: dict(table.FAMILY_CAPS))
    half_life: Mapping[str, float] = field(default_factory=lambda: dict(table.FAMILY_HALF_LIFE))
    # A family counts toward the two-family rule once its contribution reaches this.
    family_floor: float = 10.0
    # Finding updates for one incident go out at most this often (unless severity rises).
    incident_update_seconds: float = 300.0
    # How often a worker re-reads containments decided by other workers.
    sync_seconds: float = 1.0

    def role(self, role: str) -> RoleProfile:
        return self.roles.get(role, FALLBACK_ROLE)

    def detector(self, name: str) -> DetectorSettings:
        return self.detectors.get(name) or DetectorSettings()

    def param(self, name: str, key: str) -> Any:
        value = self.detector(name).params.get(key)
        return table.BY_NAME[name].params[key] if value is None else value

    @classmethod
    def from_policy_section(
        cls,
        detectors: Mapping[str, Any] | None,
        responses: Mapping[str, Any] | list[Any] | None,
        **overrides: Any,
    ) -> DetectConfig:
        parsed = {name: s for name, s in _detectors(detectors or {}).items()}
        rungs = _responses(responses) if responses else DEFAULT_RESPONSES
        roles = _roles_from(parsed)
        return replace(cls(**overrides), roles=roles, detectors=parsed, responses=rungs)


def _fail(path: str, msg: str) -> DetectConfigError:
    return DetectConfigError(f"{path}: {msg}")


def _detectors(section: Mapping[str, Any]) -> dict[str, DetectorSettings]:
    out: dict[str, DetectorSettings] = {}
    for raw_name, spec in section.items():
        entry = table.entry(raw_name)
        path = f"detectors.{raw_name}"
        if entry is None:
            raise _fail(path, f"unknown detector (known: {sorted(table.BY_NAME)})")
        known = entry.known()
        spec = dict(spec or {})
        unknown = set(spec) - {"enabled", "shadow", "params"}
        if unknown:
            raise _fail(path, f"unknown keys {sorted(unknown)} (known: enabled, shadow, params)")
        params = dict(spec.get("params") or {})
        for key in params:
            if key not in known:
                raise _fail(f"{path}.params.{key}", f"unknown parameter (known: {sorted(known)})")
        for key in ("enabled", "shadow"):
            if key in spec and not isinstance(spec[key], bool):
                raise _fail(f"{path}.{key}", "must be true or false")
        out[entry.name] = DetectorSettings(
            enabled=spec.get("enabled", True), shadow=spec.get("shadow", False), params=params
        )
    return out


def _roles_from(detectors: Mapping[str, DetectorSettings]) -> dict[str, RoleProfile]:
    """The roles the policy declares: each per-role parameter (the table's `role_params`)
    sets one field of the roles it names; fields it leaves out come from FALLBACK_ROLE."""
    roles: dict[str, RoleProfile] = {}
    for entry in table.DETECTORS:
        settings = detectors.get(entry.name)
        if settings is None:
            continue
        for param, attr in entry.role_params.items():
            figures = settings.params.get(param)
            if figures is None:
                continue
            key = f"detectors.{entry.name}.params.{param}"
            if not isinstance(figures, Mapping):
                raise _fail(key, "must map role names to values")
            for role, value in figures.items():
                roles[role] = replace(
                    roles.get(role, FALLBACK_ROLE),
                    **{attr: _role_value(f"{key}.{role}", attr, value)},
                )
    return roles


def _role_value(path: str, attr: str, value: Any) -> Any:
    if attr == "work_hours":
        if value is None:
            return None
        if (
            not isinstance(value, list | tuple)
            or len(value) != 2
            or not all(isinstance(h, int) and 0 <= h <= 24 for h in value)
        ):
            raise _fail(path, "must be [start_hour, end_hour] or null")
        return (int(value[0]), int(value[1]))
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _fail(path, "must be a positive number")
    return float(value)


def _responses(section: Mapping[str, Any] | list[Any]) -> tuple[Rung, ...]:
    """Either the policy's mapping {action: {threshold, enabled, shadow, params}} or a list
    of {action, min_risk, shadow, params}."""
    items: list[tuple[str, str, dict[str, Any]]] = []
    if isinstance(section, Mapping):
        items = [(f"responses.{k}", k, dict(v or {})) for k, v in section.items()]
    else:
        for i, v in enumerate(section):
            v = dict(v or {})
            items.append((f"responses[{i}]", str(v.pop("action", "")), v))
    defaults = {r.action: r for r in DEFAULT_RESPONSES}
    rungs: list[Rung] = []
    for path, action, spec in items:
        if action not in defaults:
            raise _fail(path, f"unknown response action {action!r} (known: {list(LADDER)})")
        unknown = set(spec) - {"threshold", "min_risk", "enabled", "shadow", "params"}
        if unknown:
            raise _fail(path, f"unknown keys {sorted(unknown)}")
        if spec.get("enabled", True) is False:
            continue
        threshold = spec.get("threshold", spec.get("min_risk", defaults[action].threshold))
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not 0 <= threshold <= 100
        ):
            raise _fail(f"{path}.threshold", "must be a number from 0 to 100")
        params = dict(spec.get("params") or {})
        unknown = set(params) - {"duration_seconds", "factor"}
        if unknown:
            raise _fail(
                f"{path}.params",
                f"unknown parameters {sorted(unknown)} (known: duration_seconds, factor)",
            )
        factor = float(params.get("factor", defaults[action].factor))
        if not 0 < factor <= 1:
            raise _fail(f"{path}.params.factor", "must be in (0, 1]")
        duration = params.get("duration_seconds", defaults[action].duration_seconds)
        rungs.append(
            Rung(
                action,
                float(threshold),
                shadow=bool(spec.get("shadow", False)),
                duration_seconds=None if duration is None else float(duration),
                factor=factor,
            )
        )
    rungs.sort(key=lambda r: (r.threshold, LADDER.index(r.action)))
    return tuple(rungs)
