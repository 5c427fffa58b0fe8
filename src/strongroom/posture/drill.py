"""The live extraction drill: play an attacker against a running deployment and report how
much it got before it was stopped, and by which layer; and the same against a baseline
(the same deployment with budgets and detectors off, `drill_baseline.py`), so the figure
with defences is read against the one without.

Bounded on every axis: `max_requests`, `max_seconds`, and the target must be loopback or
allow-listed unless `allow_remote` (checked before any connection, `targets.py`). An
account stops at the first answer that ends a campaign: 429 (a budget: the problem's
`budget` member names it), 403 with reason `contained` (the detectors' containment), 401
(token revoked or step-up demanded), or `MAX_REFUSALS` refusals of what it asks in a row
(400 for the request's shape, 403 for its purpose or scope: the policy). The drill ends
when every account has stopped, the strategy has nothing left to try, or a bound is
reached.

    config = DrillConfig(url="http://127.0.0.1:8000", strategy="dealer")
    report = run_drill(config, tokens=["..."], known=load_known("leak.csv"),
                       baseline_home=Home("/srv/strongroom"))
    report.records, report.baseline.records
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import httpx

from strongroom.clock import SYSTEM_CLOCK, Clock
from strongroom.config import Home
from strongroom.errors import BadRequest
from strongroom.posture.drill_client import Account, ClientKey, token_claims
from strongroom.posture.drill_knowledge import Knowledge, Known
from strongroom.posture.drill_strategies import CASE, STRATEGIES, build
from strongroom.posture.targets import check_target

# Consecutive refusals of what is asked (shape, purpose, scope) that end an account's run.
MAX_REFUSALS = 20
TIMEOUT_SECONDS = 30.0


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
    # A running baseline to compare with (budgets and detectors off); `run_drill` starts
    # one itself on a copy of `baseline_home` instead when given that.
    baseline_url: str | None = None


@dataclass
class Stop:
    status: int
    outcome: str  # throttled | contained | step_up | unauthorized | refused | no_answer
    layer: str  # budget | detector | auth | api | policy | network
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
    ended_by: str = "max_requests"  # all_stopped | exhausted | max_requests | max_seconds
    by_kind: dict[str, int] = field(default_factory=dict)  # records per kind of request
    answered: dict[str, int] = field(default_factory=dict)  # successful answers per kind
    known: int = 0  # rows of the attacker's known list
    learned: dict[str, int] = field(default_factory=dict)  # what answers taught, in counts
    baseline: DrillReport | None = None

    @property
    def stopped(self) -> bool:
        return bool(self.accounts) and all(a.stop is not None for a in self.accounts)

    @property
    def first_stop(self) -> Stop | None:
        stops = [a.stop for a in self.accounts if a.stop is not None]
        return min(stops, key=lambda s: s.after_requests) if stops else None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(replace(self, baseline=None))
        out["stopped"] = self.stopped
        first = self.first_stop
        out["first_stop"] = asdict(first) if first else None
        out["baseline"] = self.baseline.to_dict() if self.baseline is not None else None
        out["comparison"] = self.comparison()
        return out

    def comparison(self) -> dict[str, Any] | None:
        """Records with defences against records without (the baseline)."""
        if self.baseline is None:
            return None
        without = self.baseline.records
        return {
            "records_with_defences": self.records,
            "records_without_defences": without,
            "prevented": without - self.records,
            "prevented_share": round((without - self.records) / without, 3) if without else None,
        }

    def check(self, max_records: int) -> dict[str, Any]:
        """The check "at most `max_records` records": whether it passed, and whether it
        could fail at all (the baseline got more), which a passing check means little
        without."""
        base = self.baseline.records if self.baseline is not None else None
        return {
            "max_records": max_records,
            "passed": self.records <= max_records,
            "baseline_records": base,
            "can_fail": None if base is None else base > max_records,
        }


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


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _refused_at_the_end(
    report: DrillReport,
    refusals: list[int],
    last: list[httpx.Response | None],
    elapsed: float,
) -> None:
    """The strategy gave up because what it asks was refused (a dealer's token on a police
    door): the accounts it was refused to were stopped by the policy, and say so."""
    for i, result in enumerate(report.accounts):
        response = last[i]
        if result.stop is None and refusals[i] and response is not None:
            status = response.status_code
            result.stop = Stop(
                status,
                "refused",
                "policy" if status == 403 else "api",
                _reason(response) or str(status),
                report.requests,
                round(elapsed, 3),
                report.records,
            )


def build_accounts(
    config: DrillConfig,
    http: httpx.Client,
    clock: Clock,
    *,
    tokens: Sequence[str] = (),
    client_keys: Sequence[ClientKey] = (),
    url: str | None = None,
) -> list[Account]:
    """One account per principal: tokens of the same subject (read from the token) are
    that account's tokens for their purposes."""
    base = url or config.url
    by_subject: dict[str, list[str]] = {}
    for t in tokens:
        sub = str(token_claims(t).get("sub") or t)
        by_subject.setdefault(sub, []).append(t)
    accounts = [
        Account(http, base, clock, tokens=tuple(ts), label=f"token-{i + 1}")
        for i, ts in enumerate(by_subject.values())
    ]
    accounts += [Account(http, base, clock, client_key=k, label=k.client_id) for k in client_keys]
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
    known: Sequence[Known] = (),
    http: httpx.Client | None = None,
    baseline_http: httpx.Client | None = None,
    baseline_home: Home | None = None,
    clock: Clock = SYSTEM_CLOCK,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[DrillReport], None] | None = None,
) -> DrillReport:
    """Run one bounded drill, then the same against the baseline when there is one
    (`config.baseline_url`, or a copy of `baseline_home` served for the occasion, copied
    before the drill so that nothing it triggers reaches the copy). `http` may be given
    (an in-process client in tests, with `baseline_http` for its baseline); the target
    check runs first either way, so a refused target never sees a packet."""
    check_target(config.url, allow_remote=config.allow_remote, allow_hosts=config.allow_hosts)
    if config.strategy not in STRATEGIES:
        raise BadRequest(f"unknown strategy {config.strategy!r}; one of: {', '.join(STRATEGIES)}")
    if config.max_requests < 1 or config.max_seconds <= 0:
        raise BadRequest("--max-requests and --max-seconds must be positive")
    if baseline_home is not None and config.baseline_url:
        raise BadRequest("--baseline starts its own baseline; --baseline-url names one")
    own = http is None
    client = http or httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)
    args = (tokens, client_keys, known, clock, sleep, progress)
    try:
        if baseline_home is not None:
            from strongroom.posture.drill_baseline import baseline_server, issuer_of

            with baseline_server(baseline_home, issuer=issuer_of(client, config.url)) as url:
                return _with_baseline(replace(config, baseline_url=url), client, None, args)
        return _with_baseline(config, client, baseline_http, args)
    finally:
        if own:
            client.close()


