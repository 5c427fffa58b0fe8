"""config.read_secret: a secret from an environment variable or a file. The HSM PIN's file
is private (itself, not a link; its owner's alone) and stripped; a database password's may
be a link (a Kubernetes secret is one) and keeps its spaces, losing only its line break."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from strongroom.config import SecretUnreadable, read_secret


def written(path: Path, text: str, mode: int) -> str:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return str(path)


def test_a_private_file_must_be_its_owners_alone_and_not_a_link(tmp_path: Path) -> None:
    loose = written(tmp_path / "pin", "1234\n", 0o644)
    with pytest.raises(SecretUnreadable, match=r"accessible by group or others \(mode 0644\)"):
        read_secret("the HSM PIN", loose, None, private=True)
    tight = written(tmp_path / "pin600", " 1234 \n", 0o600)
    assert read_secret("the HSM PIN", tight, None, private=True, strip=True) == "1234"
    link = tmp_path / "pin-link"
    link.symlink_to(tight)
    with pytest.raises(SecretUnreadable, match=r"cannot read the HSM PIN file .*pin-link"):
        read_secret("the HSM PIN", str(link), None, private=True)


def test_a_password_file_may_be_a_link_and_keeps_its_spaces(tmp_path: Path) -> None:
    target = written(tmp_path / "pg", " p@ss: /w \r\n", 0o644)
    link = tmp_path / "pg-link"
    link.symlink_to(target)
    assert read_secret("the password", str(link), None) == " p@ss: /w "
    empty = written(tmp_path / "empty", "\n", 0o600)
    with pytest.raises(SecretUnreadable, match=r"the password file .*empty is empty"):
        read_secret("the password", empty, None)


def test_the_environment_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SR_TEST_SECRET", "from-env")
    assert read_secret("the password", str(tmp_path / "none"), "SR_TEST_SECRET") == "from-env"
    monkeypatch.delenv("SR_TEST_SECRET")
    with pytest.raises(SecretUnreadable, match=r"\$SR_TEST_SECRET, which is not set"):
        read_secret("the password", None, "SR_TEST_SECRET")
    assert os.environ.get("SR_TEST_SECRET") is None
