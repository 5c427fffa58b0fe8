"""The typed shape of a policy file (pydantic 2). Shape only: cross references (unknown
role, purpose or field; rules beyond need; filterable masked fields) are checked in
`checks.py`, where every error can be located.

Field names are `category.name` (`identity.family_name`); rules and needs may also use the
category wildcard `category.*`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    field_validator,
    model_validator,
)

from strongroom.budgets.spec import KEYS as BUDGET_KEYS

Action = Literal["reveal", "partial", "generalize", "pseudonym", "deny"]
ObjectScope = Literal["self", "own_dealer", "own_departement", "open_case", "any", "none"]
Generalizer = Literal["year", "month", "departement", "drop"]
BudgetUnit = Literal["requests", "records", "subjects"]
ResponseName = Literal[
    "alert", "throttle", "step_up", "suspend_session", "suspend_principal", "block_ip_prefix"
]

NAME = r"^[a-z][a-z0-9_]*$"
FIELD_PATTERN = r"^[a-z][a-z0-9_]*\.([a-z][a-z0-9_]*|\*)$"
FIELD_NAME = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"
SCOPE = r"^[a-z][a-z_]*:[a-z][a-z_]*$"
ENDPOINT = r"^(GET|POST|PUT|PATCH|DELETE) /[A-Za-z0-9_/{}.\-]*$"
DAYS_90 = 90 * 86_400  # the budget layer keeps windows from a minute to 90 days

Name = Annotated[str, StringConstraints(strict=True, pattern=NAME)]
FieldPattern = Annotated[str, StringConstraints(strict=True, pattern=FIELD_PATTERN)]
FieldName = Annotated[str, StringConstraints(strict=True, pattern=FIELD_NAME)]
Scope = Annotated[str, StringConstraints(strict=True, pattern=SCOPE)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MaskingSpec(_Spec):
    partial_length: StrictInt = Field(8, ge=2, le=32)
    pseudonym_length: StrictInt = Field(16, ge=8, le=32)  # characters of base32


class RoleSpec(_Spec):
    staff: StrictBool
    scopes: list[Scope]
    purposes: list[Name] = Field(min_length=1)
    default_purpose: StrictStr | None = None
    object_scope: ObjectScope
    token_lifetime_seconds: StrictInt = Field(300, ge=30, le=3600)
    mfa_required: StrictBool
    step_up_max_age_seconds: StrictInt = Field(900, ge=30, le=86_400)
    # Sign-in with a passkey only: a password and TOTP code no longer open the account.
    passkey_required: StrictBool = False
    description: StrictStr = ""


class FieldSpec(_Spec):
    weight: StrictInt = Field(ge=0, le=100)
    generalize: Generalizer = "drop"
    description: StrictStr = ""


class LinkSpec(_Spec):
    categories: list[Name] = Field(min_length=2)
    extra: StrictInt = Field(ge=0, le=1000)


class JustificationSpec(_Spec):
    required: StrictBool = False
    min_length: StrictInt = Field(0, ge=0, le=2000)


class BreakGlassSpec(_Spec):
    duration_seconds: StrictInt = Field(ge=60, le=86_400)
    notify: list[Name] = Field(min_length=1)
    object_scope: ObjectScope | list[ObjectScope] = "any"


class PurposeSpec(_Spec):
    description: StrictStr = Field(min_length=1)
    needs: list[FieldPattern] = []
    justification: JustificationSpec = JustificationSpec()
    case_required: StrictBool = False
    step_up: StrictBool = False
    # The authentication a step-up asks for: "mfa" (TOTP or better) or "phr" (a passkey).
    # Purposes with step-up or break-glass and no level ask for "mfa".
    step_up_acr: Literal["mfa", "phr"] | None = None
    break_glass: BreakGlassSpec | None = None
    # A full-record read under this purpose: these scopes, all of them, instead of the
    # role's (which still bounds searches).
    object_scope: ObjectScope | list[ObjectScope] | None = None


class EndpointSpec(_Spec):
    scope: Scope
    roles: list[Name] = Field(min_length=1)
    purposes: list[Name] | None = None
    page_size: StrictInt = Field(ge=1, le=1000)
    min_specificity: list[list[FieldName]] = []
    filterable: list[FieldName] = []
    sortable: list[FieldName] = []
    description: StrictStr = ""


class BudgetSpec(_Spec):
    name: Name
    key: Name
    unit: BudgetUnit
    limit: StrictInt = Field(ge=1)
    window_seconds: StrictInt = Field(ge=60, le=DAYS_90)
    roles: list[StrictStr] | None = None
    endpoints: list[StrictStr] | None = None
    shadow: StrictBool = False

    @field_validator("key")
    @classmethod
    def _known_key(cls, value: str) -> str:
        if value not in BUDGET_KEYS:
            raise ValueError(f"unknown budget key {value!r} (known: {', '.join(BUDGET_KEYS)})")
        return value


class DetectorSpec(_Spec):
    enabled: StrictBool = True
    shadow: StrictBool = False
    params: dict[str, Any] = {}


class ResponseSpec(_Spec):
    threshold: float = Field(ge=0, le=100)
    enabled: StrictBool = True
    shadow: StrictBool = False
    params: dict[str, Any] = {}


class DatasetSpec(_Spec):
    description: StrictStr = Field(min_length=1)
    max_rows: StrictInt = Field(ge=1, le=1_000_000)
    purposes: dict[str, list[FieldName]]


class ExportsSpec(_Spec):
    requester_roles: list[StrictStr] = []
    approver_roles: list[StrictStr] = []
    four_eyes: StrictBool = True
    approval_ttl_seconds: StrictInt = Field(86_400, ge=60, le=30 * 86_400)
    datasets: dict[str, DatasetSpec] = {}


class CaseKindSpec(_Spec):
    roles: list[Name] = Field(min_length=1)
    # Accesses under a covert case (an investigation) are withheld from the owner's view
    # of who looked until the case closes.
    covert: StrictBool = False
    # An owner files a case of this kind on their own record (a renewal request); it goes
    # to the unit of the kind's first role in the owner's département.
    filed_by_owner: StrictBool = False
    description: StrictStr = ""


class CasesSpec(_Spec):
    kinds: dict[str, CaseKindSpec] = {}
    lifetime_days: StrictInt = Field(90, ge=1, le=3650)
    # Links to one case beyond this many wait for a second agent of the unit.
    links_before_approval: StrictInt = Field(10, ge=1, le=10_000)
    # Roles whose links to a subject outside their département wait for a second agent.
    approval_outside_jurisdiction: list[Name] = []


class SignInSpec(_Spec):
    """Failed sign-ins (`auth/attempts.py`): per account, growing delays then a lock an
    administrator lifts; per IP prefix, a failure budget against password spraying. And
    what a sign-in from another network does while the account's session lives."""

    free_failures: StrictInt = Field(3, ge=1, le=20)
    first_delay_seconds: StrictInt = Field(2, ge=1, le=600)
    max_delay_seconds: StrictInt = Field(300, ge=1, le=86_400)
    lock_after: StrictInt = Field(10, ge=2, le=100)
    ip_prefix_failures: StrictInt = Field(30, ge=1, le=100_000)
    ip_prefix_window_seconds: StrictInt = Field(900, ge=60, le=DAYS_90)
    # A sign-in while the account has a live session from another network: refused (the
    # stolen-password case), let through only with a passkey (step_up), or let through
    # with an alert. Either way it is journaled.
    other_network_sessions: Literal["refuse", "step_up", "alert"] = "refuse"

    @model_validator(mode="after")
    def _lock_after_the_free_ones(self) -> SignInSpec:
        if self.lock_after <= self.free_failures:
            raise ValueError("lock_after must be above free_failures")
        if self.max_delay_seconds < self.first_delay_seconds:
            raise ValueError("max_delay_seconds must be at least first_delay_seconds")
        return self


