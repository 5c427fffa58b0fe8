"""A SoftHSM2 token of its own for each test: a temp folder, a softhsm2.conf naming it
(SOFTHSM2_CONF), a token initialized with `softhsm2-util`, and the PKCS#11 library
re-initialized so it sees the new token (a process loads the module once).

Under CI=true a missing SoftHSM2 fails the run; elsewhere the test skips."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
# Distinctive, so a test can look for it in the bytes of a home.
PIN = "hsm-pin-7Q3v9kXw"
SO_PIN = "hsm-so-pin-2Lm8"
LABEL = "strongroom-test"


@dataclass(frozen=True)
class HsmToken:
    module: str
    label: str
    pin: str
    conf: Path


def softhsm_module() -> str | None:
    if shutil.which("softhsm2-util") is None:
        return None
    return next((m for m in MODULES if os.path.exists(m)), None)


def make_token(folder: Path, monkeypatch: pytest.MonkeyPatch, label: str = LABEL) -> HsmToken:
    module = softhsm_module()
    if module is None:
        if os.environ.get("CI"):
            pytest.fail("SoftHSM2 is required under CI (apt-get install -y softhsm2)")
        pytest.skip("SoftHSM2 is not installed (apt-get install -y softhsm2)")
    tokens = folder / "tokens"
    tokens.mkdir(parents=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", label]
        + ["--pin", PIN, "--so-pin", SO_PIN],
        check=True,
        capture_output=True,
        env={**os.environ, "SOFTHSM2_CONF": str(conf)},
    )
    import pkcs11

    # SoftHSM reads SOFTHSM2_CONF and its tokens at C_Initialize.
    pkcs11.lib(module).reinitialize()
    return HsmToken(module=module, label=label, pin=PIN, conf=conf)
