"""RFC 9396: Rich Authorization Requests. Strongroom knows one type, `strongroom_purpose`:
the task a token is for (purpose, optional case and justification), checked against the
role's purposes from the policy. Scopes say what; the purpose says why.
"""

from __future__ import annotations

import json
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidRequestError

from strongroom.auth.rfc9068 import PURPOSE_DETAIL_TYPE
from strongroom.auth.role_grants import RoleGrant

_ALLOWED = {"type", "purpose", "case", "justification"}
MAX_TEXT = 500


class InvalidAuthorizationDetails(InvalidRequestError):  # noqa: N818 - RFC 9396 §5 name
    error = "invalid_authorization_details"


def parse(raw: str | list[Any] | None) -> dict[str, Any] | None:
    """The one `strongroom_purpose` detail in the request, or None if none was sent."""
    if raw is None or raw == "":
        return None
    try:
        details = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise InvalidAuthorizationDetails("authorization_details is not JSON") from exc
    if not isinstance(details, list) or len(details) != 1 or not isinstance(details[0], dict):
        raise InvalidAuthorizationDetails("exactly one authorization detail expected")
    detail = details[0]
    if detail.get("type") != PURPOSE_DETAIL_TYPE:
        raise InvalidAuthorizationDetails(
            f"unknown authorization detail type (only {PURPOSE_DETAIL_TYPE})"
        )
    unknown = set(detail) - _ALLOWED
    if unknown:
        raise InvalidAuthorizationDetails("unknown fields: " + ", ".join(sorted(unknown)))
    for key in ("purpose", "case", "justification"):
        value = detail.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_TEXT):
            raise InvalidAuthorizationDetails(f"{key} must be a short string")
    return detail


def resolve(detail: dict[str, Any] | None, grant: RoleGrant) -> dict[str, Any]:
    """Fill in the role's default purpose and refuse a purpose the role does not have."""
    out = dict(detail or {"type": PURPOSE_DETAIL_TYPE})
    out.setdefault("purpose", grant.default_purpose)
    if out.get("purpose") is None:
        raise InvalidAuthorizationDetails(f"role {grant.role} needs an explicit purpose")
    if grant.purposes and out["purpose"] not in grant.purposes:
        raise InvalidAuthorizationDetails(f"purpose not allowed for role {grant.role}")
    return out