def _with_baseline(
    config: DrillConfig,
    client: httpx.Client,
    baseline_http: httpx.Client | None,
    args: tuple[Any, ...],
) -> DrillReport:
    report = _run(config, config.url, client, *args)
    if config.baseline_url:
        check_target(config.baseline_url, allow_remote=False, allow_hosts=config.allow_hosts)
        report.baseline = _run(config, config.baseline_url, baseline_http or client, *args)
    return report


def _run(
    config: DrillConfig,
    url: str,
    http: httpx.Client,
    tokens: Sequence[str],
    client_keys: Sequence[ClientKey],
    known: Sequence[Known],
    clock: Clock,
    sleep: Callable[[float], None],
    progress: Callable[[DrillReport], None] | None,
) -> DrillReport:
    accounts = build_accounts(config, http, clock, tokens=tokens, client_keys=client_keys, url=url)
    report = DrillReport(
        url=url,
        strategy=config.strategy,
        accounts=[AccountResult(a.label) for a in accounts],
        known=len(known),
    )
    for account in accounts:
        account.login()
    rng = random.Random(config.seed)  # noqa: S311 - not crypto
    knowledge = Knowledge(list(known))
    strategy = build(config.strategy, knowledge, rng)
    statuses: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    seen: set[str] = set()
    refusals = [0] * len(accounts)
    last: list[httpx.Response | None] = [None] * len(accounts)
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
        probe = strategy.next()
        if probe is None:
            report.ended_by = "exhausted"
            _refused_at_the_end(report, refusals, last, clock.now() - started)
            break
        i = live[turn % len(live)]
        turn += 1
        account = accounts[i]
        path = probe.path.replace(CASE, account.case or "none")
        try:
            response = account.request(probe.method, path, probe.body, purpose=probe.purpose)
        except httpx.HTTPError as exc:
            # No answer at all (the server gone, or slower than the timeout): the account
            # stops there and the report says how, rather than the drill dying mid-way.
            report.requests += 1
            report.accounts[i].requests += 1
            statuses["no answer"] += 1
            report.accounts[i].stop = Stop(
                0,
                "no_answer",
                "network",
                type(exc).__name__,
                report.requests,
                round(clock.now() - started, 3),
                report.records,
            )
            continue
        body = _json(response)
        last[i] = response
        strategy.learn(probe, response.status_code, body)
        result = report.accounts[i]
        result.requests += 1
        report.requests += 1
        statuses[str(response.status_code)] += 1
        if response.is_success:
            report.answered[probe.kind] = report.answered.get(probe.kind, 0) + 1
            got = strategy.records(probe, body)
            if got:
                report.by_kind[probe.kind] = report.by_kind.get(probe.kind, 0) + len(got)
            seen.update(got)
            result.records += len(got)
            report.records += len(got)
        else:
            reasons[f"{response.status_code} {_reason(response)}".strip()] += 1
        stop = _classify(response)
        if response.status_code not in (400, 403, 422):
            refusals[i] = 0  # answered (found or not): the request itself was accepted
        elif stop is None:
            refusals[i] += 1
            if refusals[i] >= MAX_REFUSALS:
                layer = "policy" if response.status_code == 403 else "api"
                stop = ("refused", layer, _reason(response) or str(response.status_code))
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
    report.learned = knowledge.summary()
    report.subjects = len(seen)
    report.statuses = dict(statuses)
    report.refusals = dict(reasons)
    return report
