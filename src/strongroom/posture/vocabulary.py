"""Names the audit recognizes: which field or parameter names carry identity, address or
weapon data, which query parameters size a page or take free text, which scopes are too
broad to name one task. Matching is on lower-case names with `-` read as `_`."""

from __future__ import annotations

IDENTITY = frozenset(
    {
        "family_name",
        "given_names",
        "given_name",
        "first_name",
        "last_name",
        "surname",
        "name",
        "full_name",
        "birth_date",
        "date_of_birth",
        "dob",
        "birth_place",
        "national_id",
        "ssn",
        "email",
        "phone",
        "phone_number",
    }
)
ADDRESS = frozenset(
    {
        "street",
        "address",
        "address_line",
        "street_address",
        "city",
        "postcode",
        "postal_code",
        "zip",
        "zip_code",
        "house_number",
    }
)
WEAPON = frozenset(
    {
        "serial",
        "weapon_serial",
        "serial_number",
        "make",
        "model",
        "calibre",
        "caliber",
        "weapon",
        "weapons",
    }
)
# Alone, none of these singles out a person: a search on one of them is a sweep.
COARSE = frozenset(
    {
        "family_name",
        "given_names",
        "birth_date",
        "birth_place",
        "postcode",
        "city",
        "departement",
        "street",
        "category",
        "make",
        "model",
        "calibre",
        "status",
        "kind",
    }
)
PAGE_PARAMS = frozenset(
    {"limit", "page_size", "per_page", "size", "count", "max", "top", "max_results", "pagesize"}
)
FREE_TEXT = frozenset(
    {"q", "query", "search", "prefix", "like", "contains", "starts_with", "name_prefix", "filter"}
)
BROAD_SCOPES = frozenset(
    {"*", "admin", "read", "write", "all", "api", "full", "root", "openid_all"}
)
BROAD_PARTS = frozenset(
    {"*", "all", "any", "admin", "full", "registry", "api", "data", "everything", "root"}
)


def norm(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def leaf(field: str) -> str:
    """`identity.family_name` -> `family_name`."""
    return norm(field.rpartition(".")[2])


def is_identity(name: str) -> bool:
    return leaf(name) in IDENTITY


def is_address(name: str) -> bool:
    return leaf(name) in ADDRESS


def is_weapon(name: str) -> bool:
    return leaf(name) in WEAPON


def is_pii(name: str) -> bool:
    return is_identity(name) or is_address(name)


def broad_scope(scope: str) -> bool:
    s = norm(scope)
    if s in BROAD_SCOPES:
        return True
    parts = [p for p in s.replace(".", ":").split(":") if p]
    return any(p in BROAD_PARTS for p in parts)
