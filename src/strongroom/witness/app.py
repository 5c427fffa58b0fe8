"""The witness's HTTP interface (Starlette), C2SP tlog-witness:

    POST /add-checkpoint           old size, consistency proof, blank line, signed checkpoint
                                   200: our cosignature line (C2SP tlog-cosignature/v1)
                                   400 malformed, 403 no valid signature of the log,
                                   404 unknown log, 409 (+ our size, text/x.tlog.size) when
                                   `old` is not the size we hold, or same size and another
                                   root, 413 too large, 422 the proof does not verify
    GET  /checkpoint/<origin>      the latest checkpoint we cosigned for that log, with the
                                   log's signature and ours (404: none yet)
    GET  /                         our name and verifier key

Every refusal is a short text/plain answer; nothing a client sends reaches a stack trace.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from strongroom.clock import SYSTEM_CLOCK, Clock
from strongroom.journal import rfc6962
from strongroom.journal.cosignature import Cosigner
from strongroom.journal.note import NoteError, NoteUnsigned, open_note
from strongroom.witness.state import DB_FILE, Held, WitnessConfig, WitnessStore

log = logging.getLogger("strongroom.witness")
MAX_BODY = 16 * 1024  # 63 proof lines and a checkpoint with a few signatures: ~6 KiB
MAX_PROOF = 63
SIZE_CONTENT_TYPE = "text/x.tlog.size"


class Refused(Exception):
    def __init__(self, status: int, message: str, *, size: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.size = status, message, size

    def response(self) -> Response:
        if self.size is not None:  # tlog-witness: the body is our size, and only that
            return PlainTextResponse(f"{self.size}\n", 409, media_type=SIZE_CONTENT_TYPE)
        return PlainTextResponse(self.message + "\n", self.status)


def decimal(text: str) -> int | None:
    """A tree size as the specs write it: ASCII digits, no leading zero, below 2**63
    (str.isdigit alone admits "²", and int() refuses numbers of thousands of digits)."""
    if not (0 < len(text) <= 19 and text.isascii() and text.isdigit()):
        return None
    if text != "0" and text.startswith("0"):
        return None
    value = int(text)
    return value if value < 2**63 else None


@dataclass(frozen=True)
class Submission:
    old: int
    proof: list[bytes]
    note: str


def parse_submission(body: bytes) -> Submission:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, "the body is not UTF-8") from exc
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise Refused(400, "no blank line between the proof and the checkpoint")
    lines = head.split("\n")
    old_s = lines[0].removeprefix("old ")
    old = decimal(old_s)
    if old_s == lines[0] or old is None:
        raise Refused(400, "the first line must be `old <size>`")
    if len(lines) - 1 > MAX_PROOF:
        raise Refused(400, f"more than {MAX_PROOF} consistency proof lines")
    proof = []
    for line in lines[1:]:
        try:
            h = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Refused(400, "a proof line is not base64") from exc
        if len(h) != rfc6962.HASH_SIZE or base64.b64encode(h).decode() != line:
            raise Refused(400, "a proof line is not one base64 SHA-256 hash")
        proof.append(h)
    return Submission(old, proof, note)


def parse_tlog_checkpoint(text: str) -> tuple[str, int, bytes]:
    """Origin, size and root of a C2SP tlog-checkpoint; extension lines are signed but not
    read."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise Refused(400, "a checkpoint has at least three lines")
    origin, size_s, root_s = lines[:3]
    size = decimal(size_s)
    if size is None:
        raise Refused(400, "bad tree size line")
    try:
        root = base64.b64decode(root_s, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Refused(400, "bad root hash line") from exc
    if len(root) != rfc6962.HASH_SIZE or base64.b64encode(root).decode() != root_s:
        raise Refused(400, "bad root hash line")
    return origin, size, root


class Witness:
    def __init__(
        self, config: WitnessConfig, cosigner: Cosigner, store: WitnessStore, clock: Clock
    ):
        self.config, self.cosigner, self.store, self.clock = config, cosigner, store, clock

    def add_checkpoint(self, sub: Submission) -> str:
        """Check a submission and record it; our cosignature line. Raise Refused."""
        origin = sub.note.partition("\n")[0]
        verifiers = self.config.logs.get(origin)
        if verifiers is None:
            raise Refused(404, "unknown log origin")
        try:
            text = open_note(sub.note, verifiers)
        except NoteUnsigned as exc:
            raise Refused(403, f"the checkpoint is not signed by the log: {exc}") from exc
        except NoteError as exc:
            raise Refused(400, f"malformed signed note: {exc}") from exc
        _, size, root = parse_tlog_checkpoint(text)
        if sub.old > size:
            raise Refused(400, "old size is beyond the checkpoint's size")
        if sub.old == 0 and sub.proof:
            raise Refused(400, "a proof from size 0 must be empty")
        with self.store.lock:
            self.store.begin()
            try:
                line = self._record(origin, sub, text, size, root)
            except BaseException:
                self.store.rollback()
                raise
            self.store.commit()
        return line

    def _record(self, origin: str, sub: Submission, text: str, size: int, root: bytes) -> str:
        held = self.store.held(origin)
        held_size = 0 if held is None else held.size
        if sub.old != held_size:
            raise Refused(409, "old size differs from ours", size=held_size)
        if held is not None and sub.old == size:
            if held.root != root:
                # Validly signed, and another tree of the size we hold: evidence of a fork,
                # kept in our log (tlog-witness allows it) before we refuse.
                log.warning("log %s signed another root at size %d: a fork", origin, size)
                raise Refused(409, "same size, another root: a fork", size=held_size)
        elif held is not None and held.size > 0:  # every tree extends the empty one
            try:
                rfc6962.verify_consistency(held.size, size, sub.proof, held.root, root)
            except rfc6962.ProofError as exc:
                log.warning(
                    "log %s: no valid proof from our size %d to its signed %d (a fork, or a bad "
                    "proof)",
                    origin,
                    held.size,
                    size,
                )
                raise Refused(422, f"the consistency proof does not verify: {exc}") from exc
        now = int(self.clock.now())
        line = self.cosigner.cosign(text, now)
        signatures = sub.note[len(text) + 1 :]
        self.store.put(origin, Held(size, root, f"{text}\n{signatures}{line}"), now)
        return line

    def latest(self, origin: str) -> str | None:
        with self.store.lock:
            held = self.store.held(origin)
        return None if held is None else held.note


def create_witness_app(
    config: WitnessConfig, cosigner: Cosigner, home: Path, *, clock: Clock = SYSTEM_CLOCK
) -> Starlette:
    witness = Witness(config, cosigner, WitnessStore(Path(home) / DB_FILE), clock)

    async def add_checkpoint(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return PlainTextResponse("request body too large\n", 413)
        try:
            sub = parse_submission(bytes(body))
            line = await run_in_threadpool(witness.add_checkpoint, sub)
        except Refused as exc:
            return exc.response()
        except sqlite3.Error:
            # Nothing was cosigned: the log tries again next round.
            log.exception("the witness's database failed")
            return PlainTextResponse("the witness cannot record checkpoints now\n", 503)
        return PlainTextResponse(line)

    async def checkpoint(request: Request) -> Response:
        note = await run_in_threadpool(witness.latest, request.path_params["origin"])
        if note is None:
            return PlainTextResponse("no checkpoint of that log\n", 404)
        return PlainTextResponse(note)

    async def about(_request: Request) -> Response:
        return PlainTextResponse(f"{cosigner.name}\n{cosigner.verifier().verifier_key}\n")

    async def not_found(_request: Request, _exc: Exception) -> Response:
        return PlainTextResponse("not found\n", 404)

    async def not_allowed(_request: Request, _exc: Exception) -> Response:
        return PlainTextResponse("method not allowed\n", 405)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        witness.store.close()

    handlers: dict[int | type[Exception], Callable[..., object]] = {
        404: not_found,
        405: not_allowed,
    }
    app = Starlette(
        routes=[
            Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
            Route("/checkpoint/{origin:path}", checkpoint, methods=["GET"]),
            Route("/", about, methods=["GET"]),
        ],
        exception_handlers=handlers,  # type: ignore[arg-type]
        lifespan=lifespan,
    )
    return app
