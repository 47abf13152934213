"""Fixtures for the JPKI tests: one seeded key source per session, a fresh JPKI centre per test.

Keys are derived once per machine (cached under ~/.cache/myna-twin or $MYNA_TWIN_CACHE); a test
session uses six: two CAs, two OCSP responders and a pool of holder keys.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from twin.services.jpki import BasicInfo, Jpki, KeySource

SEED = 20260401
NOW = datetime(2026, 4, 1, 0, 30, tzinfo=UTC)  # 09:30 JST


@pytest.fixture(scope="session")
def infra_keys() -> KeySource:
    return KeySource(SEED)


@pytest.fixture(scope="session")
def holder_keys() -> KeySource:
    """Two holder key pairs shared by every simulated card in these tests (see KeySource docs)."""
    return KeySource(SEED, pool_size=2)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def jpki(infra_keys: KeySource) -> Jpki:
    return Jpki.bootstrap(NOW, infra_keys)


@pytest.fixture
def holder_key(holder_keys: KeySource):
    return holder_keys.key(0)


@pytest.fixture
def info() -> BasicInfo:
    return BasicInfo(
        name="山田\u3000太郎", address="東京都千代田区霞が関１丁目２番３号", birth_date=date(1980, 2, 17), sex="1"
    )
