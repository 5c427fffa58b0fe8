"""Serving figures over real HTTP: `strongroom serve` against a bare FastAPI app
(benchmarks/bare_app.py, a fixed person record) served by uvicorn with the same worker
count, both started here on 127.0.0.1 and driven in the same sitting by one load generator.

Scenarios, 16 connections, for 1 and for 2 workers:
  allowed_reads            owners reading their own record (GET /v1/me), a different
                           owner per request (~2,900 tokens rotated, each under 60 reads)
  refused_exhausted        one owner token hammered from ever new addresses: its first
                           reads pass, then 429 (owner budget), then 401 once the
                           detectors ask for step-up
  refused_exhausted_one_client  the same from one address: 60 reads, 240 refused by the
                           owner's budget, then 429 at the door (per-prefix budget)
  refused_unauthenticated  no Authorization header: 401
  refused_contained        a suspended police account (GET /v1/cases): 401/403
and, for 1 worker, allowed_reads at 1, 16, 64 and 200 connections, and the thread pool's
cost a request (`thread_handover`: the bare app's answer from a `def` route, served in a
worker thread as Strongroom's routes are, against an `async def` one on the event loop).
Every request carries an X-Forwarded-For (10.x.y.z; the home trusts 127.0.0.1 as a
proxy): each owner its own address, other requests ever new /24 prefixes, so the door's
per-prefix budget sees many clients, as in production. Refusals are counted by status,
reason and budget.

Ratios (Strongroom / bare, expected answers per second) are computed and reported against
the issue's goals, not asserted. The load generator is Debian's `wrk` (installed with
apt-get when missing), driven by a Lua script that rotates tokens and addresses and counts
statuses; `--quick` uses a small built-in Python generator instead and installs nothing.
Results: http.json and http.svg in the results folder, and a table on stdout. With
`--profile DIR` (py-spy installed), each of Strongroom's runs is sampled and its server CPU
a request shared out by stage of the request path (benchmarks/profile_stages.py).

    python benchmarks/bench_http.py [--duration 8] [--persons 3000] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profile_stages import stages
from results_dir import results_dir

HERE = Path(__file__).resolve().parent
RESULTS = results_dir()

# X-Forwarded-For, by address mode. "token": each owner its own address, 10.0.0.1 for
# token 0, 10.0.1.1 for token 1... (an owner at home: one network, one /24 each);
# "request": every request another address, over the /24 prefixes 10.64.0.x to
# 10.255.255.x (never an owner's); "fixed": one client.
PREFIXES = 65_536
ROTATE_FROM = 16_384  # owners' prefixes below, rotating ones from 10.64.0.0 up
FIXED_ADDRESS = "10.63.0.7"
OWNER_READS_MAX = 59  # the policy's owner budget is 60 requests an hour
STATUS_KEYS = ("200", "401", "403", "429", "503", "5xx", "other")  # 5xx includes 503

# One wrk thread = one Lua state: each counts its own statuses (and, for refusals, the
# problem's `reason` and `budget`), done() adds them up through the thread objects kept by
# setup(). Request number i (first + id + k * nthreads: the threads interleave) picks token
# i mod #tokens, and its X-Forwarded-For by the address mode (see `address`).
WRK_LUA = r"""
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  table.insert(threads, thread)
  next_id = next_id + 1
end

function init(args)
  -- args: tokens file ("-": none), first request number, thread count, path, address mode
  tokens = {}
  if args[1] ~= "-" then
    for line in io.lines(args[1]) do
      if #line > 0 then tokens[#tokens + 1] = line end
    end
  end
  first = tonumber(args[2])
  nthreads = tonumber(args[3])
  path = args[4]
  mode = args[5]
  sent = 0
  counts = {s200 = 0, s401 = 0, s403 = 0, s429 = 0, s503 = 0, s5xx = 0, other = 0}
  reasons = {}
end

local function address(n)
  local p = n % SPAN
  return string.format("10.%d.%d.%d", math.floor(p / 256), p % 256, 1 + math.floor(n / SPAN) % 254)
end

