from pathlib import Path

import pytest
import yaml

from strongroom.detect import DetectConfig, DetectConfigError, RoleProfile
from strongroom.detect.config import FALLBACK_ROLE

POLICY = Path(__file__).parents[2] / "src/strongroom/policy/default_policy.yaml"


def shipped() -> DetectConfig:
    pol = yaml.safe_load(POLICY.read_text())
    return DetectConfig.from_policy_section(pol["detectors"], pol["responses"])


def test_without_a_policy_every_role_gets_the_neutral_fallback() -> None:
    c = DetectConfig()
    assert c.roles == {}
    assert c.role("police") == c.role("unknown-role") == FALLBACK_ROLE
    assert FALLBACK_ROLE.records_per_minute > 0 and FALLBACK_ROLE.daily_subjects > 0
    assert FALLBACK_ROLE.work_hours is None
    assert [r.action for r in c.responses][0] == "alert"


def test_the_shipped_policy_section_is_accepted() -> None:
    c = shipped()
    assert c.detector("peer").shadow is False  # policy name peer_deviation is an alias
    assert c.role("dealer").records_per_minute == 10
    assert c.role("prefecture").daily_subjects == 15
    throttle = next(r for r in c.responses if r.action == "throttle")
    assert throttle.factor == 0.25 and throttle.threshold == 50


def test_the_shipped_policy_declares_every_role() -> None:
    # The figures the code held as defaults before roles moved to the policy, merged with
    # the policy's own: unchanged behaviour under the shipped policy.
    assert shipped().roles == {
        "police": RoleProfile(20, 12),
        "dealer": RoleProfile(10, 10, (7, 21)),
        "prefecture": RoleProfile(20, 15, (7, 20)),
        "owner": RoleProfile(10, 3),
        "auditor": RoleProfile(30, 50, (7, 20)),
        "admin": RoleProfile(30, 20),
    }


def test_a_role_given_some_figures_takes_the_rest_from_the_fallback() -> None:
    c = DetectConfig.from_policy_section(
        {
            "breadth": {"params": {"daily_subjects_baseline": {"armourer": 25}}},
            "context": {"params": {"work_hours": {"armourer": [8, 18], "police": None}}},
        },
        None,
    )
    assert c.role("armourer") == RoleProfile(FALLBACK_ROLE.records_per_minute, 25, (8, 18))
    assert c.role("police") == FALLBACK_ROLE


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
        ({"peers": {"params": {"z": 3}}}, None, "detectors.peers.params.z"),
        (
            {"context": {"params": {"work_hours": {"dealer": [7]}}}},
            None,
            "detectors.context.params.work_hours.dealer",
        ),
        (
            {"breadth": {"params": {"daily_subjects_baseline": 12}}},
            None,
            "detectors.breadth.params.daily_subjects_baseline",
        ),
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
