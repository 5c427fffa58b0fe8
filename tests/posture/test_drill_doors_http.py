"""The owner's, auditor's and administrator's doors against a real server and against its
baseline (the same home served with budgets and detectors off). A stolen owner token reads
its one record again and again, an administrator's the staff directory and what hangs off
it: budgets and detectors stop both well before the baseline does. A stolen auditor token
investigates every principal and subject the answers name, and gets no PII value with or
without defences, although the baseline answered every route it tried."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from strongroom.cli.seeding import seed_home
from strongroom.compose import compose
from strongroom.config import Home
from strongroom.initialize import initialize
from strongroom.posture.drill import DrillConfig, DrillReport, run_drill
from tests.posture.drill_testkit import leak
from tests.served import served

pytestmark = pytest.mark.slow

SEED = 7
STAFF = 40  # the directory an administrator's token reads
AUDITOR_ROUTES = {
    "alerts",
    "reviews",
    "checkpoint",
    "verification",
    "activity",
    "investigate",
    "proof",
    "breach",
}


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = Home(tmp_path_factory.mktemp("doors") / "home")
    initialize(home)
    fixtures = seed_home(home, persons=300, seed=SEED).fixtures
    svc = compose(home)
    try:
        issue = svc.token_issuer.issue
        police = svc.admin.add_principal(role="police", label="patrol")
        for i in range(STAFF):
            svc.admin.add_principal(role="police", label=f"officer {i}")
        tokens = {
            "police": issue(role="police", subject=police, lifetime=3600),
            "owner": issue(role="owner", subject=fixtures["owner_id"], lifetime=3600),
            "auditor": issue(
                role="auditor",
                subject=svc.admin.add_principal(role="auditor", label="dpo"),
                lifetime=3600,
            ),
            "admin": issue(
                role="admin",
                subject=svc.admin.add_principal(role="admin", label="ops"),
                lifetime=3600,
            ),
        }
        triples, identities = leak(svc, SEED)
    finally:
        svc.close()
    with served(home) as url:
        # A patrol's searches of people it had heard of: the journal the auditor reads.
        patrol = run_drill(
            DrillConfig(url=url, strategy="police-search", max_requests=40, seed=1),
            tokens=[tokens["police"]],
            known=identities[:40],
        )
        assert patrol.records > 0, patrol.to_dict()
        yield {
            "home": home,
            "url": url,
            "tokens": tokens,
            "known": [*triples[:60], *identities[:60]],
        }


def _drill(target: dict[str, Any], role: str, max_requests: int) -> DrillReport:
    report = run_drill(
        DrillConfig(
            url=target["url"], strategy=role, max_requests=max_requests, max_seconds=120, seed=1
        ),
        tokens=[target["tokens"][role]],
        known=target["known"],
        baseline_home=target["home"],
    )
    assert report.baseline is not None
    return report


def test_a_stolen_owner_token_reads_its_record_until_stopped(target: dict[str, Any]) -> None:
    report = _drill(target, "owner", 150)
    base = report.baseline
    assert base is not None
    # Without defences the record is read until the drill's own bound; one person.
    assert base.ended_by == "max_requests" and not base.stopped, base.to_dict()
    assert base.records >= 60 and base.subjects == 1
    # Every staff door was tried with the record's own values, and refused.
    assert base.refusals.get("403 role_not_allowed", 0) >= 4
    # Its filing door let the request in and refused the kind: nothing was filed.
    assert base.refusals.get("400 invalid_case_kind") == 1
    stop = report.first_stop
    assert stop is not None and stop.layer in {"budget", "detector"}, report.to_dict()
    assert report.records < base.records


def test_a_stolen_auditor_token_gets_no_pii_with_or_without_defences(
    target: dict[str, Any],
) -> None:
    report = _drill(target, "auditor", 300)
    base = report.baseline
    assert base is not None
    # The baseline answered every route the auditor's scopes allow: the strategy read the
    # journal and investigated what it named (the patrol, the subjects it searched)...
    assert set(base.answered) >= AUDITOR_ROUTES, base.to_dict()
    assert base.answered["investigate"] >= 10 and base.statuses["200"] >= 30
    assert report.statuses.get("200", 0) > 0
    # ... and no answer carried a PII value, nor any value of the attacker's list.
    assert base.records == 0 and report.records == 0
    assert base.by_kind == {} and report.by_kind == {}


def test_a_stolen_admin_token_reads_the_directory_until_stopped(target: dict[str, Any]) -> None:
    report = _drill(target, "admin", 200)
    base = report.baseline
    assert base is not None
    assert base.ended_by == "max_requests" and not base.stopped, base.to_dict()
    assert base.answered["budgets"] >= STAFF and base.answered["principals"] >= 2
    assert base.records >= 2 * STAFF
    stop = report.first_stop
    assert stop is not None and stop.layer in {"budget", "detector"}, report.to_dict()
    assert report.records < base.records
