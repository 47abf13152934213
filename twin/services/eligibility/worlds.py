"""Who the twin's synthetic worlds insure, and from when: one rule for every world that holds people's qualifications.

The served card holders (``real_backends.eligibility_book``: the book the eligibility server answers from and Myna
Portal reads), the linkage server's residents (``real_backends.linkage_api``) and the failover model's sample of
linkage queries (``twin.models.failover.linkage_sample``) each have people numbered from 0. Person ``index`` of a
world set at ``epoch`` is insured with the association (協会けんぽ) branch :data:`INSURER` under the insured number
:func:`insured_number` (``70000 + index``: at most seven digits in these worlds, never a My Number), branch 00,
from six years before the epoch (2020-04-01 at the default epoch, 2026-04-01); every 7th (:func:`is_qualified`)
ended a year and a day before it (2025-03-31). At another epoch every date is as many days before it as at the
default (:func:`at_epoch`: 2,191 and 366 days). These are the served worlds' assumptions, not a model of who is
insured where.

A health insurer's copy of such a qualification on the information-provision network is built from it by one
function, :func:`twin.services.linkage.insurance_copy`, in every world.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from twin.services.eligibility.qualifications import InsurerKind, PersonFacts, Qualification

INSURER: Final = "01130012"  # an association (協会けんぽ) branch, eight digits
#: the default epoch of the worlds (real_backends' EPOCH_DAY), and the dates of the rule at it
DEFAULT_EPOCH: Final = dt.date(2026, 4, 1)
QUALIFIED_FROM: Final = dt.date(2020, 4, 1)
ENDED_ON: Final = dt.date(2025, 3, 31)  # the last day of the ended qualifications: a year and a day before the epoch
ENDED_EVERY: Final = 7


def insured_number(index: int) -> str:
    """Person ``index``'s insured number (被保険者番号) with :data:`INSURER`."""
    return f"{70000 + index}"


def is_qualified(index: int) -> bool:
    """Is person ``index``'s qualification current at the epoch (all but every 7th: 6, 13, 20, ...)?"""
    return index % ENDED_EVERY != ENDED_EVERY - 1


def at_epoch(day: dt.date, epoch: dt.date) -> dt.date:
    """``day`` of the default world in a world set at ``epoch``: as many days before (or after) it."""
    return day + (epoch - DEFAULT_EPOCH)


def world_qualification(
    index: int, holder: PersonFacts, person_ref: str, epoch: dt.date = DEFAULT_EPOCH
) -> Qualification:
    """Person ``index``'s qualification, as the insurer enrolled ``holder``, linked to ``person_ref``, in a world set
    at ``epoch``."""
    return Qualification(
        INSURER, insured_number(index), "00", InsurerKind.ASSOCIATION, holder,
        valid_from=at_epoch(QUALIFIED_FROM, epoch),
        valid_until=None if is_qualified(index) else at_epoch(ENDED_ON, epoch),
        linked_person=person_ref,
    )  # fmt: skip


__all__ = ["DEFAULT_EPOCH", "ENDED_ON", "INSURER", "QUALIFIED_FROM", "at_epoch", "insured_number", "is_qualified",
           "world_qualification"]  # fmt: skip
