"""Fixtures for the posture tests: one small seeded deployment per module that asks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.deployment import Deployment, build_deployment


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    dep = build_deployment(tmp_path_factory.mktemp("home"), persons=200)
    yield dep
    dep.service.close()