function request()
  local i = first + id + sent * nthreads
  sent = sent + 1
  local headers = {}
  if mode == "token" then
    headers["X-Forwarded-For"] = address(i % #tokens)
  elseif mode == "fixed" then
    headers["X-Forwarded-For"] = "FIXED"
  else
    headers["X-Forwarded-For"] = address(ROTATE_FROM + i % (PREFIXES - ROTATE_FROM))
  end
  if #tokens > 0 then
    headers["Authorization"] = "Bearer " .. tokens[(i % #tokens) + 1]
  end
  return wrk.format("GET", path, headers)
end

function response(status, headers, body)
  if status == 200 then counts.s200 = counts.s200 + 1 return end
  if status == 401 then counts.s401 = counts.s401 + 1
  elseif status == 403 then counts.s403 = counts.s403 + 1
  elseif status == 429 then counts.s429 = counts.s429 + 1
  elseif status >= 500 and status <= 599 then
    counts.s5xx = counts.s5xx + 1
    if status == 503 then counts.s503 = counts.s503 + 1 end
  else counts.other = counts.other + 1 end
  local key = tostring(status) .. " " .. (string.match(body, '"reason":%s*"([^"]*)"') or "-")
  local budget = string.match(body, '"budget":%s*"([^"]*)"')
  if budget then key = key .. " " .. budget end
  reasons[key] = (reasons[key] or 0) + 1
end

function done(summary, latency, requests)
  local t = {s200 = 0, s401 = 0, s403 = 0, s429 = 0, s503 = 0, s5xx = 0, other = 0}
  local r = {}
  local max_sent = 0
  for _, thread in ipairs(threads) do
    for k, v in pairs(thread:get("counts")) do t[k] = t[k] + v end
    for k, v in pairs(thread:get("reasons")) do r[k] = (r[k] or 0) + v end
    local s = thread:get("sent")
    if s > max_sent then max_sent = s end
  end
  local rs = {}
  for k, v in pairs(r) do rs[#rs + 1] = string.format('"%s": %d', k, v) end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "max_sent_per_thread": %d, '
    .. '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, '
    .. '"latency_us": {"p50": %.0f, "p90": %.0f, "p99": %.0f, "max": %.0f, "mean": %.1f}, '
    .. '"statuses": {"200": %d, "401": %d, "403": %d, "429": %d, "503": %d, "5xx": %d, '
    .. '"other": %d}, "reasons": {%s}}\n',
    summary.requests, summary.duration, summary.bytes, max_sent,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean,
    t.s200, t.s401, t.s403, t.s429, t.s503, t.s5xx, t.other, table.concat(rs, ", ")))
end
"""
for _name, _value in {
    "ROTATE_FROM": ROTATE_FROM,
    "PREFIXES": PREFIXES,
    "SPAN": 256 * 256,
    "FIXED": FIXED_ADDRESS,
}.items():
    WRK_LUA = WRK_LUA.replace(_name, str(_value))


# --- the home ---------------------------------------------------------------------------


SPARE_OWNERS = 8  # two hammered owners per sitting (a detector's suspension persists)


@dataclass
class Fixture:
    home: Any  # strongroom.config.Home
    owners: int
    tokens_file: Path  # owner tokens, one a line, rotated
    owner_ids_file: Path  # the same owners' public IDs, line for line
    spare_files: list[Path]  # one owner token each, not in the rotation, to hammer
    police_file: Path  # a suspended police account's token
    weapon_serial: str


REDIS_URL = os.environ.get("STRONGROOM_TEST_REDIS", "redis://127.0.0.1:6379/0")


def build_home(
    root: Path,
    persons: int,
    *,
    registry_url: str | None = None,
    journal_url: str | None = None,
    max_inflight: int | None = None,
) -> Fixture:
    from sqlalchemy import select

    from strongroom.auth.rfc9068 import TokenService
    from strongroom.cli.seeding import seed_home
    from strongroom.compose import compose
    from strongroom.config import Home
    from strongroom.initialize import initialize
    from strongroom.registry.models import Person

    home = Home(root / "home")
    initialize(home, registry_url=registry_url, journal_url=journal_url)
    report = seed_home(home, persons=persons, seed=5)
    # Several workers share their budgets, detector state and replay cache through Redis
    # (the server refuses --workers 2 without it); this run's keys live under its own prefix.
    home.update_config(
        trusted_proxies=["127.0.0.1"],
        redis_url=REDIS_URL,
        redis_prefix=f"srbench-http:{os.getpid()}:",
    )
    if max_inflight is not None:
        home.update_config(max_inflight=max_inflight)
    settings = home.settings()
    assert settings.trusted_proxies == ("127.0.0.1",), settings.trusted_proxies

    svc = compose(home)  # closed before any server opens the home
    try:
        with svc.registry.session() as s:
            ids = list(s.execute(select(Person.public_id).order_by(Person.id)).scalars())
        owners = [pid for pid in ids if not svc.canaries.contains(pid)]  # no honey records
        police = svc.admin.add_principal(role="police", label="bench")
        police_token = svc.token_issuer.issue(role="police", subject=police, lifetime=3600)
        svc.admin.revoke_principal(svc.admin.operator(), police, "bench containment")
    finally:
        svc.close()

    issuer = TokenService(home.keys_dir, issuer=settings.issuer, audience=settings.audience)
    tokens = [
        issuer.issue_access_token(
            subject=pid,
            role="owner",
            scopes=frozenset({"me:read"}),
            purpose="self_service",
            lifetime=3600,
        )
        for pid in owners
    ]
    files = root / "tokens"
    files.mkdir()
    rotated, spare = tokens[:-SPARE_OWNERS], tokens[-SPARE_OWNERS:]
    (files / "owners.txt").write_text("\n".join(rotated) + "\n")
    (files / "owner-ids.txt").write_text("\n".join(owners[: len(rotated)]) + "\n")
    for k, token in enumerate(spare):
        (files / f"spare-{k}.txt").write_text(token + "\n")
    (files / "police.txt").write_text(police_token + "\n")
    return Fixture(
        home=home,
        owners=len(rotated),
        tokens_file=files / "owners.txt",
        owner_ids_file=files / "owner-ids.txt",
        spare_files=[files / f"spare-{k}.txt" for k in range(SPARE_OWNERS)],
        police_file=files / "police.txt",
        weapon_serial=report.fixtures["weapon_serial"],
    )


def run_folders(root: Path, fx: Fixture) -> tuple[dict[str, str], Path]:
    """The servers' environment (the fixture's home) and a work folder for the load
    generator's files."""
    work = root / "wrk"
    work.mkdir()
    return {**os.environ, "STRONGROOM_HOME": str(fx.home.path)}, work


# --- servers ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    next_request: int = 0  # request numbers already used (tokens, X-Forwarded-For)
    reads_per_owner: int = 0  # at most, in this server's life (rotated owner tokens)

    def advance(self, load: Load, used: int) -> None:
        self.next_request += used
        if load.addresses == "token" and load.tokens:
            self.reads_per_owner += math.ceil(used / len(load.tokens))


def group_cpu_seconds(pgid: int, *, system_only: bool = False) -> float | None:
    """CPU time (user + system, or system only) of every live process in a process group
    (Linux /proc), or None."""
    total, tick = 0, os.sysconf("SC_CLK_TCK")
    try:
        entries = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    for pid in entries:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:
            total += (0 if system_only else int(fields[11])) + int(fields[12])
    return total / tick


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn stops its workers, Strongroom closes its journal), then SIGKILL to
    whatever is left of the process group this benchmark started."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def serving(name: str, cmd: list[str], env: dict[str, str], log_path: Path) -> Iterator[Server]:
    port = free_port()
    cmd = [*cmd, "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited: " + log_path.read_text()[-2000:])
                try:
                    with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start: " + log_path.read_text()[-2000:])
                time.sleep(0.2)
            yield Server(name, url, proc, log_path)
        finally:
            stop(proc)


