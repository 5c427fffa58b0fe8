"""Detector and response configuration: sane defaults per role, and the mapping from the
policy file's `detectors:` / `responses:` sections.

Unknown detector names, parameters or response keys are refused with an error naming the
path (`detectors.velocity.params.foo`), so a typo in the policy never silently disables a
detector.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

FAMILIES: tuple[str, ...] = (
    "volume",
    "enumeration",
    "breadth",
    "peer",
    "coordination",
    "honey",
    "drift",
    "context",
)
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
# Families that read the same evidence count once towards independence. Breadth (distinct
# subjects today), peer deviation (today's volume and breadth against the role) and drift
# (the same totals accumulated over days) all measure how much one principal reads: a
# heavy-tailed officer on a busy week trips all three at once. In a month of 5,000
# simulated users they were the whole of the wrongful suspensions (2.7 per 10,000
# user-days). Together they can still reach step-up; to suspend they need a second kind
# of evidence (rate, pattern, coordination, context) or a honey record.
EVIDENCE: dict[str, str] = {"breadth": "amount", "peer": "amount", "drift": "amount"}


def independent(families: Iterable[str]) -> int:
    """How many independent kinds of evidence these families are."""
    return len({EVIDENCE.get(f, f) for f in families})


class DetectConfigError(ValueError):
    """A detector or response setting the engine cannot accept; the message names the path."""


@dataclass(frozen=True)
class RoleProfile:
    """What a human in this role does. `work_hours` is (start, end) local hours, None for
    a role on duty around the clock."""

    records_per_minute: float
    daily_subjects: float
    work_hours: tuple[int, int] | None = None


DEFAULT_ROLES: dict[str, RoleProfile] = {
    # Police read tens of persons per shift, around the clock.
    "police": RoleProfile(records_per_minute=20, daily_subjects=30),
    # Dealers verify tens of permits a day, in shop hours.
    "dealer": RoleProfile(records_per_minute=10, daily_subjects=20, work_hours=(7, 21)),
    # A prefecture agent works a caseload, in office hours.
    "prefecture": RoleProfile(records_per_minute=20, daily_subjects=40, work_hours=(7, 20)),
    # Owners look at their own file, rarely.
    "owner": RoleProfile(records_per_minute=10, daily_subjects=3),
    "auditor": RoleProfile(records_per_minute=30, daily_subjects=50, work_hours=(7, 20)),
    "admin": RoleProfile(records_per_minute=30, daily_subjects=20),
}
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


# Known parameters per detector with their defaults. Policy names are aliases of ours.
DETECTOR_PARAMS: dict[str, dict[str, Any]] = {
    "velocity": {"human_ceiling_records_per_minute": None},
    "enumeration": {
        "min_lookups": 20,
        "miss_ratio": 0.5,
        "window_seconds": 3600.0,
        "min_run": 12,
        "min_steps": 8,
    },
    "breadth": {"daily_subjects_baseline": None, "factor": 3.0},
    "peer": {"zscore": 3.5, "min_peers": 5, "window_seconds": 7 * 86_400.0, "min_value": 10.0},
    "coordination": {"principals_per_ip_prefix": 3, "window_seconds": 3600.0, "min_run": 12},
    "honey": {"risk": 100.0},
    "drift": {"slack": 0.25, "threshold": 3.0},
    "context": {
        "work_hours": None,
        "timezone": "Europe/Paris",
        "new_network": True,
        "new_device": True,
    },
}
DETECTOR_ALIASES = {
    "peer_deviation": "peer",
    "peers": "peer",
    "honey_records": "honey",
    "cumulative_drift": "drift",
    "cusum": "drift",
    "volume": "velocity",
}
DEFAULT_RESPONSES: tuple[Rung, ...] = (
    Rung("alert", 30),
    Rung("throttle", 50, duration_seconds=3600, factor=0.25),
    Rung("step_up", 60, duration_seconds=900),
    Rung("suspend_session", 75, duration_seconds=86_400),
    Rung("suspend_principal", 90),
    Rung("block_ip_prefix", 95, duration_seconds=3600),
)
# Most a family can add to the risk score alone: one noisy family reaches throttle, never
# suspension (which the two-family rule also guards).
FAMILY_CAPS: dict[str, float] = {
    "volume": 45,
    "enumeration": 60,
    "breadth": 45,
    "peer": 45,
    "coordination": 50,
    "honey": 100,
    "drift": 45,
    "context": 20,
}
# How fast each family's contribution fades: fast for bursts, slow for day-scale evidence.
FAMILY_HALF_LIFE: dict[str, float] = {
    "volume": 900,
    "enumeration": 3600,
    "breadth": 6 * 3600,
    "peer": 86_400,
    "coordination": 3600,
    "honey": 30 * 86_400,
    "drift": 3 * 86_400,
    "context": 3600,
}


@dataclass(frozen=True)
class DetectConfig:
    roles: Mapping[str, RoleProfile] = field(default_factory=lambda: dict(DEFAULT_ROLES))
    detectors: Mapping[str, DetectorSettings] = field(default_factory=dict)
    responses: tuple[Rung, ...] = DEFAULT_RESPONSES
    family_caps: Mapping[str, float] = field(default_factory=lambda: dict(FAMILY_CAPS))
    half_life: Mapping[str, float] = field(default_factory=lambda: dict(FAMILY_HALF_LIFE))
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
        return DETECTOR_PARAMS[name][key] if value is None else value

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
        name = DETECTOR_ALIASES.get(raw_name, raw_name)
        path = f"detectors.{raw_name}"
        if name not in DETECTOR_PARAMS:
            raise _fail(path, f"unknown detector (known: {sorted(DETECTOR_PARAMS)})")
        spec = dict(spec or {})
        unknown = set(spec) - {"enabled", "shadow", "params"}
        if unknown:
            raise _fail(path, f"unknown keys {sorted(unknown)} (known: enabled, shadow, params)")
        params = dict(spec.get("params") or {})
        for key in params:
            if key not in DETECTOR_PARAMS[name]:
                raise _fail(
                    f"{path}.params.{key}",
                    f"unknown parameter (known: {sorted(DETECTOR_PARAMS[name])})",
                )
        for key in ("enabled", "shadow"):
            if key in spec and not isinstance(spec[key], bool):
                raise _fail(f"{path}.{key}", "must be true or false")
        out[name] = DetectorSettings(
            enabled=spec.get("enabled", True), shadow=spec.get("shadow", False), params=params
        )
    return out


def _roles_from(detectors: Mapping[str, DetectorSettings]) -> dict[str, RoleProfile]:
    """Per-role figures given in detector params override the role defaults."""
    roles = dict(DEFAULT_ROLES)
    ceilings = detectors.get("velocity", DetectorSettings()).params.get(
        "human_ceiling_records_per_minute"
    )
    baselines = detectors.get("breadth", DetectorSettings()).params.get("daily_subjects_baseline")
    hours = detectors.get("context", DetectorSettings()).params.get("work_hours")
    for key, table, attr in (
        (
            "detectors.velocity.params.human_ceiling_records_per_minute",
            ceilings,
            "records_per_minute",
        ),
        ("detectors.breadth.params.daily_subjects_baseline", baselines, "daily_subjects"),
        ("detectors.context.params.work_hours", hours, "work_hours"),
    ):
        if table is None:
            continue
        if not isinstance(table, Mapping):
            raise _fail(key, "must map role names to values")
        for role, value in table.items():
            roles[role] = replace(
                roles.get(role, FALLBACK_ROLE), **{attr: _role_value(f"{key}.{role}", attr, value)}
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
