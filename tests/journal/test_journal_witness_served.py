"""Checkpoints that someone else holds: `strongroom witness serve` run for real (a
subprocess on a free loopback port, its own home and key), journals submitting to it, and
`journal verify` holding a journal to what the witness cosigned. The attacks: every
checkpoint deleted from the journal's database, the journal truncated, rolled back and
regrown, a forked checkpoint, a checkpoint signed by another key; and the witness's record
surviving its restart."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from strongroom.cli.journal_cmds import journal_app
from strongroom.cli.witness_cmds import witness_app
from strongroom.clock import FakeClock
from strongroom.config import Home
from strongroom.errors import BadRequest, Unavailable
from strongroom.journal import Journal, NoteSigner, create_checkpoint_key, load_signer
from strongroom.journal.checkpoint import parse_checkpoint
from strongroom.journal.cosignature import CosignatureVerifier
from strongroom.journal.note import NoteError, NoteVerifier, open_note
from strongroom.journal.witness import (
    WitnessPusher,
    WitnessSpec,
    add_checkpoint_body,
    fetch_cosigned,
    submit_checkpoint,
)
from strongroom.posture.served import running
from tests.served import free_port

from .helpers import event

runner = CliRunner()
ORIGIN = "strongroom.local/journal"


@contextlib.contextmanager
def served_witness(home: Path, port: int) -> Iterator[str]:
    command = [sys.executable, "-m", "strongroom.cli.main", "witness", "serve"]
    command += ["--home", str(home), "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with running(command, dict(os.environ), home / "serve.log", url + "/"):
        yield url


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    h = Home(tmp_path / "home")
    h.ensure_dirs()
    h.write_config(h.default_settings())
    create_checkpoint_key(h.keys_dir, ORIGIN)
    monkeypatch.setenv("STRONGROOM_HOME", str(h.path))
    return h


@pytest.fixture
def witness_home(tmp_path: Path, home: Home) -> Path:
    wh = tmp_path / "witness"
    vkey = load_signer(home.keys_dir).verifier().verifier_key
    res = runner.invoke(witness_app, ["init", "--home", str(wh), "--name", "w.test/w1"])
    assert res.exit_code == 2  # a witness must be told which log it witnesses
    res = runner.invoke(
        witness_app, ["init", "--home", str(wh), "--name", "w.test/w1", "--log-key", vkey]
    )
    assert res.exit_code == 0, res.output
    again = ["init", "--home", str(wh), "--name", "w.test/w1", "--log-key", vkey]
    assert runner.invoke(witness_app, again).exit_code == 2  # never a second key
    return wh


@pytest.fixture
def witness(witness_home: Path, home: Home) -> Iterator[WitnessSpec]:
    with served_witness(witness_home, free_port()) as url:
        spec = WitnessSpec.parse(f"{url} {(witness_home / 'witness.vkey').read_text().strip()}")
        home.update_config(witnesses=[f"{spec.url} {spec.verifier.verifier_key}"])
        yield spec


def _journal(home: Home) -> Journal:
    return Journal.open(
        home.settings().journal_url,
        signer=load_signer(home.keys_dir),
        clock=FakeClock(),
        checkpoint_every=10,
    )


def _fill(home: Home, start: int, end: int, *, principal: str = "bob") -> None:
    with _journal(home) as j:
        for i in range(start, end):
            j.append(event(i, principal=principal))
        j.make_checkpoint()


def _verify(*args: str) -> tuple[int, str]:
    res = runner.invoke(journal_app, ["verify", *args])
    return res.exit_code, res.output


def _sql(home: Home, *statements: str) -> None:
    engine = sa.create_engine(home.settings().journal_url)
    with engine.begin() as conn:
        for s in statements:
            conn.execute(sa.text(s))
    engine.dispose()


def test_witness_cosigns_serves_and_keeps_its_record(
    home: Home, witness_home: Path, witness: WitnessSpec
) -> None:
    _fill(home, 0, 25)
    with _journal(home) as j:
        assert j.verifier is not None
        # The witness holds nothing: a first submission from 0, the cosignature checked.
        done = submit_checkpoint(j, witness.url, verifier=witness.verifier)
        assert done.size == 25 and done.cosignatures.startswith("— w.test/w1 ")
        note = j.latest_checkpoint()
        assert note is not None
        text = open_note(note, [j.verifier])
        witness.verifier.verify(note + done.cosignatures)
        with pytest.raises(NoteError):  # the cosignature covers exactly that checkpoint
            witness.verifier.verify(note.replace("\n25\n", "\n26\n") + done.cosignatures)
        cp = fetch_cosigned(witness, j.verifier)
        assert cp is not None and (cp.size, cp.root) == (25, parse_checkpoint(text).root)
        for i in range(25, 40):
            j.append(event(i))
        j.make_checkpoint()
        # Sent "from 0" again: the witness's 409 names 25, and the proof from 25 follows.
        assert submit_checkpoint(j, witness.url, verifier=witness.verifier).size == 40
    got = httpx.get(f"{witness.url}/checkpoint/{ORIGIN}")
    assert got.status_code == 200 and "\n40\n" in got.text
    assert httpx.get(f"{witness.url}/checkpoint/other.example/log").status_code == 404
    # Restarted, the witness still holds 40: it refuses `old 0` and names 40.
    with served_witness(witness_home, free_port()) as url:
        with _journal(home) as j:
            again = httpx.post(
                url + "/add-checkpoint", content=add_checkpoint_body(0, [], j.latest_checkpoint())
            )
        assert again.status_code == 409 and again.text == "40\n"
        assert again.headers["content-type"].startswith("text/x.tlog.size")
        assert "\n40\n" in httpx.get(f"{url}/checkpoint/{ORIGIN}").text


def test_deleted_checkpoints_fail_verify(home: Home, witness: WitnessSpec) -> None:
    _fill(home, 0, 30)
    res = runner.invoke(journal_app, ["checkpoint"])  # on demand: to the configured witness
    assert res.exit_code == 0, res.output
    assert "— w.test/w1 " in res.output
    code, out = _verify()
    assert code == 0 and "holds size 30" in out, out
    _sql(home, "DELETE FROM journal_checkpoints")
    code, out = _verify()
    assert code == 1, out
    assert "PROBLEM witness: witness w.test/w1" in out and "checkpoints were deleted" in out
    # Without the witness, the storage alone still agrees with itself: the attack's point.
    assert _verify("--offline")[0] == 0
    code, out = _verify("--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False and report["checkpoints"] == 0
    assert report["witnesses"] == [f"witness {witness} holds size 30 (checkpoint 2)"]
    assert [p["kind"] for p in report["problems"]] == ["witness"]


def test_the_latest_checkpoints_removed_fail_verify(home: Home, witness: WitnessSpec) -> None:
    """Removing checkpoints from the end leaves a chain that still links up (and the next
    process to open the journal with the key signs the tail again, as checkpoint 1): only
    the witness knows there was a checkpoint 2."""
    _fill(home, 0, 30)
    assert runner.invoke(journal_app, ["checkpoint"]).exit_code == 0
    _sql(home, "DELETE FROM journal_checkpoints WHERE seq >= 1")
    assert _verify("--offline")[0] == 0
    code, out = _verify()
    assert code == 1 and "holds checkpoint 2 of size 30" in out, out
    assert "stored checkpoints were deleted or rolled back" in out


def test_truncated_then_regrown_journal_fails_verify(home: Home, witness: WitnessSpec) -> None:
    _fill(home, 0, 30)
    assert runner.invoke(journal_app, ["checkpoint"]).exit_code == 0
    # Truncated consistently: the entries after 22 and every checkpoint beyond them.
    _sql(home, "DELETE FROM journal_leaves WHERE idx >= 22", "DELETE FROM journal_checkpoints")
    with _journal(home) as j:  # ... and a fresh checkpoint at 22 (the attacker holds the key)
        j.make_checkpoint()
    assert _verify("--offline")[0] == 0  # the storage agrees with itself
    code, out = _verify()
    assert code == 1 and "truncated or rolled back" in out, out
    # Rolled back and regrown past the witness's size with other entries: another root.
    _sql(home, "DELETE FROM journal_checkpoints")
    _fill(home, 22, 40, principal="mallory")
    code, out = _verify()
    assert code == 1 and "holds a different root at size 30" in out, out


def test_forks_rollbacks_and_bad_signatures_are_refused(
    home: Home, tmp_path: Path, witness: WitnessSpec
) -> None:
    _fill(home, 0, 20)
    with _journal(home) as j:
        submit_checkpoint(j, witness.url, verifier=witness.verifier)
        good = j.latest_checkpoint()
        assert good is not None
    # A fork: the same key signs another tree of the same size, then a larger one.
    fork = Journal.open(
        f"sqlite:///{tmp_path / 'fork.db'}", signer=load_signer(home.keys_dir), clock=FakeClock()
    )
    with fork:
        for i in range(20):
            fork.append(event(i, principal="mallory"))
        same_size = fork.make_checkpoint()
        post = httpx.post(
            witness.url + "/add-checkpoint", content=add_checkpoint_body(20, [], same_size)
        )
        assert post.status_code == 409 and post.text == "20\n"
        for i in range(20, 30):
            fork.append(event(i))
        bigger = fork.make_checkpoint()
        body = add_checkpoint_body(20, fork.consistency_proof(20, 30), bigger)
        assert httpx.post(witness.url + "/add-checkpoint", content=body).status_code == 422
        with pytest.raises(Unavailable):  # the client gives up, naming the disagreement
            submit_checkpoint(fork, witness.url)
    # A rollback: an older, smaller checkpoint of the real log.
    with _journal(home) as j:
        first = next(n for _, s, n in j.checkpoints() if s == 10)
        small = httpx.post(
            witness.url + "/add-checkpoint", content=add_checkpoint_body(20, [], first)
        )
        assert small.status_code == 400
        small = httpx.post(
            witness.url + "/add-checkpoint", content=add_checkpoint_body(10, [], first)
        )
        assert small.status_code == 409 and small.text == "20\n"
    # Signed by another key under the log's name: 403; an unknown log: 404.
    impostor = NoteSigner.generate(ORIGIN).sign(
        open_note(good, [load_signer(home.keys_dir).verifier()])
    )
    assert (
        httpx.post(
            witness.url + "/add-checkpoint", content=add_checkpoint_body(20, [], impostor)
        ).status_code
        == 403
    )
    tampered = good.replace("\n20\n", "\n21\n")
    assert (
        httpx.post(
            witness.url + "/add-checkpoint", content=add_checkpoint_body(20, [], tampered)
        ).status_code
        == 403
    )
    stranger = NoteSigner.generate("other.example/log").sign(
        "other.example/log\n1\n" + "A" * 43 + "=\n"
    )
    assert (
        httpx.post(
            witness.url + "/add-checkpoint", content=add_checkpoint_body(0, [], stranger)
        ).status_code
        == 404
    )
    # Garbage gets a clear 4xx, never a 500.
    for body in (
        b"",
        b"\xff\xfe",
        b"old x\n\n" + good.encode(),
        b"old 1\nnot-base64\n\n" + good.encode(),
        b"x" * 20_000,
        "old ²\n\n".encode() + good.encode(),
        b"old " + b"9" * 5000 + b"\n\n" + good.encode(),
        b"old 0\n\n" + good.replace("\n20\n", "\n" + "9" * 5000 + "\n").encode(),
    ):
        resp = httpx.post(witness.url + "/add-checkpoint", content=body)
        assert 400 <= resp.status_code < 500 and "Traceback" not in resp.text, (
            body[:20],
            resp.status_code,
        )
    assert httpx.get(witness.url + "/add-checkpoint").status_code == 405
    # Through all that, the witness still holds the real 20.
    with _journal(home) as j:
        assert j.verifier is not None
        cp = fetch_cosigned(witness, j.verifier)
    assert cp is not None and cp.size == 20


def test_pusher_sends_new_checkpoints_and_survives_an_absent_witness(
    home: Home, witness: WitnessSpec, caplog: pytest.LogCaptureFixture
) -> None:
    _fill(home, 0, 12)
    gone = CosignatureVerifier.from_key(_other_witness_key("w.test/gone"))
    absent = WitnessSpec(f"http://127.0.0.1:{free_port()}", gone)
    with _journal(home) as j:
        pusher = WitnessPusher(j, (witness, absent), every=60, timeout=2)
        with caplog.at_level(logging.WARNING, "strongroom.journal.witness"):
            assert pusher.tick() == 1
        assert "unreachable" in caplog.text
        assert pusher.acked == {witness.url: 12}
        assert pusher.lag() == {"w.test/w1": 0, "w.test/gone": 12}  # what /metrics shows
        for i in range(12, 21):
            j.append(event(i))
        j.make_checkpoint()
        assert pusher.tick() == 1 and pusher.acked[witness.url] == 21
        assert j.verifier is not None
        cp = fetch_cosigned(witness, j.verifier)
        assert cp is not None and cp.size == 21
        # A witness that answers with someone else's cosignature is not counted.
        liar = WitnessSpec(witness.url, CosignatureVerifier.from_key(_other_witness_key()))
        assert WitnessPusher(j, (liar,), every=60).tick() == 0


def _other_witness_key(name: str = "w.test/w1") -> str:
    from strongroom.journal.cosignature import Cosigner

    return Cosigner.generate(name).verifier().verifier_key


def test_witnesses_in_config_are_validated(home: Home) -> None:
    vkey = _other_witness_key()
    home.update_config(witnesses=[f"https://w.example/ {vkey}"])
    assert home.settings().witnesses == (f"https://w.example/ {vkey}",)
    signer_vkey = load_signer(home.keys_dir).verifier().verifier_key  # a note key, not 0x04
    for bad, says in (
        ([f"w.example {vkey}"], "not an http(s) URL"),
        (["https://w.example/"], "want the witness URL"),
        ([f"https://w.example/ {signer_vkey}"], "tlog-cosignature"),
        ([f"https://w.example/ {vkey[:-2]}A="], "witness key"),
        ([f"https://w.example/ {vkey}", f"https://w.example {vkey}"], "named twice"),
        ([f"https://w.example/ {vkey}", f"https://w2.example {vkey}"], "named twice"),
        ([3], "want a string"),
    ):
        text = home.config_path.read_text()
        lines = [ln for ln in text.splitlines() if not ln.startswith("witnesses =")]
        home.config_path.write_text("\n".join(lines) + f"\nwitnesses = {_toml(bad)}\n")
        with pytest.raises(BadRequest) as err:
            home.settings()
        line = len(lines) + 1
        assert f"config.toml:{line}: witnesses[" in err.value.detail and says in err.value.detail


def _toml(values: list[object]) -> str:
    return "[" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in values) + "]"


def test_verify_fails_when_the_witness_cannot_be_reached(home: Home) -> None:
    _fill(home, 0, 5)
    home.update_config(witnesses=[f"http://127.0.0.1:{free_port()} {_other_witness_key()}"])
    code, out = _verify()
    assert code == 1 and "PROBLEM witness: witness w.test/w1" in out and "unreachable" in out
    assert _verify("--offline")[0] == 0


def _registry_and_its_witness(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> tuple[Home, Path]:
    """A new registry home (the CLI's home) and the home of a witness of its journal."""
    from strongroom.initialize import initialize

    home = Home(tmp_path / "registry")
    initialize(home)
    monkeypatch.setenv("STRONGROOM_HOME", str(home.path))
    wh = tmp_path / "witness-of-registry"
    vkey = load_signer(home.keys_dir).verifier().verifier_key
    init = ["init", "--home", str(wh), "--name", name, "--log-key", vkey]
    assert runner.invoke(witness_app, init).exit_code == 0
    return home, wh


def test_a_served_registry_sends_its_checkpoints_on_schedule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.served import served

    home, wh = _registry_and_its_witness(tmp_path, monkeypatch, "w.test/w2")
    _fill(home, 0, 7)
    with served_witness(wh, free_port()) as wurl:
        spec = WitnessSpec.parse(f"{wurl} {(wh / 'witness.vkey').read_text().strip()}")
        home.update_config(witnesses=[f"{wurl} {spec.verifier.verifier_key}"])
        home.update_config(witness_interval_seconds=1)
        verifier = load_signer(home.keys_dir).verifier()
        with served(home) as url:
            assert _held(spec, verifier, 7)  # sent by the server, not by this test
            # Another process of the deployment signs a checkpoint: the next round sends it.
            _fill(home, 7, 19)
            assert _held(spec, verifier, 19)
            scraped = httpx.get(f"{url}/metrics").text
        lag = 'strongroom_witness_unheld_entries{witness="w.test/w2"}'
        assert f"{lag} 0.0" in scraped, scraped
        assert 'strongroom_witness_submissions_total{outcome="cosigned"}' in scraped
        code, out = _verify()
        assert code == 0 and "holds size 19" in out, out


def _held(spec: WitnessSpec, verifier: NoteVerifier, size: int) -> bool:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        cp = fetch_cosigned(spec, verifier)
        if cp is not None and cp.size == size:
            return True
        time.sleep(0.2)
    return False


def test_racing_submissions_cannot_roll_the_witness_back(home: Home, witness: WitnessSpec) -> None:
    notes = []
    with _journal(home) as j:
        for i in range(80):
            j.append(event(i))
            if (i + 1) % 10 == 0:
                notes.append(j.make_checkpoint())
    # Eight checkpoints, all "from 0", at once: the check of the held size and the write of
    # the new one are one step, so exactly one is cosigned and the others learn its size.
    barrier = threading.Barrier(len(notes))

    def post(note: str) -> httpx.Response:
        barrier.wait()
        return httpx.post(witness.url + "/add-checkpoint", content=add_checkpoint_body(0, [], note))

    with ThreadPoolExecutor(len(notes)) as pool:
        answers = list(pool.map(post, notes))
    won = [i for i, a in enumerate(answers) if a.status_code == 200]
    assert len(won) == 1, [a.status_code for a in answers]
    size = (won[0] + 1) * 10
    assert {a.text for a in answers if a.status_code != 200} == {f"{size}\n"}
    assert all(a.status_code in (200, 409) for a in answers)
    assert f"\n{size}\n" in httpx.get(f"{witness.url}/checkpoint/{ORIGIN}").text


def test_the_held_size_is_checked_and_replaced_in_one_step(home: Home, witness_home: Path) -> None:
    """In process, with the witness's read of its record slowed down so that racing
    submissions overlap for sure: still exactly one is cosigned."""
    from strongroom.witness.app import Refused, Submission, Witness
    from strongroom.witness.state import DB_FILE, WitnessStore, load_config, load_cosigner

    class SlowStore(WitnessStore):
        def held(self, origin: str) -> Any:
            found = super().held(origin)
            time.sleep(0.05)
            return found

    store = SlowStore(witness_home / DB_FILE)
    w = Witness(load_config(witness_home), load_cosigner(witness_home), store, FakeClock())
    with _journal(home) as j:
        notes = []
        for i in range(40):
            j.append(event(i))
            if (i + 1) % 10 == 0:
                notes.append(j.make_checkpoint())

    def submit(note: str) -> int:
        try:
            w.add_checkpoint(Submission(0, [], note))
        except Refused as exc:
            return exc.status
        return 200

    with ThreadPoolExecutor(len(notes)) as pool:
        statuses = list(pool.map(submit, notes))
    store.close()
    assert sorted(statuses) == [200, 409, 409, 409], statuses


def test_a_hung_witness_does_not_hold_a_stopping_server(home: Home) -> None:
    _fill(home, 0, 3)
    with socket.socket() as hung:  # accepts connections (the backlog), never answers
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        spec = WitnessSpec.parse(f"http://127.0.0.1:{hung.getsockname()[1]} {_other_witness_key()}")
        with _journal(home) as j:
            pusher = WitnessPusher(j, (spec,), every=60, timeout=30)
            pusher.start()
            time.sleep(0.5)  # the round is waiting on the witness
            started = time.monotonic()
            pusher.stop()
            assert time.monotonic() - started < 2
            assert pusher.acked == {}


def test_a_witness_keeps_a_home_of_its_own_and_takes_on_more_logs(
    home: Home, tmp_path: Path, witness_home: Path
) -> None:
    vkey = load_signer(home.keys_dir).verifier().verifier_key
    inside = ["init", "--home", str(home.path), "--name", "w.test/w9", "--log-key", vkey]
    res = runner.invoke(witness_app, inside)
    assert res.exit_code == 2 and "a home of its own" in res.output
    other = NoteSigner.generate("other.test/log")
    add = ["add-log", "--home", str(witness_home), "--log-key", other.verifier().verifier_key]
    assert runner.invoke(witness_app, add).exit_code == 0
    assert runner.invoke(witness_app, add).exit_code == 2  # already there
    with served_witness(witness_home, free_port()) as url:
        journal = Journal.open(
            f"sqlite:///{tmp_path / 'other.db'}", signer=other, clock=FakeClock()
        )
        with journal:
            journal.append(event(0))
            journal.make_checkpoint()
            assert submit_checkpoint(journal, url).size == 1
        assert "\n1\n" in httpx.get(f"{url}/checkpoint/other.test/log").text
        assert httpx.get(f"{url}/checkpoint/{ORIGIN}").status_code == 404


def test_the_consoles_verification_holds_the_journal_to_the_witness(
    home: Home, witness: WitnessSpec
) -> None:
    """The auditors' background verification (the console's journal page) asks the
    configured witnesses as `journal verify` does: deleted checkpoints fail it there too."""
    from strongroom.compose import compose
    from strongroom.initialize import initialize

    initialize(home)  # the registry and policy a served home has
    _fill(home, 0, 30)
    assert runner.invoke(journal_app, ["checkpoint"]).exit_code == 0
    _sql(home, "DELETE FROM journal_checkpoints")
    svc = compose(home)
    try:
        verification = svc.audit.verification
        verification.start(svc.admin.operator())
        deadline = time.monotonic() + 60
        while verification.status()["state"] == "running":
            assert time.monotonic() < deadline, verification.status()
            time.sleep(0.05)
        status = verification.status()
    finally:
        svc.close()
    assert status["state"] == "done", status
    report = status["report"]
    assert report["ok"] is False
    assert "witness" in [p["kind"] for p in report["problems"]]
    assert report["witnesses"] == [f"witness {witness} holds size 30 (checkpoint 2)"]


def test_verify_fails_while_a_witness_holds_nothing_of_a_journal_with_entries(
    home: Home, witness: WitnessSpec
) -> None:
    # A new deployment: an empty journal has nothing for a witness to hold.
    code, out = _verify()
    assert code == 0 and f"witness {witness} holds no checkpoint of this journal" in out, out
    # Its first minute: entries, signed here, not yet at the witness.
    _fill(home, 0, 12)
    code, out = _verify()
    assert code == 1 and f"PROBLEM unwitnessed: witness {witness} holds no checkpoint" in out
    assert "holds 12 entries" in out and "OK" not in out.splitlines()[-1], out
    report = json.loads(runner.invoke(journal_app, ["verify", "--json"]).output)
    assert not report["ok"] and [p["kind"] for p in report["problems"]] == ["unwitnessed"]
    # The attack that window allowed: the journal replaced by a shorter one, signed with
    # the server's key. Its storage agrees with itself; only the witness's silence is left.
    for name in ("journal.db", "journal.db-index"):
        for suffix in ("", "-wal", "-shm"):
            (home.path / f"{name}{suffix}").unlink(missing_ok=True)
    _fill(home, 0, 4, principal="mallory")
    assert _verify("--offline")[0] == 0
    code, out = _verify()
    assert code == 1 and "PROBLEM unwitnessed" in out and "holds 4 entries" in out, out
    # `journal checkpoint` sends one at once: from then on the witness vouches for 4.
    res = runner.invoke(journal_app, ["checkpoint"])
    assert res.exit_code == 0, res.output
    code, out = _verify()
    assert code == 0 and f"witness {witness} holds size 4" in out, out


def test_a_served_registry_is_witnessed_at_start_and_after_its_first_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.served import served

    home, wh = _registry_and_its_witness(tmp_path, monkeypatch, "w.test/w3")
    verifier = load_signer(home.keys_dir).verifier()
    with served_witness(wh, free_port()) as wurl:
        spec = WitnessSpec.parse(f"{wurl} {(wh / 'witness.vkey').read_text().strip()}")
        # The default schedule: a minute between rounds, and the writer's timed checkpoint
        # a minute after the first entry. Neither is waited for below.
        home.update_config(witnesses=[f"{wurl} {spec.verifier.verifier_key}"])
        assert home.settings().witness_interval_seconds == 60
        with served(home) as url:
            assert fetch_cosigned(spec, verifier) is None  # an empty journal: nothing sent
            started = time.monotonic()
            assert httpx.get(f"{url}/v1/me").status_code == 401  # a refusal, journaled
            cp = _held_at_least(spec, verifier, 1, within=15)
            assert cp is not None, "the first entry was not witnessed within 15 s"
            assert time.monotonic() - started < 15
        # The stop's checkpoint too; verify holds the journal to it.
        code, out = _verify()
        assert code == 0 and f"witness {spec} holds size" in out, out
        # Entries signed by nobody (a crash before any checkpoint), then a start: the
        # first round signs them and sends them, not a minute later.
        with Journal.open(
            home.settings().journal_url,
            signer=load_signer(home.keys_dir),
            clock=FakeClock(),
            checkpoint_every=10_000,
        ) as j:
            for i in range(5):
                j.append(event(i))
            unsigned = j.size()
        with served(home):
            cp = _held_at_least(spec, verifier, unsigned, within=15)
            assert cp is not None, "the unsigned tail was not witnessed at start"


def _held_at_least(spec: WitnessSpec, verifier: NoteVerifier, size: int, *, within: float) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        cp = fetch_cosigned(spec, verifier)
        if cp is not None and cp.size >= size:
            return cp
        time.sleep(0.1)
    return None
