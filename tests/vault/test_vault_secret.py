from __future__ import annotations

import logging
import pickle

import pytest

from strongroom.vault import Secret


def test_secret_never_prints_itself(caplog: pytest.LogCaptureFixture) -> None:
    s = Secret("Dupont")
    assert str(s) == "**********"
    assert repr(s) == "Secret('**********')"
    assert f"{s}" == f"{s:>10}".strip() == "**********"
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("value %s %r", s, s)
    assert "Dupont" not in caplog.text
    assert "Dupont" not in repr([s, {"k": s}])
    assert s.reveal() == "Dupont"


def test_secret_compares_and_refuses_pickle() -> None:
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")
    assert Secret("a") != "a"
    assert not Secret("") and Secret("x")
    with pytest.raises(TypeError):
        pickle.dumps(Secret("Dupont"))
    with pytest.raises(TypeError):
        Secret(42)  # type: ignore[arg-type]
