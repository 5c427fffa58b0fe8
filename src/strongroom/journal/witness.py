"""Checkpoints that someone else holds: submitting them to witnesses, C2SP tlog-witness
`add-checkpoint`, and reading back the latest one a witness cosigned.

    POST <witness URL>/add-checkpoint
    old <size the witness last saw>
    <consistency proof from that size, one base64 hash a line>
    <blank line>
    <signed checkpoint>

A 200 answer carries the witness's cosignature lines (C2SP tlog-cosignature). A 409 answer
names, in its body, the size the witness already holds; we then resend once with a proof
from that size. Any other answer or a network failure raises `Unavailable`: the checkpoint
stays stored and exported locally, and the next submission catches up.

    GET <witness URL>/checkpoint/<log origin>

answers the latest checkpoint the witness cosigned for that log, with the log's signature
and the witness's cosignature (strongroom's own witness, `strongroom witness serve`, serves
it; tlog-witness leaves monitor retrieval open). `journal verify` compares the journal with
it: a journal that lost, truncated or rolled back what a witness holds fails.

A deployment names its witnesses in config.toml, one string each: the witness's URL, a
space, and its tlog-cosignature verifier key (`WitnessSpec.parse`).
"""

from __future__ import annotations

import base64
import logging
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from strongroom import metrics
from strongroom.errors import StrongroomError, Unavailable
from strongroom.journal.checkpoint import Checkpoint, CheckpointError, parse_checkpoint
from strongroom.journal.cosignature import CosignatureVerifier
from strongroom.journal.lease import Lease
from strongroom.journal.log import Journal
from strongroom.journal.note import NoteError, NoteVerifier, open_note
from strongroom.journal.verify import VerifyReport

log = logging.getLogger("strongroom.journal.witness")
SIZE_CONTENT_TYPE = "text/x.tlog.size"
NOTE_CONTENT_TYPE = "text/plain; charset=utf-8"
MAX_ANSWER = 64 * 1024  # a checkpoint and its signatures are a few hundred bytes
# While a witness holds nothing of a journal that has entries, rounds come this often
# (doubling after a failed one, up to the interval): until its first checkpoint reaches a
# witness, a journal truncated or rolled back leaves no trace anyone else holds.
PROMPT_SECONDS = 1.0


@dataclass(frozen=True)
class WitnessSpec:
    """A witness a deployment trusts: where it answers, and the key it cosigns with."""

    url: str
    verifier: CosignatureVerifier

    @classmethod
    def parse(cls, text: str) -> WitnessSpec:
        """`"<URL> <verifier key>"`; ValueError saying what is wrong."""
        parts = text.split()
        if len(parts) != 2:
            raise ValueError("want the witness URL, a space, and its verifier key")
        url, vkey = parts
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"{url!r} is not an http(s) URL")
        if parsed.query or parsed.fragment:
            raise ValueError(f"{url!r}: a witness URL has no query or fragment")
        try:
            verifier = CosignatureVerifier.from_key(vkey)
        except NoteError as exc:
            raise ValueError(f"witness key: {exc}") from exc
        return cls(url.rstrip("/"), verifier)

    @property
    def name(self) -> str:
        return self.verifier.name

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"


def witness_specs(texts: tuple[str, ...]) -> tuple[WitnessSpec, ...]:
    """The witnesses of config.toml's `witnesses` (already validated when read)."""
    return tuple(WitnessSpec.parse(t) for t in texts)


def add_checkpoint_body(old_size: int, proof: list[bytes], note: str) -> str:
    lines = [f"old {old_size}", *(base64.b64encode(h).decode() for h in proof)]
    return "\n".join(lines) + "\n\n" + note


@dataclass(frozen=True)
class Submitted:
    size: int
    cosignatures: str


