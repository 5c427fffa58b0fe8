"""A witness's home: its key, the logs it witnesses, and the latest checkpoint it cosigned
for each, kept apart from any registry's home (another machine, another operator).

witness.toml   name (the witness's key name) and logs (each log's checkpoint verifier key,
               whose name is the log's origin)
witness.key    the cosigning key (mode 0600), tlog-cosignature/v1 Ed25519
witness.vkey   its verifier key, for the logs' config.toml
witness.db     SQLite: per origin, the size, root and cosigned note last accepted
"""

from __future__ import annotations

import os
import sqlite3
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path

from strongroom.errors import BadRequest, Conflict
from strongroom.journal.cosignature import Cosigner
from strongroom.journal.note import NoteError, NoteVerifier, write_signer_key

CONFIG_FILE = "witness.toml"
KEY_FILE = "witness.key"
VKEY_FILE = "witness.vkey"
DB_FILE = "witness.db"


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class WitnessConfig:
    name: str
    logs: dict[str, list[NoteVerifier]]  # origin -> the keys its checkpoints may carry


def init_home(home: Path, name: str, log_keys: list[str]) -> Cosigner:
    """Create a witness home: a new key and the logs it witnesses. Refuse to replace one."""
    home = Path(home)
    if (home / "config.toml").exists() or (home / "keys").exists():
        # A witness that shares the registry's home shares its fate: whoever can rewrite
        # the journal can rewrite the witness's record too.
        raise BadRequest(f"{home} is a Strongroom home: a witness needs a home of its own")
    verifiers = _log_verifiers(log_keys, "--log-key")
    try:
        cosigner = Cosigner.generate(name)
    except NoteError as exc:
        raise BadRequest(f"invalid witness name: {exc}") from exc
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        write_signer_key(home / KEY_FILE, cosigner.signer_key)
    except FileExistsError as exc:
        raise Conflict(f"{home / KEY_FILE} already exists: this home has a witness") from exc
    (home / VKEY_FILE).write_text(cosigner.verifier().verifier_key + "\n", encoding="utf-8")
    _write_config(home, name, [v.verifier_key for v in verifiers])
    WitnessStore(home / DB_FILE).close()
    return cosigner


def _write_config(home: Path, name: str, log_keys: list[str]) -> None:
    logs = ", ".join(_toml_str(k) for k in log_keys)
    path = home / CONFIG_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(
        "# The witness's key name, and the checkpoint verifier keys of the logs it witnesses\n"
        "# (a key's name is its log's origin). Restart `strongroom witness serve` after edits.\n"
        f"name = {_toml_str(name)}\nlogs = [{logs}]\n",
        encoding="utf-8",
    )
    os.replace(tmp, path)


def add_log(home: Path, log_key: str) -> NoteVerifier:
    """Witness one more log (its checkpoint verifier key). Refuse a key already there."""
    config = load_config(home)
    (verifier,) = _log_verifiers([log_key], "--log-key")
    keys = [v.verifier_key for vs in config.logs.values() for v in vs]
    if verifier.verifier_key in keys:
        raise Conflict(f"{home} already witnesses {verifier.verifier_key}")
    _write_config(Path(home), config.name, [*keys, verifier.verifier_key])
    return verifier


def _log_verifiers(keys: list[str], where: str) -> list[NoteVerifier]:
    out = []
    for key in keys:
        try:
            out.append(NoteVerifier.from_key(key))
        except NoteError as exc:
            raise BadRequest(f"{where}: {key!r}: {exc}") from exc
    return out


def load_config(home: Path) -> WitnessConfig:
    path = Path(home) / CONFIG_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadRequest(f"no witness home at {home}: run `strongroom witness init`") from exc
    except tomllib.TOMLDecodeError as exc:
        raise BadRequest(f"{path}: {exc}") from exc
    unknown = sorted(set(raw) - {"name", "logs"})
    if unknown:
        raise BadRequest(f"{path}: unknown key(s) {', '.join(unknown)}")
    name, keys = raw.get("name"), raw.get("logs", [])
    if not isinstance(name, str) or not isinstance(keys, list):
        raise BadRequest(f"{path}: name must be a string and logs a list")
    logs: dict[str, list[NoteVerifier]] = {}
    for v in _log_verifiers([str(k) for k in keys], str(path)):
        logs.setdefault(v.name, []).append(v)
    return WitnessConfig(name, logs)


def load_cosigner(home: Path) -> Cosigner:
    path = Path(home) / KEY_FILE
    try:
        return Cosigner.from_key(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadRequest(f"cannot read the witness key {path}: {exc.strerror}") from exc
    except NoteError as exc:
        raise BadRequest(f"{path}: {exc}") from exc


@dataclass(frozen=True)
class Held:
    size: int
    root: bytes
    note: str


class WitnessStore:
    """The latest cosigned checkpoint per log, durable before the witness answers."""

    def __init__(self, path: Path) -> None:
        # One connection, used under a lock: the check against the held size and the write
        # of the new one are one step (tlog-witness requires it: two submissions racing
        # must not roll the record back). BEGIN IMMEDIATE extends that to other processes.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS checkpoints (origin TEXT PRIMARY KEY, "
            "size INTEGER NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL, "
            "updated INTEGER NOT NULL)"
        )
        self.lock = threading.Lock()

    def held(self, origin: str) -> Held | None:
        row = self._db.execute(
            "SELECT size, root, note FROM checkpoints WHERE origin = ?", (origin,)
        ).fetchone()
        return None if row is None else Held(int(row[0]), bytes(row[1]), str(row[2]))

    def begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self._db.execute("COMMIT")

    def rollback(self) -> None:
        self._db.execute("ROLLBACK")

    def put(self, origin: str, held: Held, now: int) -> None:
        self._db.execute(
            "INSERT INTO checkpoints (origin, size, root, note, updated) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(origin) DO UPDATE SET size = excluded.size, root = excluded.root, "
            "note = excluded.note, updated = excluded.updated",
            (origin, held.size, held.root, held.note, now),
        )

    def close(self) -> None:
        self._db.close()
