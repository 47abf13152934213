"""Who a Myna Portal user is, as the portal may know them.

A resident logs in with the card's authentication certificate. The certificate centre (J-LIS) knows
whose certificate it is and can give the portal the person's resident-register code (住民票コード)
and the four basic items (基本4情報: name, address, birth date, sex) from the register; from the code
the issuer derives the portal's own agency code. The portal never needs the My Number, with one
exception that stays inside the Digital Agency: the public-benefit account register, which the law
keys by My Number (口座登録法), enrols the person under it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

from twin.services.linkage.bodies import Directory, municipality_id
from twin.services.linkage.codes import RegistryResidentCodes
from twin.services.registry import ResidentRegistry


@dataclass(frozen=True, slots=True)
class FourItems:
    """基本4情報 as the register holds them; sex as the register codes it (1 male, 2 female)."""

    name: str
    address: str
    birth_date: dt.date
    sex: str


@dataclass(frozen=True, slots=True)
class Person:
    """A person as the portal resolves a certificate's ``person_ref``; the repr hides the My Number."""

    person_ref: str
    resident: int  # row in the register (the key of the public-benefit account register)
    resident_code: int  # 住民票コード
    municipality: str  # body id of the municipality of residence
    items: FourItems
    reading: str  # the name's reading in katakana (account holders must match it)
    my_number: str = field(repr=False)  # for the account register's own enrolment only


class People(Protocol):
    def person(self, person_ref: str) -> Person | None: ...


class RegistryPeople:
    """People of a :class:`ResidentRegistry` on date ``on``; ``person_ref`` is ``resident-<id>``.

    The register has no street addresses; the address is the municipality's name from ``directory``.
    """

    def __init__(self, registry: ResidentRegistry, codes: RegistryResidentCodes, on: dt.date,
                 directory: Directory | None = None) -> None:  # fmt: skip
        self._registry, self._codes, self._on, self._directory = registry, codes, on, directory

    @staticmethod
    def ref(resident: int) -> str:
        return f"resident-{resident}"

    def person(self, person_ref: str) -> Person | None:
        prefix, _, rest = person_ref.partition("-")
        if prefix != "resident" or not rest.isdigit():
            return None
        r = self._registry.resident(int(rest), self._on)
        if r is None:
            return None
        muni = municipality_id(r.municipality)
        body = self._directory.get(muni) if self._directory is not None else None
        items = FourItems(r.name, body.name if body else muni, r.birth_date, str(int(r.sex)))
        return Person(person_ref, r.resident_id, self._codes.for_resident(r.resident_id), muni, items, r.reading,
                      r.my_number)  # fmt: skip


class TablePeople:
    """People from a table (a small deployment's card holders)."""

    def __init__(self, people: list[Person]) -> None:
        self._by_ref = {p.person_ref: p for p in people}

    def person(self, person_ref: str) -> Person | None:
        return self._by_ref.get(person_ref)
