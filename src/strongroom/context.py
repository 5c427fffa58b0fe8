"""Who is asking, and for what: the request context the auth layer builds and the gate
consumes. Kept in a low module so neither layer reaches into the other. Roles are the
policy's (`policy.yaml`), not this module's."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

# The ID of the HTTP request being served (api/observe.py sets it; worker threads inherit
# it, as anyio copies the context). Journal entries and log lines carry it, so an operator
# can go from a log line to the journal entry of the same request and back.
REQUEST_ID: ContextVar[str | None] = ContextVar("strongroom_request_id", default=None)


@dataclass(frozen=True)
class Caller:
    """An authenticated principal with the task its token was granted for.

    `principal_id` is the staff principal's public ID, or the owner's subject ID for the
    owner role. `purpose` and `case` come from the token (RFC 9396 authorization_details
    or the demo token's claims), never from the request body.
    """

    principal_id: str
    role: str
    scopes: frozenset[str] = frozenset()
    purpose: str | None = None
    case: str | None = None
    justification: str | None = None
    departement: str | None = None
    dealer_id: str | None = None
    session_id: str | None = None
    client_id: str | None = None
    token_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    acr: str | None = None
    auth_time: float | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def unit(self) -> str:
        """The unit a staff caller works for, which owns its cases: its role and
        département (`prefecture:75`, `police:13`); without a département, national."""
        return f"{self.role}:{self.departement or 'national'}"
