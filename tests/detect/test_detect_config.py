from pathlib import Path

import pytest
import yaml

from strongroom.detect import DetectConfig, DetectConfigError

POLICY = Path(__file__).parents[2] / "src/strongroom/policy/default_policy.yaml"


def test_defaults_follow_the_roles() -> None:
    c = DetectConfig()
    assert c.role("police").daily_subjects > c.role("owner").daily_subjects
    assert c.role("dealer").work_hours is not None
    assert c.role("police").work_hours is None  # on duty around the clock
    assert [r.action for r in c.responses][0] == "alert"
    assert c.role("unknown-role").records_per_minute > 0


def test_the_shipped_policy_section_is_accepted() -> None:
    pol = yaml.safe_load(POLICY.read_text())
    c = DetectConfig.from_policy_section(pol["detectors"], pol["responses"])
    assert c.detector("peer").shadow is False  # policy name peer_deviation is an alias
    assert c.role("dealer").records_per_minute == 10
    assert c.role("prefecture").daily_subjects == 15
    throttle = next(r for r in c.responses if r.action == "throttle")
    assert throttle.factor == 0.25 and throttle.threshold == 50


def test_responses_as_a_list_with_min_risk() -> None:
    c = DetectConfig.from_policy_section(
        {},
        [
            {"action": "suspend_principal", "min_risk": 80},
            {"action": "alert", "min_risk": 20, "shadow": True},
        ],
    )
    assert [(r.action, r.threshold, r.shadow) for r in c.responses] == [
        ("alert", 20, True),
        ("suspend_principal", 80, False),
    ]


def test_disabled_rung_is_left_out() -> None:
    c = DetectConfig.from_policy_section(
        {}, {"alert": {"threshold": 10}, "throttle": {"threshold": 20, "enabled": False}}
    )
    assert [r.action for r in c.responses] == ["alert"]


@pytest.mark.parametrize(
    ("detectors", "responses", "path"),
    [
        ({"velocty": {}}, None, "detectors.velocty"),
        ({"velocity": {"params": {"ceiling": 3}}}, None, "detectors.velocity.params.ceiling"),
        ({"breadth": {"shadw": True}}, None, "detectors.breadth"),
        ({"breadth": {"shadow": "yes"}}, None, "detectors.breadth.shadow"),
        (
            {"velocity": {"params": {"human_ceiling_records_per_minute": {"police": -1}}}},
            None,
            "detectors.velocity.params.human_ceiling_records_per_minute.police",
        ),
        ({}, {"nuke": {"threshold": 1}}, "responses.nuke"),
        ({}, {"alert": {"treshold": 1}}, "responses.alert"),
        ({}, {"alert": {"threshold": 101}}, "responses.alert.threshold"),
        (
            {},
            {"throttle": {"threshold": 5, "params": {"factor": 2}}},
            "responses.throttle.params.factor",
        ),
        ({}, [{"action": "alert", "extra": 1}], "responses[0]"),
    ],
)
def test_unknown_or_bad_keys_are_refused_with_their_path(
    detectors: dict, responses: object, path: str
) -> None:
    with pytest.raises(DetectConfigError) as err:
        DetectConfig.from_policy_section(detectors, responses)  # type: ignore[arg-type]
    assert str(err.value).startswith(path + ":")