# Analytics (`strongroom analytics build`): what each population can be counted by. The
# analytics package implements exactly these; the checker refuses anything else.
ANALYTICS_UNIVERSES: dict[str, tuple[str, ...]] = {
    "persons": ("departement", "age", "commune", "holds_weapons"),
    "permits": ("departement", "age", "commune", "kind", "categories", "status", "date"),
    "weapons": ("departement", "age", "commune", "category", "status"),
    "sales": ("departement", "age", "category", "date"),
    "bans": ("departement", "age", "date", "active"),
}
# Quasi-identifiers: the dimensions that, combined, single a person out. Each has its
# generalizations; the first is the ungeneralized one where there is one.
ANALYTICS_QUASI_IDENTIFIERS: dict[str, tuple[str, ...]] = {
    "age": ("none", "band"),
    "commune": ("none", "size_band"),
    "date": ("day", "month", "year"),
    "departement": ("departement", "region"),
}
UNGENERALIZED = frozenset({("age", "none"), ("commune", "none"), ("date", "day")})
AnalyticsUniverse = Literal["persons", "permits", "weapons", "sales", "bans"]
QuasiIdentifier = Literal["age", "commune", "date", "departement"]
Generalization = Literal[
    "none", "band", "size_band", "day", "month", "year", "departement", "region"
]


class QuasiIdentifierSpec(_Spec):
    generalize: Generalization
    width: StrictInt = Field(10, ge=1, le=50)  # years per age band


class AnalyticsViewSpec(_Spec):
    description: StrictStr = Field(min_length=1)
    universe: AnalyticsUniverse
    # counts: a count table with every margin; rows: one row per person, keyed by a
    # pseudonym of its own (k-anonymous over all its columns).
    kind: Literal["counts", "rows"] = "counts"
    dims: list[Name] = Field(min_length=1, max_length=4)


class AnalyticsSpec(_Spec):
    # Smallest count published: cells counting fewer persons are suppressed, with
    # complements. 1 suppresses nothing (the posture audit says so).
    k: StrictInt = Field(10, ge=1, le=1000)
    quasi_identifiers: dict[QuasiIdentifier, QuasiIdentifierSpec] = {}
    views: dict[str, AnalyticsViewSpec] = {}
    # Seconds between the server's own refreshes (0: only `strongroom analytics refresh`).
    refresh_seconds: StrictInt = Field(0, ge=0, le=30 * 86_400)


class Policy(_Spec):
    version: Literal[1]
    masking: MaskingSpec = MaskingSpec()
    roles: dict[str, RoleSpec] = Field(min_length=1)
    fields: dict[str, dict[str, FieldSpec]] = Field(min_length=1)
    links: list[LinkSpec] = []
    purposes: dict[str, PurposeSpec] = Field(min_length=1)
    rules: dict[str, dict[str, dict[str, Action]]] = {}
    endpoints: dict[str, EndpointSpec] = {}
    budgets: list[BudgetSpec] = []
    detectors: dict[str, DetectorSpec] = {}
    responses: dict[ResponseName, ResponseSpec] = {}
    exports: ExportsSpec = ExportsSpec()
    cases: CasesSpec = CasesSpec()
    sign_in: SignInSpec = SignInSpec()
    analytics: AnalyticsSpec = AnalyticsSpec()

    def field_names(self) -> list[str]:
        return [f"{cat}.{name}" for cat, names in self.fields.items() for name in names]

    def field_spec(self, name: str) -> FieldSpec:
        cat, _, leaf = name.partition(".")
        return self.fields[cat][leaf]
