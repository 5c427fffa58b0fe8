"""The live extraction drill: play an attacker against a running deployment and report how
much it got before it was stopped, and by which layer.

Bounded on every axis: `max_requests`, `max_seconds`, and the target must be loopback or
allow-listed unless `allow_remote` (checked before any connection, `targets.py`). An
account stops at the first answer that ends a campaign: 429 (a budget: the problem's
`budget` member names it), 403 with reason `contained` (the detectors' containment), or
401 (token revoked or step-up demanded). The drill ends when every account has stopped or
a bound is reached.

    config = DrillConfig(url="http://127.0.0.1:8000", strategy="name-sweep")
    report = run_drill(config, tokens=["..."])
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from strongroom.clock import SYSTEM_CLOCK, Clock
from strongroom.errors import BadRequest
from strongroom.posture.drill_client import Account, ClientKey
from strongroom.posture.drill_strategies import STRATEGIES, probes
from strongroom.posture.targets import check_target

MAX_REFUSALS = 20  # consecutive 4xx refusals of the request's shape end an account's run


@dataclass(frozen=True)
class DrillConfig:
    url: str
    strategy: str
    max_requests: int = 200
    max_seconds: float = 60.0
    pace: float = 0.0
    allow_remote: bool = False
    allow_hosts: tuple[str, ...] = ()
    seed: int | None = None


@dataclass
class Stop:
    status: int
    outcome: str  # throttled | contained | step_up | unauthorized | refused
    layer: str  # budget | detector | auth | api
    name: str  # budget name, problem reason, ...
    after_requests: int
    after_seconds: float
    records_before: int


@dataclass
class AccountResult:
    label: str
    requests: int = 0
    records: int = 0
    stop: Stop | None = None


@dataclass
class DrillReport:
    url: str
    strategy: str
    requests: int = 0
    records: int = 0
    subjects: int = 0
    seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    refusals: dict[str, int] = field(default_factory=dict)  # "403 out_of_scope": n
    accounts: list[AccountResult] = field(default_factory=list)
    ended_by: str = "max_requests"  # all_stopped | max_requests | max_seconds

    @property
    def stopped(self) -> bool:
        return bool(self.accounts) and all(a.stop is not None for a in self.accounts)

    @property
    def first_stop(self) -> Stop | None:
        stops = [a.stop for a in self.accounts if a.stop is not None]
        return min(stops, key=lambda s: s.after_requests) if stops else None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["stopped"] = self.stopped
        first = self.first_stop
        out["first_stop"] = asdict(first) if first else None
        return out


def _classify(response: httpx.Response) -> tuple[str, str, str] | None:
    """(outcome, layer, name) if this answer ends the account's campaign."""
    status = response.status_code
    if status not in (401, 403, 429):
        return None
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    reason = str(body.get("reason") or "")
    if status == 429:
        return "throttled", "budget", str(body.get("budget") or reason or "budget")
    if status == 401 and reason == "insufficient_user_authentication":
        return "step_up", "detector", reason  # the response ladder's step-up rung
    if status == 401:
        return "unauthorized", "auth", reason or "unauthorized"
    if reason == "contained":
        detector = body.get("detector") or body.get("detectors") or body.get("signals")
        return "contained", "detector", str(detector) if detector else "contained"
    return None  # a 403 for one record (out of scope) is not the end of a campaign


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("reason") or "") if isinstance(body, dict) else ""


def _harvest(body: Any, seen: set[str]) -> int:
    if not isinstance(body, dict):
        return 0
    items = body.get("items")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and item.get("id"):
                seen.add(str(item["id"]))
        return len(items)
    if body.get("id"):
        seen.add(str(body["id"]))
        return 1
    return 0


