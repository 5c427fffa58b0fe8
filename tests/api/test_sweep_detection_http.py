"""An alphabetical sweep over real HTTP (`strongroom serve`, the shipped policy): the gate
gives the enumeration detector the searched names' sort keys, and the detector stops the
sweep. The same sweep against the same home with only that detector switched off goes
through: every budget lets it pass, so the detector is what caught it."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from strongroom.cli.seeding import seed_home
from strongroom.compose import compose
from strongroom.config import Home
from strongroom.gate.sort_keys import name_key
from strongroom.initialize import initialize
from strongroom.simulate.world import load_registry
from tests.served import served

pytestmark = pytest.mark.slow

SEED = 7
SWEEP = 30  # past the run that reaches step-up (min_run 12: 30 points, +2 a name, cap 60)
# 20 records a minute is the police's human ceiling (velocity): a sweep paced under it is
# one no rate detector sees.
PACE = 3.3


def _home(path: Path) -> tuple[Home, dict[str, str], list[tuple[str, str]]]:
    home = Home(path)
    initialize(home)
    seed_home(home, persons=300, seed=SEED)
    svc = compose(home)
    try:
        police = svc.admin.add_principal(role="police", label="sweeper")
        admin = svc.admin.add_principal(role="admin", label="soc")
        tokens = {
            "police": svc.token_issuer.issue(role="police", subject=police, lifetime=3600),
            "admin": svc.token_issuer.issue(role="admin", subject=admin, lifetime=3600),
        }
        registry = load_registry(svc, seed=SEED, sample=300)
    finally:
        svc.close()
    # One real person per three-letter prefix, in alphabetical order: every search finds
    # someone (no guessing signal) and every key is a step up the alphabet.
    by_key: dict[float, tuple[str, str]] = {}
    for p in registry.sample:
        key = name_key(p.family_name)
        if key is not None and p.family_name:
            by_key.setdefault(key, (p.family_name, p.birth_date))
    sweep = [by_key[k] for k in sorted(by_key)][:SWEEP]
    assert len(sweep) == SWEEP
    return home, tokens, sweep


def _without_enumeration(home: Home) -> None:
    doc = yaml.safe_load(home.policy_path.read_text(encoding="utf-8"))
    doc["detectors"]["enumeration"]["enabled"] = False
    home.policy_path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def _sweep(url: str, token: str, names: list[tuple[str, str]], out: dict[str, Any]) -> None:
    statuses: list[int] = []
    with httpx.Client(base_url=url, timeout=10) as c:
        for family_name, birth_date in names:
            r = c.post(
                "/v1/persons/search",
                json={"family_name": family_name, "birth_date": birth_date},
                headers={"Authorization": f"Bearer {token}"},
            )
            statuses.append(r.status_code)
            if r.status_code != 200:
                out["refusal"] = r.json()
                break
            time.sleep(PACE)
    out["statuses"] = statuses


def _containments(url: str, token: str) -> list[dict[str, Any]]:
    r = httpx.get(url + "/v1/containments", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_an_alphabetical_sweep_is_caught_by_enumeration_not_by_budgets(tmp_path: Path) -> None:
    home, tokens, names = _home(tmp_path / "home")
    shutil.copytree(home.path, tmp_path / "off")
    off = Home(tmp_path / "off")
    _without_enumeration(off)
    with served(home) as url_on, served(off) as url_off:
        on: dict[str, Any] = {}
        without: dict[str, Any] = {}
        threads = [
            threading.Thread(target=_sweep, args=(url_on, tokens["police"], names, on)),
            threading.Thread(target=_sweep, args=(url_off, tokens["police"], names, without)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        caught = _containments(url_on, tokens["admin"])
        quiet = _containments(url_off, tokens["admin"])
    # Detector off: the whole sweep is answered; no budget refuses it, nothing contains it.
    assert without["statuses"] == [200] * SWEEP, without
    assert quiet == []
    # Detector on: stopped before the end, by a containment the enumeration family set.
    assert on["statuses"][-1] != 200 and len(on["statuses"]) < SWEEP, on
    assert on["refusal"].get("reason") in {"insufficient_user_authentication", "contained"} or (
        on["statuses"][-1] == 429
    )
    assert caught and all("enumeration" in c["families"] for c in caught), caught
