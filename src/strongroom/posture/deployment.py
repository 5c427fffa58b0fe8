"""`deployment.yaml`: what the policy file cannot say about a deployment, for the audit.

The policy holds who sees what; the token and client settings of the authorization server
in front of the API live elsewhere (the embedded server's defaults, or an external OIDC
provider such as Keycloak). This small file describes them so the audit can check them:

    version: 1
    auth:
      access_token_lifetime_seconds: 300     # the longest access token the AS issues
      refresh_token_lifetime_seconds: 28800  # absolute lifetime of a refresh token
      clients:
        - client_id: strongroom-console
          public: true                       # a browser or CLI: no secret it can keep
          grant_types: [authorization_code, refresh_token]
          rotate_refresh_tokens: true        # single-use refresh tokens, reuse detected
          sender_constraint: dpop            # dpop (RFC 9449) | mtls (RFC 8705) | none

Every key is optional except `version`; unknown keys are errors (a typo must not silently
switch a check off). Errors name file:line:column like the policy loader's.
"""

from __future__ import annotations

import os
from pathlib import Path as FsPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from strongroom.policy.problems import PolicyError, Problem
from strongroom.policy.yaml_source import Source, parse

Grant = Literal[
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "implicit",
    "password",
    "urn:ietf:params:oauth:grant-type:device_code",
]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClientSpec(_Spec):
    client_id: StrictStr = Field(min_length=1)
    public: StrictBool
    grant_types: list[Grant] = ["authorization_code", "refresh_token"]
    rotate_refresh_tokens: StrictBool = True
    sender_constraint: Literal["dpop", "mtls", "none"] = "dpop"


class AuthSpec(_Spec):
    access_token_lifetime_seconds: StrictInt | None = Field(None, ge=1)
    refresh_token_lifetime_seconds: StrictInt | None = Field(None, ge=1)
    clients: list[ClientSpec] = []


class Deployment(_Spec):
    version: Literal[1]
    auth: AuthSpec = AuthSpec()


def load_deployment(path: str | os.PathLike[str]) -> tuple[Deployment, Source]:
    """Parse and validate a deployment file; `PolicyError` (located problems) if invalid."""
    p = FsPath(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError([Problem(str(p), 1, 1, f"cannot read deployment file: {exc}")]) from exc
    src = parse(text, str(p))
    try:
        return Deployment.model_validate(src.data), src
    except ValidationError as exc:
        raise PolicyError(shape_problems(src, exc)) from exc


def shape_problems(src: Source, exc: ValidationError) -> list[Problem]:
    """pydantic errors, each located at its node (or the nearest parent that exists)."""
    out = []
    for err in exc.errors(include_url=False):
        path = tuple(p for p in err["loc"] if p != "[key]")
        where = ".".join(str(x) for x in path) or "(top)"
        out.append(src.problem(path, f"{where}: {err['msg']}"))
    return out