def build_accounts(
    config: DrillConfig,
    http: httpx.Client,
    clock: Clock,
    *,
    tokens: Sequence[str] = (),
    client_keys: Sequence[ClientKey] = (),
) -> list[Account]:
    accounts = [
        Account(http, config.url, clock, token=t, label=f"token-{i + 1}")
        for i, t in enumerate(tokens)
    ]
    accounts += [
        Account(http, config.url, clock, client_key=k, label=k.client_id) for k in client_keys
    ]
    if not accounts:
        raise BadRequest("the drill needs --token or --client-id with --client-key")
    if config.strategy != "multi-account":
        accounts = accounts[:1]
    return accounts


def run_drill(
    config: DrillConfig,
    *,
    tokens: Sequence[str] = (),
    client_keys: Sequence[ClientKey] = (),
    http: httpx.Client | None = None,
    clock: Clock = SYSTEM_CLOCK,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[DrillReport], None] | None = None,
) -> DrillReport:
    """Run one bounded drill. `http` may be given (an in-process client in tests); the
    target check runs first either way, so a refused target never sees a packet."""
    check_target(config.url, allow_remote=config.allow_remote, allow_hosts=config.allow_hosts)
    if config.strategy not in STRATEGIES:
        raise BadRequest(f"unknown strategy {config.strategy!r}; one of: {', '.join(STRATEGIES)}")
    if config.max_requests < 1 or config.max_seconds <= 0:
        raise BadRequest("--max-requests and --max-seconds must be positive")
    own = http is None
    client = http or httpx.Client(timeout=10.0, follow_redirects=False)
    try:
        return _run(config, client, clock, sleep, progress, tokens, client_keys)
    finally:
        if own:
            client.close()


def _run(
    config: DrillConfig,
    http: httpx.Client,
    clock: Clock,
    sleep: Callable[[float], None],
    progress: Callable[[DrillReport], None] | None,
    tokens: Sequence[str],
    client_keys: Sequence[ClientKey],
) -> DrillReport:
    accounts = build_accounts(config, http, clock, tokens=tokens, client_keys=client_keys)
    report = DrillReport(
        url=config.url,
        strategy=config.strategy,
        accounts=[AccountResult(a.label) for a in accounts],
    )
    for account in accounts:
        account.login()
    stream = probes(config.strategy, random.Random(config.seed))  # noqa: S311 - not crypto
    statuses: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    seen: set[str] = set()
    refusals = [0] * len(accounts)
    started = clock.now()
    turn = 0
    while True:
        elapsed = clock.now() - started
        live = [i for i, r in enumerate(report.accounts) if r.stop is None]
        if not live:
            report.ended_by = "all_stopped"
            break
        if report.requests >= config.max_requests:
            report.ended_by = "max_requests"
            break
        if elapsed >= config.max_seconds:
            report.ended_by = "max_seconds"
            break
        i = live[turn % len(live)]
        turn += 1
        probe = next(stream)
        response = accounts[i].request(probe.method, probe.path, probe.body)
        result = report.accounts[i]
        result.requests += 1
        report.requests += 1
        statuses[str(response.status_code)] += 1
        if response.is_success:
            got = _harvest(response.json(), seen)
            result.records += got
            report.records += got
            refusals[i] = 0
        else:
            reasons[f"{response.status_code} {_reason(response)}".strip()] += 1
        stop = _classify(response)
        if stop is None and response.status_code in (400, 422):
            refusals[i] += 1
            if refusals[i] >= MAX_REFUSALS:
                stop = ("refused", "api", _reason(response) or str(response.status_code))
        if stop is not None:
            outcome, layer, name = stop
            result.stop = Stop(
                response.status_code,
                outcome,
                layer,
                name,
                report.requests,
                round(clock.now() - started, 3),
                report.records,
            )
        report.subjects = len(seen)
        report.statuses = dict(statuses)
        report.refusals = dict(reasons)
        if progress is not None:
            progress(report)
        if config.pace > 0:
            sleep(config.pace)
    report.seconds = round(clock.now() - started, 3)
    report.subjects = len(seen)
    report.statuses = dict(statuses)
    report.refusals = dict(reasons)
    return report
