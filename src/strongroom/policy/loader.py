"""Loading a policy file: YAML with marks -> pydantic shape -> cross-reference checks.
Every failure, at any stage, is a `PolicyError` whose problems name file:line:column."""

from __future__ import annotations

import os
from pathlib import Path as FsPath

from pydantic import ValidationError

from strongroom.policy.checks import check
from strongroom.policy.model import Policy
from strongroom.policy.problems import PolicyError, Problem
from strongroom.policy.yaml_source import Source, parse

DEFAULT_POLICY_NAME = "default_policy.yaml"
DEFAULT_POLICY_PATH = FsPath(__file__).with_name(DEFAULT_POLICY_NAME)


def _shape_problems(src: Source, exc: ValidationError) -> list[Problem]:
    out = []
    for err in exc.errors(include_url=False):
        loc = list(err["loc"])
        key = bool(loc) and loc[-1] == "[key]"
        if key:
            loc.pop()
        path = tuple(loc)
        where = ".".join(str(p) for p in path) or "(top)"
        if err["type"] == "extra_forbidden":
            out.append(src.problem(path, f"{where}: unknown key {path[-1]!r}", key=True))
        elif err["type"] == "missing":
            out.append(src.problem(path, f"{where}: required key {path[-1]!r} is missing"))
        else:
            out.append(src.problem(path, f"{where}: {err['msg']}", key=key))
    return out


def load_policy_text(text: str, file: str = "<policy>") -> Policy:
    src = parse(text, file)
    if not isinstance(src.data, dict):
        raise PolicyError([src.problem((), "a policy file is a mapping at the top level")])
    try:
        policy = Policy.model_validate(src.data)
    except ValidationError as exc:
        raise PolicyError(_shape_problems(src, exc)) from exc
    problems = check(policy, src)
    if problems:
        raise PolicyError(problems)
    return policy


def load_policy(path: str | os.PathLike[str]) -> Policy:
    p = FsPath(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError([Problem(str(p), 1, 1, f"cannot read policy file: {exc}")]) from exc
    return load_policy_text(text, str(p))


def default_policy_text() -> str:
    return DEFAULT_POLICY_PATH.read_text(encoding="utf-8")


def load_default_policy() -> Policy:
    return load_policy_text(default_policy_text(), f"strongroom/policy/{DEFAULT_POLICY_NAME}")
