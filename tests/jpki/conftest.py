"""Fixtures for the JPKI tests: the shared JPKI centre (tests/_jpki_fixtures.py), a holder's key
and a resident's basic information (基本4情報) to write on a card."""

from __future__ import annotations

from datetime import date

import pytest
from _jpki_fixtures import holder_keys, infra_keys, jpki, now

from twin.services.jpki import BasicInfo, KeySource

# fixtures defined once for every test that needs a JPKI centre, taken by importing them
__all__ = ["holder_key", "holder_keys", "info", "infra_keys", "jpki", "now"]


@pytest.fixture
def holder_key(holder_keys: KeySource):
    return holder_keys.key(0)


@pytest.fixture
def info() -> BasicInfo:
    return BasicInfo(
        name="山田\u3000太郎", address="東京都千代田区霞が関１丁目２番３号", birth_date=date(1980, 2, 17), sex="1"
    )