def submit_checkpoint(
    journal: Journal,
    witness_url: str,
    *,
    old_size: int = 0,
    note: str | None = None,
    verifier: CosignatureVerifier | None = None,
    timeout: float = 10.0,
    client: httpx.Client | None = None,
) -> Submitted:
    """Send the journal's latest (or the given) checkpoint to the witness. With `verifier`,
    the answer must hold that witness's valid cosignature on it. `client`: a kept-alive
    client (tlog-witness asks for it; a new client a call also costs building its TLS
    context, tens of milliseconds)."""
    note = note or journal.latest_checkpoint()
    if note is None:
        raise Unavailable("the journal has no checkpoint to submit")
    if journal.verifier is None:
        raise Unavailable("no checkpoint verifier key")
    text = open_note(note, [journal.verifier])
    size = parse_checkpoint(text).size
    url = witness_url.rstrip("/") + "/add-checkpoint"
    for _ in range(2):
        old = min(old_size, size)
        body = add_checkpoint_body(old, journal.consistency_proof(old, size), note)
        try:
            resp = (client or httpx).post(
                url, content=body.encode(), timeout=timeout, headers={"Content-Type": "text/plain"}
            )
        except httpx.HTTPError as exc:
            raise Unavailable(f"witness unreachable: {exc.__class__.__name__}") from exc
        if resp.status_code == 200:
            if verifier is not None:
                try:
                    verifier.verify(text + "\n" + resp.text)
                except NoteError as exc:
                    raise Unavailable(f"the witness's answer does not verify: {exc}") from exc
            return Submitted(size, resp.text)
        held = resp.text.strip()
        if resp.status_code == 409 and held.isascii() and held.isdigit() and len(held) < 20:
            old_size = int(held)
            continue
        why = resp.text.strip().splitlines()[0][:200] if resp.text.strip() else ""
        because = f" ({why})" if why else ""
        raise Unavailable(f"witness refused the checkpoint: HTTP {resp.status_code}{because}")
    raise Unavailable(
        f"witness holds size {old_size}, which the journal's size {size} does not extend"
    )


def submit(
    journal: Journal,
    witness_url: str,
    *,
    old_size: int = 0,
    note: str | None = None,
    timeout: float = 10.0,
) -> str:
    """Send the journal's latest (or the given) checkpoint to the witness; return its
    cosignature lines."""
    return submit_checkpoint(
        journal, witness_url, old_size=old_size, note=note, timeout=timeout
    ).cosignatures


def latest_url(witness_url: str, origin: str) -> str:
    return f"{witness_url.rstrip('/')}/checkpoint/{urllib.parse.quote(origin, safe='/')}"


def fetch_cosigned(
    witness: WitnessSpec,
    log_verifier: NoteVerifier,
    *,
    timeout: float = 10.0,
    client: httpx.Client | None = None,
) -> Checkpoint | None:
    """The latest checkpoint of our log that `witness` cosigned, both signatures checked;
    None when the witness holds none. Unavailable when it cannot be read or trusted."""
    try:
        resp = (client or httpx).get(latest_url(witness.url, log_verifier.name), timeout=timeout)
    except httpx.HTTPError as exc:
        raise Unavailable(f"witness {witness} unreachable: {exc.__class__.__name__}") from exc
    if resp.status_code == 404:
        return None
    if resp.status_code != 200 or len(resp.content) > MAX_ANSWER:
        raise Unavailable(f"witness {witness} answered HTTP {resp.status_code}")
    try:
        witness.verifier.verify(resp.text)
        cp = parse_checkpoint(open_note(resp.text, [log_verifier]))
        if cp.origin != log_verifier.name:
            raise CheckpointError(f"origin {cp.origin!r}, not this journal's")
        return cp
    except (NoteError, CheckpointError) as exc:
        raise Unavailable(f"witness {witness}: its checkpoint does not verify: {exc}") from exc


