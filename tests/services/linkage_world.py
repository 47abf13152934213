"""A small linked world for the linkage, portal and points tests: a register, the directory, a network
whose every message is checked for My Numbers (deterministic from a seed)."""

from __future__ import annotations

import datetime as dt

import numpy as np
from payout_helpers import AS_OF, nation

from twin.services.linkage import Linkage, Message, RegistryResidentCodes, my_number_fields
from twin.services.registry import ResidentRegistry
from twin.services.store import MemoryStore

SECRET = bytes(range(32))
TOWN = "muni:131016"  # 千代田区
CITY = "muni:271004"  # 大阪市
OTHER = "muni:401307"  # 福岡市
JPS = "jps"
KYOKAI = "kyokai"
JST = dt.timezone(dt.timedelta(hours=9))


def at(y: int, m: int, d: int, h: int = 10) -> dt.datetime:
    return dt.datetime(y, m, d, h, tzinfo=JST)


class World:
    """Register + linkage; ``leaks`` collects every field of every message that held a My Number."""

    def __init__(self, households: int = 40, seed: int = 3) -> None:
        self.store = MemoryStore()
        columns = nation(households, seed)
        real_codes = {13101: 131016, 13102: 131024, 27100: 271004, 1100: 11002}  # 団体コード with check digit
        columns["municipality"] = np.vectorize(real_codes.get)(columns["municipality"])
        self.registry = ResidentRegistry.load(self.store, as_of=AS_OF, rng=np.random.default_rng(seed), **columns)
        self.codes = RegistryResidentCodes(self.registry)
        self.link = Linkage.build(self.store, self.codes, SECRET)
        self.network = self.link.network
        n = self.registry.snapshot(AS_OF).registered.size
        self.numbers = [self.registry.resident(i, AS_OF).my_number for i in range(n)]
        self.known = set(self.numbers)
        self.messages: list[Message] = []
        self.leaks: list[tuple[str, list[str]]] = []
        self.network.taps.append(self._check)

    def _check(self, message: Message) -> None:
        self.messages.append(message)
        bad = my_number_fields(message, self.known)
        if bad:
            self.leaks.append((type(message).__name__, bad))
