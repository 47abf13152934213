"""Experiment tests run the town-hall counter toy (``xp_toy_model``), registered as kind ``xp_toy``."""

from __future__ import annotations

from pathlib import Path

import pytest
from xp_helpers import HERE, write_toy


@pytest.fixture
def toy_kind(monkeypatch: pytest.MonkeyPatch) -> str:
    from twin import models
    from twin import scenario as sc

    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setitem(models.KINDS, "xp_toy", "xp_toy_model")
    monkeypatch.setattr(sc, "_SCENARIO_MODELS", {})
    return "xp_toy"


@pytest.fixture
def toy_file(toy_kind: str, tmp_path: Path) -> Path:
    return write_toy(tmp_path / "xp_toy.yaml")
