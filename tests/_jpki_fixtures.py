"""The JPKI centre every card test starts from: one seeded key source per session, a fresh centre per test.

J-LIS (地方公共団体情報システム機構) runs the certificate authority behind every My Number card.
Tests that need it (the JPKI tests themselves, the eligibility checks of the capacity tests) found
the same centre from the same seed at the same instant, 2026-04-01 09:30 JST. Keys are derived once
per machine (cached under ~/.cache/myna-twin or $MYNA_TWIN_CACHE); a session uses six: two CAs,
two OCSP responders and a pool of two holder keys shared by every simulated card.

A conftest takes the fixtures by importing them (``from _jpki_fixtures import infra_keys, ...``);
the tests folder is on ``sys.path`` because ``tests/conftest.py`` is the rootdir conftest.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from twin.services.jpki import Jpki, KeySource

SEED = 20260401
NOW = datetime(2026, 4, 1, 0, 30, tzinfo=UTC)  # 09:30 JST


@pytest.fixture(scope="session")
def infra_keys() -> KeySource:
    """The CA and OCSP responder keys (seeded, cached on disk)."""
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
    """A freshly founded JPKI centre (root CAs, OCSP responders, empty CRLs) at :data:`NOW`."""
    return Jpki.bootstrap(NOW, infra_keys)
