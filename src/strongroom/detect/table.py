"""The registration table: every detector, once, with everything the rest of the layer
derives from it.

One `Entry` per detector: its class (which carries its `name` and `family`), its risk
family's cap, half-life and evidence group, its parameters with their defaults, the
per-role figures it reads from the policy, the policy names it also answers to, and the
per-principal state slot it needs. From this table come the family order and indexes of
the risk arrays (`FAMILIES`), the config's defaults and its validation of the policy's
`detectors:` section (`KNOWN`, `ALIASES`), the risk model's caps and half-lives, the
two-family rule's evidence groups (`EVIDENCE`), and which detectors the engine builds,
with which state slots and hooks. Roles are not here: their figures are in the policy.

Worked example: a detector of principals reading at night far more than they do by day,
family "night" (its own kind of evidence). Three files:

1. `detect/night.py`: the detector and its per-principal slot::

       class NightState(Slot):
           __slots__ = ("night", "day")
           def __init__(self) -> None:
               self.night = self.day = 0

       class Night(Detector[NightState]):
           name = "night"
           family = "night"
           def __init__(self, config: DetectConfig, ports: Ports) -> None:
               super().__init__(config, ports)
               self.ratio = float(config.param("night", "ratio"))
               self.cap = config.family_caps["night"]
           def observe(self, ev, st, mine: NightState, now: float) -> Signal | None:
               ...  # count into mine.night / mine.day, return a Signal past the ratio

2. here, one entry in `DETECTORS` (the position is the order detectors see an event)::

       Entry(Night, cap=30, half_life=6 * 3600, params={"ratio": 4.0},
             aliases=("night_reading",), state=NightState),

3. the policy's `detectors:` section (or a test's section) switches it on and sets it::

       night: {shadow: true, params: {ratio: 5}}

Nothing else changes: the config accepts `detectors.night.params.ratio` and refuses
`detectors.night.params.ratoi` by its path, the risk arrays grow by one family, the engine
builds `Night`, gives each principal a `NightState` and calls `observe`. A role is one file
(its figures under the per-role parameters of the policy's `detectors:` section; a role
given none gets the config's FALLBACK_ROLE). A new per-role figure is a `role_params` key
here and a field of `RoleProfile` in config.py.

Memory: a slot is a `Slot` with `__slots__` of fixed-size fields (counted by
`PrincipalState.nbytes`); the whole per-principal state stays under 2 KiB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic

from strongroom.detect.breadth import Breadth
from strongroom.detect.case_growth import CaseGrowth
from strongroom.detect.collusion import Collusion, CollusionState
from strongroom.detect.context import Context, ContextState
from strongroom.detect.coordination import Coordination
from strongroom.detect.detector import Detector, S
from strongroom.detect.drift import Drift, DriftState
from strongroom.detect.enumeration import Enumeration, EnumerationState
from strongroom.detect.honey import Honey
from strongroom.detect.linking import Linking, LinkingState
from strongroom.detect.peers import Peers
from strongroom.detect.velocity import Velocity, VelocityState


def no_state() -> None:
    """The `state` of a detector that keeps nothing per principal."""
    return None


@dataclass(frozen=True)
class Entry(Generic[S]):
    detector: type[Detector[S]]
    # Most the family adds to the risk score alone, and how fast its contribution fades.
    cap: float
    half_life: float
    # Per-principal slot factory (`no_state` for none); its type must be the detector's S.
    state: Callable[[], S]
    # Families reading the same evidence share a group and count once towards the
    # two-family rule (None: the family is its own group).
    evidence: str | None = None
    # Known parameters with their defaults.
    params: Mapping[str, Any] = field(default_factory=dict)
    # Per-role parameters: policy name -> the `RoleProfile` field it sets, per role.
    role_params: Mapping[str, str] = field(default_factory=dict)
    # Other names the policy may use.
    aliases: tuple[str, ...] = ()
    # Whether the family's signals also count toward the risk of the event's IP prefix (a
    # network to block). Not for evidence about an agent's own cases: an insider works
    # from the network its honest colleagues share, and several insiders of one office
    # would otherwise add up to blocking all of it.
    network: bool = True

    @property
    def name(self) -> str:
        return self.detector.name

    @property
    def family(self) -> str:
        return self.detector.family

    def known(self) -> frozenset[str]:
        """Every parameter the policy may set for this detector."""
        return frozenset(self.params) | frozenset(self.role_params)


# The order is the order detectors see an event, and the order of the risk families.
DETECTORS: tuple[Entry[Any], ...] = (
    Entry(
        Velocity,
        cap=45,
        half_life=900,
        state=VelocityState,
        role_params={"human_ceiling_records_per_minute": "records_per_minute"},
        aliases=("volume",),
    ),
    Entry(
        Enumeration,
        cap=60,
        half_life=3600,
        state=EnumerationState,
        params={
            "min_lookups": 20,
            "miss_ratio": 0.5,
            "window_seconds": 3600.0,
            "min_run": 12,
            "min_steps": 8,
        },
    ),
    # Breadth (distinct subjects today), peer deviation (today's volume and breadth against
    # the role) and drift (the same totals accumulated over days) all measure how much one
    # principal reads: a heavy-tailed officer on a busy week trips all three at once. In a
    # month of 5,000 simulated users they were the whole of the wrongful suspensions (2.7
    # per 10,000 user-days). Together they can still reach step-up; to suspend they need a
    # second kind of evidence (rate, pattern, coordination, context) or a honey record.
    Entry(
        Breadth,
        cap=45,
        half_life=6 * 3600,
        state=no_state,
        evidence="amount",
        params={"factor": 3.0},
        role_params={"daily_subjects_baseline": "daily_subjects"},
    ),
    Entry(
        Peers,
        cap=45,
        half_life=86_400,
        state=no_state,
        evidence="amount",
        params={"zscore": 3.5, "min_peers": 5, "window_seconds": 7 * 86_400.0, "min_value": 10.0},
        aliases=("peer_deviation", "peers"),
    ),
    Entry(
        Coordination,
        cap=50,
        half_life=3600,
        state=no_state,
        params={
            "principals_per_ip_prefix": 3,
            "window_seconds": 3600.0,
            "min_run": 12,
            "turns_min_run": 12,
            "turns_gap_seconds": 120.0,
            "turns_min_accounts": 2,
        },
    ),
    Entry(
        Honey,
        cap=100,
        half_life=30 * 86_400,
        state=no_state,
        params={"risk": 100.0},
        aliases=("honey_records",),
    ),
    Entry(
        Drift,
        cap=45,
        half_life=3 * 86_400,
        state=DriftState,
        evidence="amount",
        params={"slack": 0.25, "threshold": 3.0},
        aliases=("cumulative_drift", "cusum"),
    ),
    # Need to know's two ways around it (issue 18): an agent linking many unrelated
    # subjects, and a case growing beyond its kind or without work. Each is capped at 46:
    # alone below the throttle (50), an alert for someone to look at; together 92, past
    # suspend_principal (90) but short of blocking the IP prefix (95), since an insider
    # works from the network its colleagues share.
    Entry(
        Linking,
        cap=46,
        half_life=86_400,
        state=LinkingState,
        params={"unrelated_links": 15.0, "related_weight": 0.25, "half_life_seconds": 86_400.0},
        aliases=("case_linking",),
        network=False,
    ),
    Entry(
        CaseGrowth,
        cap=46,
        half_life=86_400,
        state=no_state,
        params={
            # Subjects a case of each kind typically holds: a renewal or an application is
            # one holder's, a suspension or a seizure a household's, an investigation
            # a network's.
            "typical_links": {
                "permit_application": 1,
                "renewal": 1,
                "suspension": 2,
                "seizure": 3,
                "investigation": 10,
            },
            "default_typical": 2,
            "factor": 2.0,
            "idle_links": 8,
            "related_weight": 0.25,
        },
        aliases=("case_growth_without_activity",),
        network=False,
    ),
    # Four eyes turned into a ring (insiders approving each other's links): approving for
    # an agent since suspended. At 45 it suspends with case growth or peers (90), not alone.
    Entry(
        Collusion,
        cap=45,
        half_life=86_400,
        state=CollusionState,
        params={"window_seconds": 7 * 86_400.0},
        network=False,
    ),
    # Weak alone (the family is capped low): it corroborates.
    Entry(
        Context,
        cap=20,
        half_life=3600,
        state=ContextState,
        params={"timezone": "Europe/Paris", "new_network": True, "new_device": True},
        role_params={"work_hours": "work_hours"},
    ),
)


def _derive() -> tuple[
    dict[str, Entry[Any]], dict[str, str], tuple[str, ...], dict[str, Entry[Any]]
]:
    by_name: dict[str, Entry[Any]] = {}
    aliases: dict[str, str] = {}
    by_family: dict[str, Entry[Any]] = {}
    for e in DETECTORS:
        for n in (e.name, *e.aliases):
            if n in by_name or n in aliases:
                raise ValueError(f"detector name {n!r} registered twice")
        by_name[e.name] = e
        aliases.update({a: e.name for a in e.aliases})
        first = by_family.setdefault(e.family, e)
        if (first.cap, first.half_life, first.evidence) != (e.cap, e.half_life, e.evidence):
            raise ValueError(f"detectors {first.name} and {e.name} disagree on family {e.family}")
    return by_name, aliases, tuple(by_family), by_family


BY_NAME, ALIASES, FAMILIES, _BY_FAMILY = _derive()
FAMILY_INDEX: dict[str, int] = {f: i for i, f in enumerate(FAMILIES)}
N_FAMILIES = len(FAMILIES)
FAMILY_CAPS: dict[str, float] = {f: e.cap for f, e in _BY_FAMILY.items()}
FAMILY_HALF_LIFE: dict[str, float] = {f: e.half_life for f, e in _BY_FAMILY.items()}
EVIDENCE: dict[str, str] = {f: e.evidence for f, e in _BY_FAMILY.items() if e.evidence}
NETWORK_FAMILIES: frozenset[str] = frozenset(f for f, e in _BY_FAMILY.items() if e.network)


def entry(name: str) -> Entry[Any] | None:
    """The entry a policy name (or alias) refers to."""
    return BY_NAME.get(ALIASES.get(name, name))


def independent(families: Iterable[str]) -> int:
    """How many independent kinds of evidence these families are."""
    return len({EVIDENCE.get(f, f) for f in families})