def verify_with_witnesses(
    journal: Journal,
    witnesses: tuple[WitnessSpec, ...] | list[WitnessSpec],
    progress: Callable[[int, int], None] | None = None,
) -> tuple[VerifyReport, list[str]]:
    """`journal.verify()` held to the latest checkpoint each witness cosigned; also what
    each witness holds, as lines for a person. A witness that cannot be asked, or whose
    answer does not verify, is a problem: blocking a witness must not be a way to have a
    truncated journal pass. So is one that holds nothing of a journal that has entries
    (`unwitnessed`): nothing it holds could show that journal truncated or rolled back,
    and "OK" would promise what no witness backs. An empty journal has nothing to hold."""
    witnessed: list[tuple[str, Checkpoint]] = []
    failures: list[str] = []
    notes: list[str] = []
    unheld: list[WitnessSpec] = []
    verifier = journal.verifier
    if witnesses and verifier is None:
        failures.append("no checkpoint verifier key: the witnesses were not asked")
    elif verifier is not None:
        for w in witnesses:
            try:
                cp = fetch_cosigned(w, verifier)
            except Unavailable as exc:
                failures.append(exc.detail)
                continue
            if cp is None:
                unheld.append(w)
                notes.append(f"witness {w} holds no checkpoint of this journal")
            else:
                witnessed.append((str(w), cp))
                notes.append(f"witness {w} holds size {cp.size} (checkpoint {cp.seq})")
    report: VerifyReport = journal.verify(witnessed, progress)
    for message in failures:
        report.add(None, "witness", message)
    for w in unheld if report.size else ():
        report.add(
            None,
            "unwitnessed",
            f"witness {w} holds no checkpoint of this journal, which holds {report.size} "
            "entries: not yet witnessed, so a truncation or rollback would go unseen (a "
            "serving node sends one within seconds of its first entry; `strongroom "
            "journal checkpoint` sends one now)",
        )
    return report, notes


