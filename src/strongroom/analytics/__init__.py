"""Analytics for people who query a database directly: a masked, aggregated release in
schema `analytics` (PostgreSQL) or `analytics.db` (SQLite), built from the registry under
the policy's `analytics:` section. See docs/analytics.md."""

from strongroom.analytics.desk import AnalyticsDesk, BuildMode, BuildReport, ViewReport
from strongroom.analytics.grants import DEFAULT_ROLE, GrantReport

__all__ = [
    "DEFAULT_ROLE",
    "AnalyticsDesk",
    "BuildMode",
    "BuildReport",
    "GrantReport",
    "ViewReport",
]
