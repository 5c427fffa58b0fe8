"""The detectors' shared event feed: in a scaled deployment (several workers or nodes on
one Redis), every detection engine sees every access event, in one order.

Without it each worker's detectors would see only the requests its load balancer happened
to send there: a scraper spread over two workers would look half as fast to each, and be
contained after twice the records. With it, a worker appends its event to a Redis stream
and, in the same round trip (one Lua script), reads what other workers appended since its
last look; it replays those through its detectors deciding nothing (as a restart replays
the journal) and then judges its own event. Every engine thus holds the same state, and
the worker whose event crosses a threshold is the one that contains: containments are
stored once, alerts sent once.

The stream keeps `RETENTION_SECONDS` of events: a worker that falls further behind (it
was stopped) starts again from the journal, as any restart does. A worker starting while
others serve marks the stream's end before it replays the journal: an event in flight at
that moment may be counted twice by the new worker, never missed.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import orjson

from strongroom.events import AccessEvent

log = logging.getLogger(__name__)

RETENTION_SECONDS = 900
# One call appends this worker's event and returns the stream since its last look, up to
# and including that event. Stream IDs are the Redis server's clock, so the trim needs no
# agreement between the nodes' clocks.
_EXCHANGE = """
local t = redis.call('TIME')
local minid = (tonumber(t[1]) - tonumber(ARGV[3])) .. '000'
local id = redis.call('XADD', KEYS[1], 'MINID', '~', minid, '*', 'w', ARGV[1], 'e', ARGV[2])
return {id, redis.call('XRANGE', KEYS[1], '(' .. ARGV[4], id)}
"""


class FeedUnavailable(Exception):
    """Redis did not answer: this worker judges on what it has seen."""


def encode(event: AccessEvent) -> bytes:
    entry = event.to_entry()
    if event.sort_key is not None:
        entry["sort_key"] = event.sort_key
    return orjson.dumps(entry)


def decode(raw: bytes) -> AccessEvent:
    entry: dict[str, Any] = orjson.loads(raw)
    sort_key = entry.pop("sort_key", None)
    entry.pop("v", None)
    event = AccessEvent.from_entry(entry)
    return event if sort_key is None else replace(event, sort_key=float(sort_key))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisEventFeed:
    """One worker's end of the stream. Not thread-safe: the engine calls it under its lock."""

    def __init__(
        self,
        client: Any,
        key: str,
        *,
        worker: str,
        retention_seconds: int = RETENTION_SECONDS,
    ) -> None:
        self.client = client
        self.key = key
        self.worker = worker
        self.retention = retention_seconds
        self._exchange = client.register_script(_EXCHANGE)
        self.last = "0-0"

    def mark_end(self) -> None:
        """Follow from the stream's present end (what came before is in the journal)."""
        try:
            newest = self.client.xrevrange(self.key, count=1)
        except Exception as exc:  # noqa: BLE001 - redis-py's errors have no common base here
            raise FeedUnavailable(type(exc).__name__) from None
        self.last = _text(newest[0][0]) if newest else "0-0"

    def exchange(self, event: AccessEvent) -> list[AccessEvent]:
        """Append `event`; return the events other workers appended before it since the
        last call, oldest first."""
        try:
            own, since = self._exchange(
                keys=[self.key], args=[self.worker, encode(event), self.retention, self.last]
            )
        except Exception as exc:  # noqa: BLE001
            raise FeedUnavailable(type(exc).__name__) from None
        self.last = _text(own)
        return self._others(since)

    def poll(self, count: int = 1000) -> list[AccessEvent]:
        """What other workers appended since the last look (at most `count`)."""
        try:
            since = self.client.xrange(self.key, min=f"({self.last}", count=count)
        except Exception as exc:  # noqa: BLE001
            raise FeedUnavailable(type(exc).__name__) from None
        if since:
            self.last = _text(since[-1][0])
        return self._others(since)

    def _others(self, entries: list[Any]) -> list[AccessEvent]:
        out = []
        for _, values in entries:
            # redis-py parses XRANGE's fields into a dict; a script's answer stays flat.
            if not isinstance(values, dict):
                values = dict(zip(values[::2], values[1::2], strict=True))
            fields = {_text(k): v for k, v in values.items()}
            if _text(fields["w"]) != self.worker:
                out.append(decode(fields["e"]))
        return out
