"""Budgets: requests, records disclosed and distinct subjects, per principal, session,
client, organisation, IP, IP prefix, role, endpoint or the whole service, over sliding
windows from a minute to 90 days.

    budgets = Budgets(specs, MemoryBackend(), clock)          # or RedisBackend(url)
    r = budgets.reserve(keys, requests=1, records=page * weight)   # 429 / 503 here
    ... run the query ...
    budgets.settle(r, records=disclosed, subjects=subject_ids)
    response.headers.update(budgets.headers(r))

Why not `limits` alone: its strategies read the wall clock (so a simulated month cannot be
replayed), charge one item at a time (no all-or-nothing across a principal, its
organisation and its IP prefix), cannot give back a reservation, and do not count distinct
subjects. Its sliding-window counter also weighs the previous window as if its hits were
spread evenly, which lets a client that bunches them pass up to twice the limit. So the
window arithmetic is ours (window.py), run atomically by one Lua script on Redis and under
one lock in memory; `limits` stays the peer anchor in benchmarks/bench_budgets.py.

Redis Cluster: each budget bucket's keys share a hash slot, but one reservation spans
several buckets, so the script needs a single node (or Sentinel). A cluster would need a
per-slot reserve with compensating refunds; not built.
"""

from strongroom.budgets.backend import Backend, Charge, Reading, Settlement, Verdict
from strongroom.budgets.client_ip import client_ip
from strongroom.budgets.core import Budgets, Reservation
from strongroom.budgets.memory import MemoryBackend
from strongroom.budgets.redis_backend import RedisBackend
from strongroom.budgets.spec import BudgetKeys, BudgetSpec, ip_prefix, normalise_ip

__all__ = [
    "Backend",
    "BudgetKeys",
    "BudgetSpec",
    "Budgets",
    "Charge",
    "MemoryBackend",
    "Reading",
    "RedisBackend",
    "Reservation",
    "Settlement",
    "Verdict",
    "client_ip",
    "ip_prefix",
    "normalise_ip",
]
