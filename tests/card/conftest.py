"""Card test fixtures: the emulated card in-process, and a private pcscd + vpcd for PC/SC tests
(see pcsc_rig.py: started as children of the session, checked gone at teardown)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from card_helpers import personalisation  # noqa: E402
from pcsc_rig import Pcscd, opensc_environment, running_pcscd, served_card  # noqa: E402

from emulators.card_os import MynaCardOS  # noqa: E402


@pytest.fixture
def card() -> MynaCardOS:
    """A freshly personalised card (full retry counters), powered up."""
    c = MynaCardOS(personalisation())
    c.powerUp()
    return c


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pcscd]:
    with running_pcscd(tmp_path_factory.mktemp("pcscd")) as daemon:
        yield daemon


@pytest.fixture
def serve_card(pcscd: Pcscd, tmp_path: Path) -> Iterator[Callable[..., str]]:
    """``serve_card(perso) -> reader name``: a card with that personalisation in the vpcd reader
    for this test (a fresh card process: full retry counters)."""
    with contextlib.ExitStack() as stack:

        def start(perso: object) -> str:
            path = perso.save(tmp_path / "perso.json")  # type: ignore[attr-defined]
            stack.enter_context(served_card(pcscd, path))
            return pcscd.reader

        yield start


@pytest.fixture
def opensc_env(tmp_path: Path) -> dict[str, str]:
    return opensc_environment(tmp_path)
