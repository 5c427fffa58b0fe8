"""Every Prometheus metric the service exports, declared once; `scrape()` renders them for
the operator's scraper (`GET /metrics`, api/observe.py).

Labels take their values from closed sets: route templates, HTTP methods and statuses,
and the policy's budget, detector, family and action names. Never a path, an ID or an
address: a series cannot name anyone, and a client cannot make the series multiply.

Under `strongroom serve --workers N` every worker writes its values to files in
PROMETHEUS_MULTIPROC_DIR (a fresh folder `serve` makes before the workers start), and a
scrape answered by any worker sums every worker's (prometheus-client's multiprocess mode).
The journal's size is read from the journal at scrape time, so it is the shared log's,
whichever worker answers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

# A `_created` series beside every counter and histogram doubles the scrape for a
# timestamp Prometheus does not need (a counter's reset shows as a drop).
disable_created_metrics()  # type: ignore[no-untyped-call]

# A read takes milliseconds; a queued request waits up to queue_wait_seconds (5 s).
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# A group commit takes a fraction of a millisecond (SQLite) to a few (PostgreSQL).
APPEND_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)

HTTP_REQUESTS = Counter(
    "strongroom_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ("method", "route", "status"),
)
HTTP_DURATION = Histogram(
    "strongroom_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method and route template.",
    ("method", "route"),
    buckets=REQUEST_BUCKETS,
)
BUDGET_REFUSALS = Counter(
    "strongroom_budget_refusals",
    "Requests refused by a budget, by budget (a refusal by two budgets counts under each).",
    ("budget",),
)
BUDGET_SHADOW_REFUSALS = Counter(
    "strongroom_budget_shadow_refusals",
    "Requests a shadow budget would have refused, by budget.",
    ("budget",),
)
DETECTIONS = Counter(
    "strongroom_detections",
    "Signals raised by the detectors, by family and detector (shadow: scored, never acted on).",
    ("family", "detector", "shadow"),
)
CONTAINMENTS = Counter(
    "strongroom_containments",
    "Containments decided by the response ladder, by action (shadow: decided, not applied).",
    ("action", "shadow"),
)
WITNESS_SUBMISSIONS = Counter(
    "strongroom_witness_submissions",
    "Checkpoints sent to the configured witnesses, by outcome (cosigned or failed).",
    ("outcome",),
)
JOURNAL_APPEND = Histogram(
    "strongroom_journal_append_seconds",
    "Time from a journal append to its commit, for the appends whose caller waits.",
    buckets=APPEND_BUCKETS,
)


def flag(value: bool) -> str:
    return "true" if value else "false"


class JournalSize(Collector):
    """The journal's size, read when scraped. A journal that cannot be read shows as
    `strongroom_journal_readable 0` rather than failing the whole scrape."""

    def __init__(self, size: Callable[[], int]) -> None:
        self.size = size

    def collect(self) -> Iterator[Metric]:
        try:
            entries = self.size()
        except Exception:  # noqa: BLE001 - the scrape reports it; /readyz names it
            yield GaugeMetricFamily(
                "strongroom_journal_readable", "Whether the journal answered.", value=0
            )
            return
        yield GaugeMetricFamily("strongroom_journal_readable", "Whether the journal answered.", 1)
        yield GaugeMetricFamily(
            "strongroom_journal_entries", "Entries in the journal (every node's).", value=entries
        )


class WitnessLag(Collector):
    """Per configured witness, the entries signed in the journal's latest checkpoint that
    the witness has not acknowledged yet (as the worker holding the witness lease last
    recorded it, the answering worker's own view without one). The labels are the
    witness names config.toml lists, a closed set."""

    def __init__(self, lags: Callable[[], dict[str, int]]) -> None:
        self.lags = lags

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "strongroom_witness_unheld_entries",
            "Entries of the latest checkpoint a witness has not cosigned yet, by witness.",
            labels=("witness",),
        )
        for name, lag in sorted(self.lags().items()):
            family.add_metric((name,), lag)
        yield family


def scrape(*collectors: Collector) -> bytes:
    """The Prometheus text exposition of this process's metrics (every worker's, in
    multiprocess mode) and of `collectors`."""
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    # generate_latest asks only for collect(): a collector renders without a registry.
    return generate_latest(registry) + b"".join(generate_latest(c) for c in collectors)
