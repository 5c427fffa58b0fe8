"""The simulation report: per scenario, what leaked before containment, how long it took
and which layer stopped it; for the legitimate population, who was wrongly throttled,
asked to step up, contained or suspended, per 10,000 user-days, how long links waited
for a second agent (four eyes), and which detector families fired on them at all, per
role. Counts and pseudonymous facts only: no principal ID, no name, no value ever enters
the report."""

from __future__ import annotations

from collections import Counter
from statistics import median
from typing import Any

from strongroom.simulate.population import LegitStats

REPORT_VERSION = 1
SUSPENDED_PER_10K_MAX = 1.0
STEP_UP_SHARE_MAX = 0.005


def per_10k(n: int, user_days: int) -> float:
    return round(10_000 * n / user_days, 2) if user_days else 0.0


def legit_report(stats: LegitStats, findings: Counter[str] | None = None) -> dict[str, Any]:
    """`findings`: the detector findings opened on the population, by signal family."""
    user_days = sum(stats.users.values()) * stats.days
    by_role: dict[str, Any] = {}
    for role, n in sorted(stats.users.items()):
        ud = n * stats.days

        def count(pairs: set[tuple[str, int]], role: str = role) -> int:
            return sum(1 for p, _ in pairs if stats.roles[p] == role)

        suspended = count(stats.suspended)
        by_role[role] = {
            "users": n,
            "user_days": ud,
            "requests": stats.requests[role],
            "throttled_user_days": count(stats.throttled),
            "step_up_user_days": count(stats.step_up),
            "contained_user_days": count(stats.contained),
            "wrongful_suspensions": {
                "user_days": suspended,
                "per_10k_user_days": per_10k(suspended, ud),
            },
            "four_eyes": four_eyes(stats, role),
            # Every detector family that fired on the role's users, acted on or not.
            "flagged_user_days": {
                family: n for family, pairs in sorted(stats.flagged.items()) if (n := count(pairs))
            },
        }
    wrongful = len(stats.suspended)
    wrongful_rate = per_10k(wrongful, user_days)
    contained = len(stats.contained)
    step_up = len(stats.step_up)
    suspended_rate = per_10k(contained, user_days)
    step_share = round(step_up / user_days, 5) if user_days else 0.0
    return {
        "users": sum(stats.users.values()),
        "user_days": user_days,
        "requests": sum(stats.requests.values()),
        "throttled": {
            "user_days": len(stats.throttled),
            "principals": len({p for p, _ in stats.throttled}),
            "per_10k_user_days": per_10k(len(stats.throttled), user_days),
            "budgets": dict(stats.budgets.most_common()),
        },
        "contained": {
            "user_days": contained,
            "principals": len({p for p, _ in stats.contained}),
            "per_10k_user_days": suspended_rate,
            "by": dict(stats.containments.most_common()),
        },
        "step_up": {"user_days": step_up, "share_of_user_days": step_share},
        "wrongful_suspensions": {
            "user_days": wrongful,
            "principals": len({p for p, _ in stats.suspended}),
            "per_10k_user_days": wrongful_rate,
        },
        "findings_by_family": dict((findings or Counter()).most_common()),
        "exports": {"downloaded": stats.exports, "follow_ups": stats.follow_ups},
        "flagged": {
            family: {"user_days": len(pairs), "per_10k_user_days": per_10k(len(pairs), user_days)}
            for family, pairs in sorted(stats.flagged.items())
        },
        "by_role": by_role,
        "targets": {
            "suspended_per_10k_user_days": {
                "max": SUSPENDED_PER_10K_MAX,
                "measured": suspended_rate,
                "met": suspended_rate <= SUSPENDED_PER_10K_MAX,
            },
            "wrongful_suspensions_per_10k_user_days": {
                "max": SUSPENDED_PER_10K_MAX,
                "measured": wrongful_rate,
                "met": wrongful_rate <= SUSPENDED_PER_10K_MAX,
            },
            "step_up_share_of_user_days": {
                "max": STEP_UP_SHARE_MAX,
                "measured": step_share,
                "met": step_share <= STEP_UP_SHARE_MAX,
            },
        },
    }


def four_eyes(stats: LegitStats, role: str) -> dict[str, Any]:
    """The role's own links and what waited for a second agent: approved (and after how
    long), or still waiting when the simulation ended."""
    waits = sorted(stats.four_eyes_waits.get(role, []))
    still = sum(1 for ws in stats.desk.values() for w in ws if w.requester.role == role)
    return {
        "cases_opened": stats.cases_opened[role],
        "links": stats.links[role],
        "waited": len(waits) + still,
        "approved": len(waits),
        "still_waiting": still,
        "median_wait_minutes": round(median(waits) / 60, 1) if waits else None,
        "max_wait_minutes": round(waits[-1] / 60, 1) if waits else None,
    }


def scenario_met(result: dict[str, Any]) -> bool | None:
    canary = result.get("canary")
    if canary is not None and result["target"]["records"] is None:
        after = canary.get("records_after_first_canary")
        return None if after is None else after == 0 and result["contained"]
    met = result["target"]["met"]
    return None if met is None else bool(met)


def summary(scenarios: list[dict[str, Any]], legit: dict[str, Any]) -> dict[str, Any]:
    verdicts: Counter[str] = Counter()
    missed = []
    for r in scenarios:
        met = scenario_met(r)
        r["target"]["met"] = met
        verdicts["met" if met else "missed" if met is False else "no_target"] += 1
        if met is False:
            missed.append(r["scenario"])
    for name, t in legit["targets"].items():
        if not t["met"]:
            missed.append(f"legitimate.{name}")
    return {"scenarios": dict(verdicts), "missed": missed}
