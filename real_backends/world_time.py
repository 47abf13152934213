"""The time a served world lives in: its clock and its dates, from the deployment's epoch.

Picture two servers of one world on one SQLite file: Myna Portal and a clinic's eligibility check (or the JPKI
OCSP responder), both built from a deployment set on 2022-06-01, when My Number Points' phase-2 parts were
granted. For both, "today" must be the same moment of 2022, and the people's records must be dated as they would
have been then. A deployment at the default epoch (2026-04-01, :data:`EPOCH`) lives in the present: the wall
clock, and the dates its services were written with. One set at another epoch (``--set epoch=2022-06-01``)
lives then:

- its clock (:func:`world_clock`) runs at the wall clock's pace from :data:`CLOCK_LEAD` after the epoch (after
  its lost cards were reported, an hour after it), counted from the first start on the store and recorded
  there, so that every worker, every restart and every other service of the world on that store reads the same
  time;
- its dates (:func:`world_day`) are the default world's moved by the days between the two epochs: a
  qualification that ended on 2025-03-31, a year and a day before the default epoch, ends a year and a day
  before the other;
- its tax year (:func:`tax_year`), of the residence-tax assessment and the deduction certificates for the
  year-end adjustment, is the year before the epoch's.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Final

from real_backends.load.deployment import EPOCH, Deployment, DeploymentSpec
from twin.services.eligibility.worlds import at_epoch
from twin.services.store import Store

EPOCH_DAY: Final = EPOCH.date()  # the worlds' default epoch (twin.services.eligibility.worlds.DEFAULT_EPOCH)
#: a world set at another epoch starts its clock this long after it: after its lost cards were reported (epoch + 1 h)
CLOCK_LEAD: Final = dt.timedelta(hours=2)
#: where the clock's start is recorded on the store (the portal's meta table, where the portal first recorded it)
CLOCK_TABLE: Final = "portal.meta"
CLOCK_KEY: Final = "clock_started"


def lives_now(spec: DeploymentSpec) -> bool:
    """Does a deployment of ``spec`` live in the present (the default epoch: the wall clock, nothing recorded)?"""
    return spec.start == EPOCH


def world_clock(deployment: Deployment, store: Store) -> Callable[[], float]:
    """The served world's clock (POSIX seconds). A deployment at the default epoch (2026-04-01) lives in the
    present: the wall clock (:func:`time.time` itself). One set at another epoch lives then: its clock runs at
    the wall clock's pace from :data:`CLOCK_LEAD` after the epoch, counted from the first start on ``store``
    (recorded there, so that every worker, restart and service of the world on that store reads the same time)."""
    if lives_now(deployment.spec):
        return time.time
    with store.transaction() as tx:
        started = tx.get(CLOCK_TABLE, CLOCK_KEY)
        if started is None:
            started = time.time()
            tx.put(CLOCK_TABLE, CLOCK_KEY, started)
    offset = (deployment.spec.start + CLOCK_LEAD).timestamp() - started  # type: ignore[operator]
    return lambda: time.time() + offset


def world_day(day: dt.date, epoch: dt.date) -> dt.date:
    """``day`` of the default world (set at 2026-04-01) in a world set at ``epoch``: as many days before (or after)
    its epoch (the rule the worlds' qualifications follow: :func:`twin.services.eligibility.worlds.at_epoch`)."""
    return at_epoch(day, epoch)


def tax_year(spec: DeploymentSpec) -> int:
    """The year of the served world's tax records: the year before the epoch's (2025 at the default epoch)."""
    return spec.start.date().year - 1


__all__ = ["CLOCK_LEAD", "EPOCH_DAY", "lives_now", "tax_year", "world_clock", "world_day"]
