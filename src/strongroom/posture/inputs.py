"""What the audit reads: a policy file, an OpenAPI document, optionally a deployment file
and a home's config.toml (read leniently: only the keys the rules look at).

The policy is loaded leniently. `load_policy` refuses a file with cross-reference errors
(a masked field left filterable, a staff role without MFA), but an audit must still report
on such a file, so here the YAML is parsed with its line marks and shape-checked, and the
cross-reference problems become findings instead of an exception. Only a file whose shape
is wrong (so no rule can read it) stops the policy rules.

OpenAPI documents are JSON or YAML, from a file or from a loopback URL (`targets.py`); they
are parsed with the same line-marking parser, so a finding carries both a JSON pointer
(RFC 6901) and a line.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from pydantic import ValidationError

from strongroom.errors import BadRequest
from strongroom.policy.checks import check
from strongroom.policy.model import Policy
from strongroom.policy.problems import PolicyError, Problem
from strongroom.policy.yaml_source import Path, Source, parse
from strongroom.posture.deployment import Deployment, load_deployment, shape_problems
from strongroom.posture.findings import Location
from strongroom.posture.targets import check_target

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


@dataclass
class AuditInput:
    policy_uri: str
    policy: Policy | None
    policy_src: Source | None
    openapi_uri: str
    openapi: dict[str, Any]
    openapi_src: Source | None
    deployment_uri: str | None = None
    deployment: Deployment | None = None
    deployment_src: Source | None = None
    policy_errors: list[Problem] = field(default_factory=list)  # shape: rules cannot run
    policy_problems: list[Problem] = field(default_factory=list)  # cross references
    config_uri: str | None = None
    config: dict[str, Any] | None = None
    config_text: str = ""

    def config_at(self, key: str) -> Location:
        uri = self.config_uri or "config.toml"
        for i, line in enumerate(self.config_text.splitlines(), start=1):
            name, eq, _ = line.partition("=")
            if eq and name.strip() == key:
                return Location(uri, i, 1)
        return Location(uri, 1, 1)

    def policy_at(self, path: Path, *, key: bool = False) -> Location:
        if self.policy_src is None:
            return Location(self.policy_uri)
        line, col = self.policy_src.where(path, key=key)
        return Location(self.policy_uri, line, col)

    def openapi_at(self, path: Path) -> Location:
        line, col = self.openapi_src.where(path) if self.openapi_src is not None else (1, 1)
        return Location(self.openapi_uri, line, col, pointer=json_pointer(path))

    def deployment_at(self, path: Path) -> Location:
        if self.deployment_src is None or self.deployment_uri is None:
            return Location(self.deployment_uri or "deployment.yaml")
        line, col = self.deployment_src.where(path)
        return Location(self.deployment_uri, line, col)


def json_pointer(path: Path) -> str:
    """RFC 6901: `~` becomes `~0`, `/` becomes `~1`."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def read_policy(
    text: str, uri: str
) -> tuple[Policy | None, Source | None, list[Problem], list[Problem]]:
    """(policy, marks, shape errors, cross-reference problems), never raising on content."""
    try:
        src = parse(text, uri)
    except PolicyError as exc:
        return None, None, list(exc.problems), []
    if not isinstance(src.data, dict):
        return None, src, [src.problem((), "a policy file is a mapping at the top level")], []
    try:
        policy = Policy.model_validate(src.data)
    except ValidationError as exc:
        return None, src, shape_problems(src, exc), []
    return policy, src, [], check(policy, src)


def read_openapi(text: str, uri: str) -> tuple[dict[str, Any], Source | None]:
    try:
        src = parse(text, uri)
        data = src.data
    except PolicyError:
        src = None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise BadRequest(f"{uri}: not a JSON or YAML OpenAPI document") from exc
    if not isinstance(data, dict) or "paths" not in data:
        raise BadRequest(f"{uri}: not an OpenAPI document (no 'paths')")
    return data, src


def fetch_text(url: str, *, allow_remote: bool = False, timeout: float = 10.0) -> str:
    import httpx

    check_target(url, allow_remote=allow_remote)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise BadRequest(f"cannot fetch {url}: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise BadRequest(f"cannot fetch {url}: HTTP {response.status_code}")
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise BadRequest(f"{url}: document larger than {MAX_DOCUMENT_BYTES} bytes")
    return response.text


def _read_file(path: str, what: str) -> str:
    try:
        return FsPath(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadRequest(f"cannot read {what} {path}: {exc}") from exc


def load_audit_input(
    policy: str,
    openapi: str | dict[str, Any],
    *,
    deployment: str | None = None,
    config: str | None = None,
    allow_remote: bool = False,
    openapi_uri: str = "openapi.json",
) -> AuditInput:
    """Read every input. `openapi` is a file path, an http(s) URL, or an already built
    document (e.g. `app.openapi()`), which is rendered as indented JSON for line marks."""
    pol, psrc, errors, problems = read_policy(_read_file(policy, "policy file"), policy)
    if isinstance(openapi, dict):
        uri, text = openapi_uri, json.dumps(openapi, indent=2)
    elif openapi.startswith(("http://", "https://")):
        uri, text = openapi, fetch_text(openapi, allow_remote=allow_remote)
    else:
        uri, text = openapi, _read_file(openapi, "OpenAPI document")
    doc, osrc = read_openapi(text, uri)
    dep = dsrc = None
    if deployment is not None:
        dep, dsrc = load_deployment(deployment)
    conf: dict[str, Any] | None = None
    conf_text = ""
    if config is not None:
        conf_text = _read_file(config, "config file")
        try:
            conf = tomllib.loads(conf_text)
        except tomllib.TOMLDecodeError as exc:
            raise BadRequest(f"{config}: {exc}") from exc
    return AuditInput(
        policy_uri=policy,
        policy=pol,
        policy_src=psrc,
        openapi_uri=uri,
        openapi=doc,
        openapi_src=osrc,
        deployment_uri=deployment,
        deployment=dep,
        deployment_src=dsrc,
        policy_errors=errors,
        policy_problems=problems,
        config_uri=config,
        config=conf,
        config_text=conf_text,
    )
