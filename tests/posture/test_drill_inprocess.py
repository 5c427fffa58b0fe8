"""The drill against the real app in process (a seeded deployment behind TestClient): the
default deployment stops every strategy well before 100 records, by a named layer; a
weakened one does not stop it; a service account logs in with private_key_jwt and DPoP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import ECKey

from strongroom.policy import default_policy_text, load_policy
from strongroom.posture.drill import DrillConfig, run_drill
from strongroom.posture.drill_client import ClientKey
from tests.deployment import build_deployment

URL = "http://127.0.0.1:8000"


def _http(dep) -> TestClient:
    return TestClient(dep.app, base_url=URL, raise_server_exceptions=False)


def _fresh_police(dep) -> str:
    pid = dep.service.admin.add_principal(role="police", label="drill")
    return dep.service.token_issuer.issue(role="police", subject=pid)


def _drill(dep, strategy: str, tokens: list[str], **kw):
    sleep = kw.pop("sleep", None) or (lambda s: dep.clock.advance(s))
    config = DrillConfig(url=URL, strategy=strategy, seed=3, **kw)
    with _http(dep) as http:
        return run_drill(config, tokens=tokens, http=http, clock=dep.clock, sleep=sleep)


@pytest.mark.parametrize("strategy", ["enumerate", "name-sweep"])
def test_default_deployment_stops_the_drill(deployment, strategy) -> None:
    report = _drill(deployment, strategy, [_fresh_police(deployment)], max_requests=400)
    assert report.stopped and report.ended_by == "all_stopped"
    stop = report.first_stop
    assert stop.layer in {"budget", "detector"} and stop.name
    # 429 from a budget, 403 `contained` or 401 step-up from the response ladder
    assert (stop.status, stop.layer) in {(429, "budget"), (403, "detector"), (401, "detector")}
    assert report.records < 100 and stop.after_requests < 400
    json.dumps(report.to_dict())  # the --json output is serializable


def test_budget_stop_names_the_budget(tmp_path: Path) -> None:
    # With the detectors off, the budgets alone must stop the sweep, and say which one.
    dep = build_deployment(
        tmp_path / "nodetect", persons=100, policy_text=_weakened_policy(keep_budgets=True)
    )
    try:
        report = _drill(dep, "name-sweep", [dep.token("police")], max_requests=400)
    finally:
        dep.service.close()
    stop = report.first_stop
    assert stop.outcome == "throttled" and stop.status == 429 and stop.layer == "budget"
    assert stop.name in {b.name for b in load_policy(dep.home.policy_path).budgets}
    assert stop.after_requests <= 61  # principal_requests_minute: 60 a minute


def test_postcode_sweep_is_refused_by_the_api_shape(deployment) -> None:
    report = _drill(deployment, "postcode-sweep", [_fresh_police(deployment)], max_requests=100)
    assert report.records == 0
    assert report.first_stop.layer == "api" and report.first_stop.status == 400
    assert report.statuses == {"400": report.requests}


def test_multi_account_stops_every_account(deployment) -> None:
    tokens = [_fresh_police(deployment) for _ in range(3)]
    report = _drill(deployment, "multi-account", tokens, max_requests=600)
    assert len(report.accounts) == 3
    assert report.stopped and all(a.requests > 0 for a in report.accounts)
    assert report.records < 100


def test_slow_harvest_runs_on_simulated_time(deployment) -> None:
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        deployment.clock.advance(s)

    report = _drill(
        deployment,
        "slow-harvest",
        [_fresh_police(deployment)],
        pace=2.0,
        max_requests=120,
        sleep=sleep,
    )
    # Paced under the per-minute request budget: every sleep is the pace, and time
    # measured by the drill is the simulated time slept.
    assert slept and set(slept) == {2.0}
    assert report.seconds == pytest.approx(2.0 * len(slept))
    assert report.records < 100
    assert report.statuses.get("429", 0) <= 1


def test_max_seconds_bounds_the_run(deployment) -> None:
    report = _drill(
        deployment,
        "enumerate",
        [_fresh_police(deployment)],
        pace=10.0,
        max_seconds=50,
        max_requests=1000,
    )
    assert report.ended_by in {"max_seconds", "all_stopped"}
    assert report.requests <= 6


def test_service_account_with_private_key_jwt_and_dpop(deployment) -> None:
    key = ECKey.generate_key("P-256", auto_kid=True)
    principal = deployment.service.admin.add_principal(role="police", label="svc drill")
    deployment.service.authorization_server.clients.register(
        "drill-svc",
        public=False,
        grant_types=["client_credentials"],
        jwks={"keys": [key.as_dict(private=False)]},
        service_principal_id=principal,
    )
    creds = ClientKey("drill-svc", key.as_dict(private=True))
    config = DrillConfig(url=URL, strategy="enumerate", max_requests=10, seed=1)
    with _http(deployment) as http:
        report = run_drill(config, client_keys=[creds], http=http, clock=deployment.clock)
    assert report.requests == 10
    assert "401" not in report.statuses, report.refusals  # DPoP proofs were accepted


def test_client_key_file(tmp_path: Path) -> None:
    key = ECKey.generate_key("P-256", auto_kid=True)
    path = tmp_path / "key.json"
    path.write_text(json.dumps(key.as_dict(private=True)), encoding="utf-8")
    assert ClientKey.from_file("c", path).jwk["d"]
    path.write_text(json.dumps(key.as_dict(private=False)), encoding="utf-8")
    with pytest.raises(Exception, match="not a private JWK"):
        ClientKey.from_file("c", path)


def _weakened_policy(*, keep_budgets: bool = False) -> str:
    """The default policy with its extraction defences off: no budgets, detectors and
    responses disabled (what examples/weak/ plants, in a form the service accepts)."""
    text = default_policy_text()
    head, _, rest = text.partition("\nbudgets:")
    budgets, _, tail = rest.partition("\ndetectors:")
    if keep_budgets:
        head += "\nbudgets:" + budgets
    detectors = "\ndetectors:\n" + "".join(
        f"  {d}: {{enabled: false}}\n"
        for d in (
            "velocity",
            "enumeration",
            "breadth",
            "peer_deviation",
            "coordination",
            "honey_records",
        )
    )
    _, _, after = tail.partition("\nresponses:")
    _, _, exports = after.partition("\nexports:")
    budgets_part = "" if keep_budgets else "\nbudgets: []\n"
    return head + budgets_part + detectors + "\nresponses: {}\n\nexports:" + exports


def test_weakened_deployment_does_not_stop_the_drill(tmp_path: Path) -> None:
    dep = build_deployment(tmp_path / "weak", persons=100, policy_text=_weakened_policy())
    try:
        report = _drill(dep, "name-sweep", [dep.token("police")], max_requests=300)
        assert not report.stopped and report.ended_by == "max_requests"
        assert report.requests == 300 and "429" not in report.statuses
    finally:
        dep.service.close()