@dataclass
class WitnessPusher:
    """Sends each new checkpoint to every configured witness, from a thread of its own, so
    no request ever waits for a witness. A witness that fails is logged and tried again on
    the next round; the sizes each witness acknowledged are remembered, so a round sends
    only what a witness lacks, with a proof from what it holds.

    With a `lease` (several workers or nodes on one registry database) only the worker
    holding it sends; it keeps the acknowledged sizes in the lease, so the others report
    them and whoever holds the lease next goes on from there. When the server stops,
    `final_round` sends the checkpoint signed at the stop, whoever holds the lease.

    A witness that holds nothing of the journal is served at once: the sending worker's
    first round signs the journal's unsigned tail and sends it, and while any witness
    still lacks a checkpoint of a journal that has entries (a new deployment before its
    first request, a witness just added) rounds come every PROMPT_SECONDS, each signing
    the tail first. So a new journal is witnessed within seconds of its first entry, not
    after the writer's first timed checkpoint and the next round, up to two minutes."""

    journal: Journal
    witnesses: tuple[WitnessSpec, ...]
    every: float
    timeout: float = 10.0
    lease: Lease | None = None
    acked: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _said: dict[str, str] = field(default_factory=dict)
    _client: httpx.Client = field(default_factory=httpx.Client)
    signed: int = 0  # the size of the latest checkpoint a round saw
    _sent_rounds: int = 0
    _failed: bool = False  # a submission of the last round failed

    def lag(self) -> dict[str, int]:
        """Per witness name, the signed entries it has not acknowledged (for /metrics)."""
        return {w.name: max(0, self.signed - self.acked.get(w.url, 0)) for w in self.witnesses}

    def tick(self) -> int:
        """One round; the number of witnesses that now hold the latest checkpoint."""
        held = self.lease is None or self.lease.hold()
        return self._round(self._client, self.timeout, send=held)

    def final_round(self, within: float) -> int:
        """For a stopping server, after its journal's tail is signed: send the latest
        checkpoint to the witnesses that lack it, whichever worker holds the lease, giving
        up after `within` seconds (a witness that hangs must not hold the stop). Then the
        lease is let go, for a worker or node that stays up."""
        done: list[int] = []

        def run() -> None:
            try:
                with httpx.Client() as client:
                    done.append(self._round(client, within, send=True))
            except Exception:  # noqa: BLE001 - logged; the stop goes on
                log.exception("the last witness round failed")

        worker = threading.Thread(target=run, name="witness-final", daemon=True)
        worker.start()
        worker.join(within)
        if worker.is_alive():
            log.warning("the last checkpoint was not sent to every witness within %.0f s", within)
        if self.lease is not None:
            self.lease.release()
        return done[0] if done else 0

    def unwitnessed(self) -> bool:
        """Some witness has acknowledged no checkpoint of entries, as far as we know."""
        return any(self.acked.get(w.url, 0) < 1 for w in self.witnesses)

    def _sign_tail(self, note: str | None) -> str | None:
        """On the sending worker's first round, and while a witness holds nothing: a
        checkpoint of the entries the latest one does not cover (none of an empty
        journal: a witness holding size 0 would vouch for nothing). The latest
        checkpoint's note either way."""
        if self.journal.signer is None or self.journal.verifier is None:
            return note
        if self._sent_rounds and not self.unwitnessed():
            return note
        try:
            signed = 0
            if note is not None:
                signed = parse_checkpoint(open_note(note, [self.journal.verifier])).size
            if self.journal.size() > signed:
                return self.journal.make_checkpoint()
        except (StrongroomError, NoteError, CheckpointError) as exc:
            log.warning("the journal's tail was not signed for the witnesses: %s", exc)
        return note

    def _round(self, client: httpx.Client, timeout: float, *, send: bool) -> int:
        if self.lease is not None:
            # What the witnesses acknowledged to whichever worker sent last.
            shared = self.lease.state().get("acked", {})
            for url, n in shared.items() if isinstance(shared, dict) else ():
                if isinstance(n, int):
                    self.acked[url] = max(self.acked.get(url, 0), n)
        try:
            note = self.journal.latest_checkpoint()
            if send:
                note = self._sign_tail(note)
        except Unavailable as exc:
            log.warning("witness round skipped: %s", exc.detail)
            self._failed = True
            return 0
        if note is None or self.journal.verifier is None:
            return 0
        try:
            size = parse_checkpoint(open_note(note, [self.journal.verifier])).size
        except (NoteError, CheckpointError) as exc:
            log.error("the latest checkpoint does not verify; not sent to witnesses: %s", exc)
            return 0
        self.signed = size
        current = sum(1 for w in self.witnesses if self.acked.get(w.url, -1) >= size)
        if not send:
            return current
        self._sent_rounds += 1
        self._failed = False
        for w in self.witnesses:
            if self.acked.get(w.url, -1) >= size:
                continue
            try:
                done = submit_checkpoint(
                    self.journal,
                    w.url,
                    old_size=self.acked.get(w.url, 0),
                    note=note,
                    verifier=w.verifier,
                    timeout=timeout,
                    client=client,
                )
            except Unavailable as exc:
                metrics.WITNESS_SUBMISSIONS.labels("failed").inc()
                self._failed = True
                if self._said.get(w.url) != exc.detail:  # once per condition
                    log.warning("witness %s: %s (retried next round)", w, exc.detail)
                    self._said[w.url] = exc.detail
                continue
            metrics.WITNESS_SUBMISSIONS.labels("cosigned").inc()
            self._said.pop(w.url, None)
            self.acked[w.url] = done.size
            current += 1
        if self.lease is not None:
            self.lease.record({"acked": dict(self.acked)})
        return current

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="witness-push", daemon=True)
        self._thread.start()

    def stop(self, wait: float = 1.0) -> None:
        """Stop after the round in progress, waiting at most `wait` seconds: a stopping
        server must close its journal within its grace period, whatever a witness does.
        A round still waiting on a witness is abandoned (the thread is a daemon)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(wait)
            if self._thread.is_alive():
                return
        self._client.close()

    def _run(self) -> None:
        wait = 0.0
        while not self._stop.wait(wait):
            try:
                if wait < self.every and self._empty():
                    # Nothing to witness yet: looked at again in a moment, without taking
                    # the lease (a write) every second of an idle new deployment.
                    wait = PROMPT_SECONDS
                    continue
                self.tick()
            except Exception:  # noqa: BLE001 - the thread must outlive any one round
                log.exception("witness round failed")
            wait = self._next_wait(wait)

    def _empty(self) -> bool:
        try:
            return self.journal.size() == 0
        except Unavailable:
            return False  # the round says so, and backs off

    def _next_wait(self, last: float) -> float:
        if not self.unwitnessed():
            return self.every
        if self._failed:  # a witness that is down is not asked every second
            return min(self.every, max(PROMPT_SECONDS, 2 * last))
        return min(self.every, PROMPT_SECONDS)
