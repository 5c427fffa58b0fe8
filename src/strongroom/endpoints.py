"""Every HTTP endpoint the registry serves, declared once.

An `Endpoint` names a route for both sides: the router mounts it at `method` + `path`, and
the gate looks it up in the policy by `id` (`"GET /v1/persons/{id}"`), which is also the
name the journal records. The path's parameters are named as the policy names them, so
the route, the policy and the journal cannot disagree (a test compares this table with the
shipped policy and with the application's routes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    def __str__(self) -> str:
        return self.id


# --- registry tasks -----------------------------------------------------------------------
ME = Endpoint("GET", "/v1/me")
ME_ACCESSES = Endpoint("GET", "/v1/me/accesses")
ME_REQUEST = Endpoint("POST", "/v1/me/requests")
VERIFY = Endpoint("POST", "/v1/permits/verify")
SALE = Endpoint("POST", "/v1/sales")
LEDGER = Endpoint("GET", "/v1/ledger")
# The serial travels in the body, never in the path: paths end up in logs.
WEAPON = Endpoint("POST", "/v1/weapons/lookup")
SEARCH = Endpoint("POST", "/v1/persons/search")
PERSON = Endpoint("GET", "/v1/persons/{id}")

# --- cases --------------------------------------------------------------------------------
CASE_OPEN = Endpoint("POST", "/v1/cases")
CASE_LIST = Endpoint("GET", "/v1/cases")
CASE_LINK = Endpoint("POST", "/v1/cases/{id}/subjects")
CASE_APPROVE_LINK = Endpoint("POST", "/v1/cases/{id}/subjects/{subject}/approve")
CASE_REJECT_LINK = Endpoint("POST", "/v1/cases/{id}/subjects/{subject}/reject")
# The links of the caller's unit that wait for a second agent (four eyes).
CASE_PENDING_LINKS = Endpoint("GET", "/v1/cases/pending-links")
CASE_CLOSE = Endpoint("POST", "/v1/cases/{id}/close")

# --- audit and investigations -------------------------------------------------------------
CHECKPOINT = Endpoint("GET", "/v1/journal/checkpoint")
INCLUSION = Endpoint("GET", "/v1/journal/proof/inclusion")
CONSISTENCY = Endpoint("GET", "/v1/journal/proof/consistency")
VERIFICATION = Endpoint("GET", "/v1/journal/verification")
VERIFY_JOURNAL = Endpoint("POST", "/v1/journal/verification")
INVESTIGATE_PRINCIPAL = Endpoint("GET", "/v1/investigations/principals/{id}")
INVESTIGATE_SUBJECT = Endpoint("GET", "/v1/investigations/subjects/{id}")
BREACH = Endpoint("POST", "/v1/investigations/breach")
REVIEWS = Endpoint("GET", "/v1/reviews")
ALERTS = Endpoint("GET", "/v1/alerts")
ACTIVITY = Endpoint("GET", "/v1/activity")
DECIDE_REVIEW = Endpoint("POST", "/v1/reviews/{id}/decision")
# Every unit's four-eyes queue of case links, for oversight: read only.
CASE_LINK_OVERSIGHT = Endpoint("GET", "/v1/reviews/case-links")

# --- administration -----------------------------------------------------------------------
CONTAINMENTS = Endpoint("GET", "/v1/containments")
LIFT_CONTAINMENT = Endpoint("POST", "/v1/containments/{id}/lift")
# Four eyes: a second administrator approves the lift of a honey read's containment.
APPROVE_LIFT = Endpoint("POST", "/v1/containments/{id}/approve")
REVOKE_PRINCIPAL = Endpoint("POST", "/v1/principals/{id}/revoke")
PRINCIPALS = Endpoint("GET", "/v1/principals")
END_SESSION = Endpoint("POST", "/v1/sessions/{id}/end")
BUDGET_STATE = Endpoint("GET", "/v1/budgets/{principal}")

# --- exports ------------------------------------------------------------------------------
EXPORT_REQUEST = Endpoint("POST", "/v1/exports")
EXPORT_LIST = Endpoint("GET", "/v1/exports")
EXPORT_QUEUE = Endpoint("GET", "/v1/exports/queue")
EXPORT_APPROVE = Endpoint("POST", "/v1/exports/{id}/approve")
EXPORT_REJECT = Endpoint("POST", "/v1/exports/{id}/reject")
EXPORT_DOWNLOAD = Endpoint("GET", "/v1/exports/{id}/download")

ALL: tuple[Endpoint, ...] = tuple(v for v in list(globals().values()) if isinstance(v, Endpoint))

# Routes kept only to say where their successor is (410), outside the policy.
WEAPON_BY_PATH = Endpoint("GET", "/v1/weapons/{serial}")
RETIRED: tuple[Endpoint, ...] = (WEAPON_BY_PATH,)

BY_ROUTE: dict[tuple[str, str], Endpoint] = {(e.method, e.path): e for e in ALL + RETIRED}
_PATTERNS = [
    (e, re.compile("^" + re.sub(r"\\{[a-z_]+\\}", "[^/]+", re.escape(e.path)) + "$"))
    for e in ALL + RETIRED
]


def name_of(method: str, path: str) -> str:
    """The name a request is journaled under before it is routed (the door, admission):
    its endpoint's, whose path is a template, so no ID or serial from the URL is kept."""
    for endpoint, pattern in _PATTERNS:
        if endpoint.method == method and pattern.match(path):
            return endpoint.id
    return f"{method} (unrouted)"
