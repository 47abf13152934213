"""The bundled public statistics the synthetic nation is built from (see twin/data/SOURCES.md)."""

from __future__ import annotations

import functools
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
CARD_ISSUANCE_DIR = DATA_DIR / "card_issuance"


@functools.cache
def available_snapshots() -> tuple[str, ...]:
    """Snapshot dates (YYYYMMDD) of the bundled MIC card-issuance tables, oldest first."""
    return tuple(sorted(p.name for p in CARD_ISSUANCE_DIR.iterdir() if p.is_dir() and p.name.isdigit()))
