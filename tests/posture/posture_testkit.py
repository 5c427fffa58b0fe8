"""Test kit for the posture tests: a small real deployment (home folder, seeded registry,
one principal per staff role), the real app's OpenAPI document, and SARIF shape checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strongroom.clock import FakeClock
from strongroom.config import Home

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "weak"


@dataclass
class Deployment:
    home: Home
    service: Any
    app: Any
    fixtures: dict[str, Any]
    principals: dict[str, str]
    clock: FakeClock

    def token(self, role: str, **claims: Any) -> str:
        return self.service.issue_demo_token(role=role, subject=self.principals[role],
                                             **claims)


def build_deployment(path: Path, *, persons: int = 200, policy_text: str | None = None,
                     clock: FakeClock | None = None) -> Deployment:
    from strongroom.api.app import create_app
    from strongroom.cli.demo import create_demo_principals
    from strongroom.cli.seeding import seed_home
    from strongroom.service import Service, initialize

    home = Home(path)
    initialize(home)
    if policy_text is not None:
        home.policy_path.write_text(policy_text, encoding="utf-8")
    report = seed_home(home, persons=persons, seed=11)
    clock = clock or FakeClock()
    service = Service(home, clock=clock)
    principals = create_demo_principals(service, report.fixtures)
    return Deployment(home, service, create_app(service), report.fixtures, principals, clock)


def line_of(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def check_sarif(doc: dict[str, Any]) -> None:
    """The SARIF 2.1.0 members a consumer relies on, with their types."""
    assert doc["version"] == "2.1.0"
    assert "sarif-2.1.0" in doc["$schema"]
    assert isinstance(doc["runs"], list) and len(doc["runs"]) == 1
    run = doc["runs"][0]
    driver = run["tool"]["driver"]
    assert isinstance(driver["name"], str) and driver["name"]
    ids = [r["id"] for r in driver["rules"]]
    assert len(ids) == len(set(ids))
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in {"error", "warning", "note"}
    for result in run["results"]:
        assert result["ruleId"] in ids
        assert ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in {"error", "warning", "note"}
        assert isinstance(result["message"]["text"], str) and result["message"]["text"]
        loc = result["locations"][0]["physicalLocation"]
        assert isinstance(loc["artifactLocation"]["uri"], str)
        assert isinstance(loc["region"]["startLine"], int) and loc["region"]["startLine"] >= 1
