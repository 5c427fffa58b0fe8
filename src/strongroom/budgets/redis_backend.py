"""Budgets in Redis, for several workers: every decision is one atomic Lua script (lua.py).

Key layout: `<prefix>{<budget>:<key value>}:<part>`. The hash tag keeps every part of one
budget bucket (counts, would-refuse counts, subjects) in one cluster hash slot. One
reservation touches several buckets in one script, which needs a single Redis (or
Sentinel) node; see the package docstring for Redis Cluster.

Distinct subjects are an exact sorted set (subject -> last disclosure time) for budgets up
to `exact_subjects_max`; larger budgets count HyperLogLogs per sub-window (PFADD, PFCOUNT
over the window's union: about 0.8 % standard error, 12 KiB per sub-window at most).

Every redis error becomes `Unavailable` (503): an unreachable budget store refuses, it
never waves requests through.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry

from strongroom.budgets import window as win
from strongroom.budgets.backend import Charge, Reading, Settlement, Verdict
from strongroom.budgets.lua import SCRIPT
from strongroom.errors import Unavailable

HLL_BUCKETS = 30
LOOP_CONNECTIONS = 32  # the event loop's client's connections at most (`_loop_client`)
EXACT_SUBJECTS_MAX = 10_000


class RedisBackend:
    def __init__(
        self,
        url: str,
        prefix: str = "sr:budget:",
        *,
        exact_subjects_max: int = EXACT_SUBJECTS_MAX,
        timeout_seconds: float = 1.0,
    ) -> None:
        self.prefix = prefix
        self.exact_subjects_max = exact_subjects_max
        # One quick retry covers a pooled connection that died with a restarted server;
        # more would hold requests up during an outage that should answer 503 at once.
        self.url = url
        self.timeout_seconds = timeout_seconds
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            retry=Retry(NoBackoff(), 1),
        )
        self._script = self.client.register_script(SCRIPT)
        # The event loop's client (`reserve_async`) and the loop it belongs to.
        self._aloop: asyncio.AbstractEventLoop | None = None
        self._aclient: redis.asyncio.Redis | None = None

    # --- the Backend protocol ------------------------------------------------------------
    def reserve(
        self, charges: Sequence[Charge], now: float, *, remember: tuple[str, str, int] | None = None
    ) -> Verdict:
        keys, argv = self._reservation(charges, now, remember)
        return self._verdict(charges, self._run(keys, argv), now)

    async def reserve_async(
        self, charges: Sequence[Charge], now: float, *, remember: tuple[str, str, int] | None = None
    ) -> Verdict:
        """`reserve` awaited on the running event loop."""
        keys, argv = self._reservation(charges, now, remember)
        client = self._loop_client()
        try:
            try:
                reply = await client.evalsha(self._script.sha, len(keys), *keys, *argv)
            except NoScriptError:  # a restarted or flushed Redis: load it again
                await client.script_load(SCRIPT)
                reply = await client.evalsha(self._script.sha, len(keys), *keys, *argv)
        except (redis.RedisError, OSError) as exc:
            raise Unavailable(
                "the budget store is unreachable", reason="budget_store_unavailable"
            ) from exc
        return self._verdict(charges, list(reply), now)

    def _reservation(
        self, charges: Sequence[Charge], now: float, remember: tuple[str, str, int] | None
    ) -> tuple[list[str], list[Any]]:
        """The script's keys and arguments for a reservation."""
        keys: list[str] = []
        args: list[Any] = []
        for c in charges:
            self._pack(c, now, keys, args, amount=c.amount, aux="")
        meta, ttl = "", 0
        if remember is not None:
            principal, meta, ttl = remember
            keys.append(self._meta_key(principal))
        return keys, self._argv("reserve", now, args, len(charges), meta, ttl * 1000)

    def _verdict(self, charges: Sequence[Charge], reply: list[Any], now: float) -> Verdict:
        return Verdict(int(reply[0]) == 1, self._readings(charges, reply[1:], now))

    def _loop_client(self) -> redis.asyncio.Redis:
        """The running loop's client. Its connections belong to the loop that opened them:
        a served worker has one loop for its life; a test client may run each request on
        a loop of its own, and gets a client of its own."""
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aloop is not loop:
            # A bounded pool that waits for a free connection: the default one refuses a
            # 101st command in flight, and a door flooded by 200 connections answered
            # 503 for a store that was there. Redis serves commands one at a time anyway.
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                self.url,
                max_connections=LOOP_CONNECTIONS,
                timeout=self.timeout_seconds,
                socket_timeout=self.timeout_seconds,
                socket_connect_timeout=self.timeout_seconds,
                retry=redis.asyncio.retry.Retry(NoBackoff(), 1),
            )
            self._aclient = redis.asyncio.Redis(connection_pool=pool)
            self._aloop = loop
        return self._aclient

    def settle(self, items: Sequence[Settlement], now: float) -> list[Reading]:
        keys: list[str] = []
        args: list[Any] = []
        for it in items:
            aux = str(win.index(it.reserved_at, it.charge.spec.window_seconds))
            self._pack(it.charge, now, keys, args, amount=it.refund, aux=aux, subjects=it.subjects)
        reply = self._run(keys, self._argv("settle", now, args, len(items), "", 0))
        return self._readings([it.charge for it in items], reply, now)

    def read(self, charges: Sequence[Charge], now: float) -> list[Reading]:
        keys: list[str] = []
        args: list[Any] = []
        for c in charges:
            self._pack(c, now, keys, args, amount=0, aux="")
        reply = self._run(keys, self._argv("read", now, args, len(charges), "", 0))
        return self._readings(charges, reply, now)

    def recall(self, principal: str) -> str | None:
        try:
            raw = self.client.get(self._meta_key(principal))
        except (redis.RedisError, OSError) as exc:
            raise Unavailable(
                "the budget store is unreachable", reason="budget_store_unavailable"
            ) from exc
        return raw.decode() if isinstance(raw, bytes) else raw

    def close(self) -> None:
        self.client.close()

    # --- internals -----------------------------------------------------------------------
    def kind(self, c: Charge) -> str:
        if c.spec.unit != "subjects":
            return "c"
        return "s" if c.spec.limit <= self.exact_subjects_max else "h"

    def _base(self, c: Charge) -> str:
        return f"{self.prefix}{{{c.spec.name}:{quote(c.value, safe='')}}}"

    def _meta_key(self, principal: str) -> str:
        return f"{self.prefix}keys:{quote(principal, safe='')}"

    def _pack(
        self,
        c: Charge,
        now: float,
        keys: list[str],
        args: list[Any],
        *,
        amount: int,
        aux: str,
        subjects: tuple[str, ...] = (),
    ) -> None:
        window = c.spec.window_seconds
        kind, base = self.kind(c), self._base(c)
        hcur = math.floor(now / (window / HLL_BUCKETS))
        if kind == "h":
            keys.append(base + ":w")
            keys.extend(f"{base}:h:{i}" for i in range(hcur - HLL_BUCKETS, hcur + 1))
        else:
            keys.extend((base + (":s" if kind == "s" else ":c"), base + ":w"))
        if kind == "s":
            aux = repr(now - window)
        args.extend(
            (
                kind,
                c.spec.limit,
                window,
                win.index(now, window),
                hcur,
                amount,
                "1" if c.spec.shadow else "0",
                aux,
                len(subjects),
                *subjects,
            )
        )

    @staticmethod
    def _argv(
        mode: str, now: float, args: list[Any], n: int, meta: str, meta_ttl_ms: int
    ) -> list[Any]:
        return [mode, repr(now), win.BUCKETS, HLL_BUCKETS, meta, meta_ttl_ms, n, *args]

    def _run(self, keys: list[str], argv: list[Any]) -> list[Any]:
        try:
            try:
                # EVALSHA itself, a layer fewer than the Script object's call: this runs on
                # every request the door sees
                reply = self.client.evalsha(self._script.sha, len(keys), *keys, *argv)
            except NoScriptError:  # a restarted or flushed Redis: the Script loads it
                reply = self._script(keys=keys, args=argv)
            return list(reply)
        except (redis.RedisError, OSError) as exc:
            raise Unavailable(
                "the budget store is unreachable", reason="budget_store_unavailable"
            ) from exc

    def _readings(self, charges: Sequence[Charge], flat: list[Any], now: float) -> list[Reading]:
        out = []
        for j, c in enumerate(charges):
            used, wait, reset, wr = flat[4 * j : 4 * j + 4]
            kind = self.kind(c)
            out.append(
                Reading(
                    int(used),
                    self._seconds(kind, c, wait, now),
                    self._seconds(kind, c, reset, now),
                    int(wr),
                )
            )
        return out

    @staticmethod
    def _seconds(kind: str, c: Charge, ref: Any, now: float) -> float:
        window = c.spec.window_seconds
        if isinstance(ref, bytes | str):
            return float(ref) + window - now
        at = int(ref)
        if at == -1:
            return 0.0
        if at == -2:
            return float(window)
        if kind == "h":
            return (at + HLL_BUCKETS + 1) * (window / HLL_BUCKETS) - now
        return win.expires_at(at, window) - now