def strongroom_cmd(workers: int) -> list[str]:
    return [sys.executable, "-m", "strongroom.cli.main", "serve", "--workers", str(workers)]


def bare_cmd(workers: int, app: str = "bare_app:app") -> list[str]:
    # A baseline app in this folder (module:attribute), with the options `strongroom serve`
    # passes to uvicorn.run: log level info (uvicorn's access line standing for the one line
    # a request Strongroom's Observe writes), no proxy headers.
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--app-dir",
        str(HERE),
        "--workers",
        str(workers),
        "--log-level",
        "info",
        "--no-proxy-headers",
    ]


# --- load generators --------------------------------------------------------------------


@dataclass
class Load:
    path: str
    tokens_file: Path | None
    expected: frozenset[int]
    addresses: str = "request"  # X-Forwarded-For: "request", "token" or "fixed"
    connections: int = 16
    tokens: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.tokens_file is not None:
            self.tokens = [t for t in self.tokens_file.read_text().splitlines() if t]


def address(n: int) -> str:
    p = n % PREFIXES
    return f"10.{p // 256}.{p % 256}.{1 + (n // PREFIXES) % 254}"


def forwarded_for(i: int, load: Load) -> str:
    """The X-Forwarded-For of request number i (the Lua script's `request` does the same)."""
    if load.addresses == "token":
        return address(i % len(load.tokens))
    if load.addresses == "fixed":
        return FIXED_ADDRESS
    return address(ROTATE_FROM + i % (PREFIXES - ROTATE_FROM))


def expected_count(statuses: dict[str, int], expected: frozenset[int]) -> int:
    return sum(statuses.get(str(code), 0) for code in expected)


