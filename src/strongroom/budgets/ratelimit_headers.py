"""RateLimit header fields for HTTP (draft-ietf-httpapi-ratelimit-headers-10/-11).

Both fields are Structured Field Lists (RFC 9651) of one Item per policy, its identifier a
String:

    RateLimit-Policy: "police_records_hour";q=60;w=3600;qu="records"
    RateLimit: "police_records_hour";r=12;t=840

`q` quota, `w` window (s), `qu` quota unit; `r` remaining, `t` seconds until quota comes
back. The draft registers the units "requests", "content-bytes" and "concurrent-requests";
"records" and "subjects" are ours, sent as `qu` so a client never mistakes a record quota
for a request quota. Only the most constrained budget is advertised: naming every budget
would tell a scraper exactly how to pace itself under each one.
"""

from __future__ import annotations

import math


def _sf_string(value: str) -> str:
    # RFC 9651 sf-string: printable ASCII, with `"` and `\` escaped.
    safe = "".join(ch if 0x20 <= ord(ch) < 0x7F else "?" for ch in value)
    return '"' + safe.replace("\\", "\\\\").replace('"', '\\"') + '"'


def seconds(value: float) -> int:
    """Whole seconds for `t` and Retry-After: rounded up, so a client that waits that long
    finds the quota back."""
    return max(0, math.ceil(value - 1e-9))


def policy_field(name: str, quota: int, window: int, unit: str) -> str:
    return f"{_sf_string(name)};q={quota};w={window};qu={_sf_string(unit)}"


def ratelimit_field(name: str, remaining: int, reset: float) -> str:
    return f"{_sf_string(name)};r={max(0, remaining)};t={seconds(reset)}"


def header_pair(
    name: str, quota: int, window: int, unit: str, remaining: int, reset: float
) -> dict[str, str]:
    return {
        "RateLimit-Policy": policy_field(name, quota, window, unit),
        "RateLimit": ratelimit_field(name, remaining, reset),
    }