def summarise(
    load: Load,
    *,
    generator: str,
    requests: int,
    seconds: float,
    statuses: dict[str, int],
    latency_ms: dict[str, float],
    socket_errors: int,
    reasons: dict[str, int],
    cpu_server_s: float | None,
    cpu_client_s: float | None,
) -> dict[str, Any]:
    good = expected_count(statuses, load.expected)
    return {
        "generator": generator,
        "connections": load.connections,
        "seconds": round(seconds, 2),
        "requests": requests,
        "requests_per_s": round(requests / seconds, 1),
        "expected": sorted(load.expected),
        "expected_per_s": round(good / seconds, 1),
        "latency_ms": {k: round(v, 2) for k, v in latency_ms.items()},
        "statuses": statuses,
        "refusals": dict(sorted(reasons.items())),  # "status reason [budget]": count
        "unexpected": requests - good,
        "socket_errors": socket_errors,
        "5xx": statuses["5xx"],
        "server_cpu_ms_per_request": (
            round(1000 * cpu_server_s / requests, 3) if cpu_server_s and requests else None
        ),
        "client_cpu_ms_per_request": (
            round(1000 * cpu_client_s / requests, 3) if cpu_client_s and requests else None
        ),
    }


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_wrk(wrk: str, server: Server, load: Load, duration: float, work: Path) -> dict[str, Any]:
    threads = 1 if load.connections < 16 else 2
    script = work / "bench_http.lua"
    if not script.exists():
        script.write_text(WRK_LUA)
    cmd = [
        wrk,
        "-t",
        str(threads),
        "-c",
        str(load.connections),
        "-d",
        f"{duration:g}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        server.url + load.path,
        "--",
        str(load.tokens_file) if load.tokens_file else "-",
        str(server.next_request),
        str(threads),
        load.path,
        load.addresses,
    ]
    cpu0, client0 = group_cpu_seconds(server.proc.pid), children_cpu()
    sys0 = group_cpu_seconds(server.proc.pid, system_only=True)
    with profiling(server, load, duration) as samples:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    cpu1, client1 = group_cpu_seconds(server.proc.pid), children_cpu()
    sys1 = group_cpu_seconds(server.proc.pid, system_only=True)
    line = next((x for x in run.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if run.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({run.returncode}): {run.stdout}\n{run.stderr}")
    out = json.loads(line.removeprefix("WRKJSON "))
    # Numbers the threads may have used, plus those of requests still in flight at the end.
    server.advance(load, out["max_sent_per_thread"] * threads + load.connections)
    lat = out["latency_us"]
    summary = summarise(
        load,
        generator="wrk",
        requests=out["requests"],
        seconds=out["duration_us"] / 1e6,
        statuses=out["statuses"],
        latency_ms={k: lat[k] / 1000 for k in ("p50", "p90", "p99", "max")},
        socket_errors=sum(out["errors"].values()),
        reasons=out["reasons"],
        cpu_server_s=None if cpu0 is None or cpu1 is None else cpu1 - cpu0,
        cpu_client_s=client1 - client0,
    )
    if sys0 is not None and sys1 is not None and out["requests"]:
        summary["server_system_cpu_ms_per_request"] = round(
            1000 * (sys1 - sys0) / out["requests"], 3
        )
    cpu_ms = summary["server_cpu_ms_per_request"]
    if samples is not None and samples.exists() and cpu_ms:
        # The server's CPU time a request, shared out by stage (py-spy samples).
        summary["stages_ms"] = {k: round(v * cpu_ms, 3) for k, v in stages(samples).items()}
        for stage, ms in summary["stages_ms"].items():
            print(f"    {ms:6.2f} ms  {stage}", flush=True)
    return summary


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


async def _python_load(server: Server, load: Load, total: int) -> dict[str, Any]:
    import httpx

    statuses = dict.fromkeys(STATUS_KEYS, 0)
    reasons: dict[str, int] = {}
    latencies: list[float] = []
    errors = 0
    first = server.next_request
    numbers = iter(range(first, first + total))
    limits = httpx.Limits(max_connections=load.connections, max_keepalive_connections=None)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as client:

        async def one_connection() -> None:
            nonlocal errors
            for i in numbers:  # shared: each number is taken once
                headers = {"X-Forwarded-For": forwarded_for(i, load)}
                if load.tokens:
                    headers["Authorization"] = "Bearer " + load.tokens[i % len(load.tokens)]
                t0 = time.perf_counter()
                try:
                    r = await client.get(load.path, headers=headers)
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - t0)
                code = r.status_code
                if str(code) in statuses and code != 503:
                    statuses[str(code)] += 1
                elif 500 <= code <= 599:
                    statuses["5xx"] += 1
                    statuses["503"] += code == 503
                else:
                    statuses["other"] += 1
                if code != 200:
                    try:
                        problem = r.json()
                    except ValueError:
                        problem = {}
                    key = f"{code} {problem.get('reason') or '-'}"
                    if problem.get("budget"):
                        key += f" {problem['budget']}"
                    reasons[key] = reasons.get(key, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(one_connection() for _ in range(load.connections)))
        seconds = time.perf_counter() - started
    server.advance(load, total)
    latencies.sort()
    return {
        "requests": len(latencies),
        "seconds": seconds,
        "statuses": statuses,
        "latency_ms": {
            "p50": 1000 * percentile(latencies, 50),
            "p90": 1000 * percentile(latencies, 90),
            "p99": 1000 * percentile(latencies, 99),
            "max": 1000 * (latencies[-1] if latencies else 0.0),
        },
        "socket_errors": errors,
        "reasons": reasons,
    }


def run_python(server: Server, load: Load, total: int) -> dict[str, Any]:
    cpu0 = group_cpu_seconds(server.proc.pid)
    out = asyncio.run(_python_load(server, load, total))
    cpu1 = group_cpu_seconds(server.proc.pid)
    return summarise(
        load,
        generator="python",
        cpu_server_s=None if cpu0 is None or cpu1 is None else cpu1 - cpu0,
        cpu_client_s=None,
        **out,
    )


PROFILE_DIR: Path | None = None  # --profile: py-spy samples of Strongroom's server


def py_spy() -> str:
    """py-spy beside this Python (a venv's bin) or on the PATH, or a clear exit."""
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("--profile needs py-spy: pip install py-spy")
    return found


@contextlib.contextmanager
def profiling(server: Server, load: Load, duration: float) -> Iterator[Path | None]:
    """Sample the server's processes with py-spy while a load runs (--profile DIR): one
    file of GIL-holding stacks per run (benchmarks/profile_stages.py reads it); `py-spy`
    must be installed (pip install py-spy)."""
    if PROFILE_DIR is None or server.name != "strongroom":
        yield None
        return
    PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    name = f"{load.path.strip('/').replace('/', '_')}-{load.addresses}-c{load.connections}"
    out = PROFILE_DIR / f"{name}-{server.next_request}.txt"
    spy = subprocess.Popen(
        [
            py_spy(),
            "record",
            "--pid",
            str(server.proc.pid),
            "--subprocesses",
            "--format",
            "raw",
            "--rate",
            "200",
            "--duration",
            str(max(1, int(duration))),
            "--output",
            str(out),
            "--nonblocking",
            "--gil",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield out
    finally:
        spy.wait(timeout=duration + 30)


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is missing and this is not root: apt-get install wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("installing wrk (apt-get install -y wrk)", flush=True)
    if subprocess.call(["apt-get", "install", "-y", "-q", "wrk"], env=env) != 0:
        subprocess.check_call(["apt-get", "update", "-q"], env=env)
        subprocess.check_call(["apt-get", "install", "-y", "-q", "wrk"], env=env)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is still missing after apt-get install")
    return found


def wrk_version(wrk: str) -> str:
    run = subprocess.run([wrk, "-v"], capture_output=True, text=True)
    match = re.search(r"wrk \S+", run.stdout + run.stderr)
    return match.group(0) if match else "wrk"


# --- the run ----------------------------------------------------------------------------

REFUSALS = (
    "refused_exhausted",
    "refused_exhausted_one_client",
    "refused_unauthenticated",
    "refused_contained",
)
GOALS = {"allowed_reads_ratio": 0.5, "allowed_reads_p99_ms": 50.0, "refusals_ratio": 0.8}


def scenarios(fx: Fixture, sitting: int) -> dict[str, tuple[Load, Load]]:
    """name -> (Strongroom's load, the bare app's: the same requests, answered 200). Each
    sitting hammers owners of its own: a suspension by the detectors outlives a server."""
    ok = frozenset({200})
    weapon = "/v1/cases"  # any route: a suspended account is refused at authentication
    hammered, one_client = fx.spare_files[2 * sitting], fx.spare_files[2 * sitting + 1]
    return {
        # Owners at home, each from its own address, each reading its own record.
        "allowed_reads": (
            Load("/v1/me", fx.tokens_file, ok, "token"),
            Load("/v1/me", fx.tokens_file, ok, "token"),
        ),
        # One owner token from ever new addresses: its first reads pass, then the owner's
        # budget refuses (429) until the detectors suspend the session (401).
        "refused_exhausted": (
            Load("/v1/me", hammered, frozenset({200, 401, 403, 429})),
            Load("/v1/me", hammered, ok),
        ),
        # The same from one client address: the owner's budget (429), then the door's
        # per-prefix budget (429, before the token is read).
        "refused_exhausted_one_client": (
            Load("/v1/me", one_client, frozenset({200, 429}), "fixed"),
            Load("/v1/me", one_client, ok, "fixed"),
        ),
        "refused_unauthenticated": (
            Load("/v1/me", None, frozenset({401})),
            Load("/v1/me", None, ok),
        ),
        # A police account suspended before the server started.
        "refused_contained": (
            Load(weapon, fx.police_file, frozenset({401, 403})),
            Load(weapon, fx.police_file, ok),
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per wrk run")
    parser.add_argument("--persons", type=int, default=3000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 16, 64, 200])
    parser.add_argument("--quick", action="store_true", help="small, no wrk, no install")
    parser.add_argument(
        "--max-inflight", type=int, help="the home's max_inflight (requests served at once)"
    )
    parser.add_argument("--only", nargs="+", help="run only these scenarios (names above)")
    parser.add_argument(
        "--profile", type=Path, help="write py-spy samples of Strongroom's server here"
    )
    args = parser.parse_args()
    global PROFILE_DIR
    PROFILE_DIR = args.profile
    if PROFILE_DIR is not None:
        py_spy()  # before any home is built
    quick_requests = 150
    if args.quick:
        args.persons = 600

    # A SIGTERM to the benchmark still runs every `finally` (servers stopped, temp removed).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    wrk = None if args.quick else ensure_wrk()
    started = time.perf_counter()
    results: dict[str, Any] = {
        "quick": args.quick,
        "load_generator": "python (asyncio + httpx)" if wrk is None else wrk_version(wrk),
        "seconds_per_run": args.duration if wrk else None,
        "requests_per_run": quick_requests if wrk is None else None,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "goals": GOALS,
    }

    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        fx = build_home(root, args.persons, max_inflight=args.max_inflight)
        print(
            f"home: {args.persons:,} persons, {fx.owners:,} owner tokens rotated "
            f"({time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
        results["persons"] = args.persons
        results["owner_tokens"] = fx.owners
        env, work = run_folders(root, fx)

        def measure(server: Server, load: Load) -> dict[str, Any]:
            if wrk is None:
                return run_python(server, load, quick_requests)
            return run_wrk(wrk, server, load, args.duration, work)

        def warm(server: Server, load: Load) -> None:
            if wrk is None:
                run_python(server, load, 20)
            else:
                run_wrk(wrk, server, load, 2, work)

        by_workers: dict[str, Any] = {}
        per_connections: dict[str, Any] = {}
        for k, workers in enumerate(args.workers):
            loads = scenarios(fx, k)
            sitting: dict[str, Any] = {}
            log_sr = root / f"strongroom-{workers}.log"
            with (
                serving("bare", bare_cmd(workers), env, root / f"bare-{workers}.log") as bare,
                serving("strongroom", strongroom_cmd(workers), env, log_sr) as sr,
            ):
                warm(bare, loads["allowed_reads"][1])
                warm(sr, loads["allowed_reads"][0])
                for name, (sr_load, bare_load) in loads.items():
                    if args.only and name not in args.only:
                        continue
                    b = measure(bare, bare_load)
                    s = measure(sr, sr_load)
                    sitting[name] = pair(s, b)
                    print(line(name, workers, sitting[name]), flush=True)
                if workers == 1 and "allowed_reads" in sitting:
                    # What the thread pool costs a request: the same answer from a plain
                    # `def` route (a worker thread, as Strongroom's) and an `async def` one.
                    sync_load = loads["allowed_reads"][1]
                    in_thread = measure(bare, sync_load)
                    on_loop = measure(bare, dataclasses.replace(sync_load, path="/v1/me-async"))
                    results["thread_handover"] = {
                        "def_cpu_ms": in_thread["server_cpu_ms_per_request"],
                        "async_cpu_ms": on_loop["server_cpu_ms_per_request"],
                        "def_per_s": in_thread["expected_per_s"],
                        "async_per_s": on_loop["expected_per_s"],
                    }
                    print(f"thread hand-over (bare app): {results['thread_handover']}", flush=True)
                    for c in args.connections:
                        if c == 16:
                            per_connections[str(c)] = sitting["allowed_reads"]
                            continue
                        sr_load, bare_load = loads["allowed_reads"]
                        b = measure(bare, dataclasses.replace(bare_load, connections=c))
                        s = measure(sr, dataclasses.replace(sr_load, connections=c))
                        per_connections[str(c)] = pair(s, b)
                        print(line(f"allowed_reads c={c}", workers, per_connections[str(c)]))
                # Each owner read at most this often in this server's life (budget: 60/h).
                sitting["max_reads_per_owner"] = sr.reads_per_owner
                if sitting["max_reads_per_owner"] > OWNER_READS_MAX:
                    print("warning: some owners went over their hourly budget", flush=True)
            sitting["server_log_errors"] = count_log_errors(log_sr)
            by_workers[str(workers)] = sitting
        results["workers"] = by_workers
        results["allowed_reads_by_connections_1_worker"] = dict(
            sorted(per_connections.items(), key=lambda kv: int(kv[0]))
        )
    results["ratios"] = ratios(results)
    results["seconds"] = round(time.perf_counter() - started, 1)

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "http.json").write_text(json.dumps(results, indent=2))
    (RESULTS / "http.svg").write_text(chart(results))
    print_table(results)
    print(f"wrote {RESULTS / 'http.json'} and http.svg in {results['seconds']} s")
    return 0


def pair(strongroom: dict[str, Any], bare: dict[str, Any]) -> dict[str, Any]:
    base = bare["expected_per_s"]
    return {
        "strongroom": strongroom,
        "bare": bare,
        "ratio": round(strongroom["expected_per_s"] / base, 3) if base else None,
    }


def line(name: str, workers: int, p: dict[str, Any]) -> str:
    s, b = p["strongroom"], p["bare"]
    return (
        f"{name:28} w={workers}  strongroom {s['expected_per_s']:8,.0f}/s "
        f"p99 {s['latency_ms']['p99']:7.1f} ms  |  bare {b['expected_per_s']:8,.0f}/s "
        f"p99 {b['latency_ms']['p99']:7.1f} ms  |  ratio {p['ratio']}"
    )


def count_log_errors(path: Path) -> int:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return 0
    return sum(1 for x in text.splitlines() if "ERROR" in x or x.startswith("Traceback"))


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for workers, sitting in results["workers"].items():
        reads = sitting.get("allowed_reads")
        if reads is not None:
            p99 = reads["strongroom"]["latency_ms"]["p99"]
            out[f"allowed_reads_{workers}w"] = {
                "ratio": reads["ratio"],
                "p99_ms": p99,
                "goal_met": (reads["ratio"] or 0) >= GOALS["allowed_reads_ratio"]
                and p99 <= GOALS["allowed_reads_p99_ms"],
            }
        for name in REFUSALS:
            if name not in sitting:  # --only
                continue
            r = sitting[name]["ratio"]
            out[f"{name}_{workers}w"] = {
                "ratio": r,
                "goal_met": (r or 0) >= GOALS["refusals_ratio"],
            }
    for c, p in results["allowed_reads_by_connections_1_worker"].items():
        s = p["strongroom"]
        out[f"allowed_reads_1w_c{c}"] = {
            "ratio": p["ratio"],
            "p99_ms": s["latency_ms"]["p99"],
            "5xx": s["5xx"],
            "errors": s["socket_errors"] + s["unexpected"],
        }
    return out


def print_table(results: dict[str, Any]) -> None:
    head = (
        f"{'scenario':28} {'w':>1} {'c':>3} | {'strongroom/s':>12} {'p50':>6} {'p99':>7} "
        f"{'5xx':>5} {'err':>5} {'ms cpu':>6} | {'bare/s':>8} {'p99':>6} {'ms cpu':>6} | "
        f"{'ratio':>5}"
    )
    print()
    print(f"load generator: {results['load_generator']}; latency in ms; ms cpu = server CPU")
    print("time per request; err = socket errors + unexpected statuses")
    print(head)
    print("-" * len(head))
    rows: list[tuple[str, str, dict[str, Any]]] = []
    for workers, sitting in results["workers"].items():
        for name in ("allowed_reads", *REFUSALS):
            if name in sitting:  # --only
                rows.append((name, workers, sitting[name]))
    for c, p in results["allowed_reads_by_connections_1_worker"].items():
        if c != "16":
            rows.append((f"allowed_reads c={c}", "1", p))

    def cpu(x: dict[str, Any]) -> str:
        v = x["server_cpu_ms_per_request"]
        return f"{v:6.2f}" if v is not None else f"{'-':>6}"

    for name, workers, p in rows:
        s, b = p["strongroom"], p["bare"]
        print(
            f"{name:28} {workers:>1} {s['connections']:>3} | {s['expected_per_s']:12,.0f} "
            f"{s['latency_ms']['p50']:6.1f} {s['latency_ms']['p99']:7.1f} {s['5xx']:5d} "
            f"{s['socket_errors'] + s['unexpected']:5d} {cpu(s)} | "
            f"{b['expected_per_s']:8,.0f} {b['latency_ms']['p99']:6.1f} {cpu(b)} | "
            f"{p['ratio'] if p['ratio'] is not None else '-':>5}"
        )
    print()
    for key, r in results["ratios"].items():
        if "goal_met" in r:
            print(f"{key:36} ratio {r['ratio']}  goal {'met' if r['goal_met'] else 'NOT met'}")


# --- the chart (SVG by hand) ------------------------------------------------------------

COLOURS = {"strongroom": "#2a6f97", "bare": "#c9c9c9"}


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def bar_panel(
    x: float,
    y: float,
    w: float,
    h: float,
    title: str,
    groups: list[str],
    series: dict[str, list[float]],
    unit: str,
) -> list[str]:
    out = [
        f'<text x="{x}" y="{y - 8}" font-size="13" font-weight="bold">{_esc(title)}</text>',
        f'<line x1="{x}" y1="{y + h}" x2="{x + w}" y2="{y + h}" stroke="#444"/>',
    ]
    top = max([v for vs in series.values() for v in vs] + [1e-9]) * 1.15
    gw = w / max(1, len(groups))
    bw = gw * 0.8 / max(1, len(series))
    for gi, group in enumerate(groups):
        gx = x + gi * gw + gw * 0.1
        for si, (name, values) in enumerate(series.items()):
            v = values[gi]
            bh = h * v / top
            bx = gx + si * bw
            out.append(
                f'<rect x="{bx:.1f}" y="{y + h - bh:.1f}" width="{bw - 2:.1f}" '
                f'height="{bh:.1f}" fill="{COLOURS.get(name, "#888")}"/>'
            )
            label = f"{v:,.0f}" if v >= 10 else f"{v:.1f}"
            out.append(
                f'<text x="{bx + (bw - 2) / 2:.1f}" y="{y + h - bh - 3:.1f}" font-size="9" '
                f'text-anchor="middle">{label}</text>'
            )
        for k, part in enumerate(group.split("\n")):
            out.append(
                f'<text x="{gx + gw * 0.4:.1f}" y="{y + h + 14 + 11 * k}" font-size="10" '
                f'text-anchor="middle">{_esc(part)}</text>'
            )
    out.append(
        f'<text x="{x + w}" y="{y - 8}" font-size="10" text-anchor="end">{_esc(unit)}</text>'
    )
    return out


def chart(results: dict[str, Any]) -> str:
    short = {
        "allowed_reads": "reads",
        "refused_exhausted": "hammered",
        "refused_exhausted_one_client": "hammered\n1 client",
        "refused_unauthenticated": "401 no token",
        "refused_contained": "contained",
    }
    groups, sr, bare = [], [], []
    for workers, sitting in results["workers"].items():
        for name, label in short.items():
            if name not in sitting:  # --only
                continue
            groups.append(f"{label}\n{workers} worker{'s' if workers != '1' else ''}")
            sr.append(sitting[name]["strongroom"]["expected_per_s"])
            bare.append(sitting[name]["bare"]["expected_per_s"])
    by_c = results["allowed_reads_by_connections_1_worker"]
    conns = [f"{c} conn" for c in by_c]
    width, height = 900, 700
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        '<text x="20" y="24" font-size="15" font-weight="bold">Strongroom vs bare FastAPI '
        f"over HTTP ({_esc(results['load_generator'])}, 127.0.0.1)</text>",
    ]
    legend_y = 44
    for i, (name, colour) in enumerate(COLOURS.items()):
        parts.append(
            f'<rect x="{20 + i * 130}" y="{legend_y - 10}" width="12" height="12" '
            f'fill="{colour}"/>'
            f'<text x="{36 + i * 130}" y="{legend_y}" font-size="12">{name}</text>'
        )
    parts += bar_panel(
        50,
        90,
        820,
        200,
        "Expected answers per second, 16 connections",
        groups,
        {"strongroom": sr, "bare": bare},
        "answers/s",
    )
    parts += bar_panel(
        50,
        380,
        380,
        220,
        "Allowed reads per second by connections (1 worker)",
        conns,
        {
            "strongroom": [p["strongroom"]["expected_per_s"] for p in by_c.values()],
            "bare": [p["bare"]["expected_per_s"] for p in by_c.values()],
        },
        "reads/s",
    )
    parts += bar_panel(
        490,
        380,
        380,
        220,
        "p99 latency by connections (1 worker)",
        conns,
        {
            "strongroom": [p["strongroom"]["latency_ms"]["p99"] for p in by_c.values()],
            "bare": [p["bare"]["latency_ms"]["p99"] for p in by_c.values()],
        },
        "ms",
    )
    parts.append(
        f'<text x="20" y="{height - 20}" font-size="10">'
        f"{'quick smoke run (not figures)' if results['quick'] else 'measured'}; "
        f"{results['cpus']} CPUs shared by client and servers</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    sys.exit(main())
