"""Agent against aggregate fidelity: days until 50, 90 and 99 % of a municipality type's households are
paid, per design, read from two runs' metrics (``paid_share_cumulative`` by ``type``).

Both tiers run the same households and plans when they share scenario, seed and scale (the aggregate
builds only the heads, by the same draws), so what differs is the town halls' work (whole jobs through
the real ledger against fluid work) and the agent tier's random error draws. The stated tolerances:
both tiers pay on each town hall's own transfer days (1 to 5 a week), so a household paid one transfer
later moves a share by up to 3-4 days; 50 % and 90 % may differ by two transfer intervals, the thin 99 %
tail by three (``tests/models/test_payout_agent.py`` at 1:1000; the agent benchmark at 1:100).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from twin.models.payout.params import MUNICIPALITY_TYPES

#: stated tolerances (days) on the days to each share, by municipality type
TOLERANCE_DAYS = {0.5: 7, 0.9: 7, 0.99: 10}


@dataclass(frozen=True)
class Gap:
    option: str
    type: str
    share: float
    agent_day: int
    aggregate_day: int

    @property
    def days(self) -> int:
        return abs(self.agent_day - self.aggregate_day)

    @property
    def within(self) -> bool:
        return self.days <= TOLERANCE_DAYS[self.share]


def first_day(curve: np.ndarray, share: float) -> int:
    """First day index on which ``curve`` reaches ``share``; -1 if it never does."""
    hit = np.flatnonzero(curve >= share - 1e-12)
    return int(hit[0]) if len(hit) else -1


def days_to_shares(frame: pd.DataFrame, option: str) -> dict[tuple[str, float], int]:
    """Days from the run's first day to each stated share, per municipality type, for one design."""
    rows = frame[(frame["option"] == option) & (frame["metric"] == "paid_share_cumulative")]
    out = {}
    for t in MUNICIPALITY_TYPES:
        series = rows[rows["labels"] == f"type={t}"].sort_values("time")
        if series.empty:
            raise ValueError(f"option {option}: no paid_share_cumulative series for type {t}")
        curve = series["value"].to_numpy()
        for share in TOLERANCE_DAYS:
            out[(t, share)] = first_day(curve, share)
    return out


def compare(agent: pd.DataFrame, aggregate: pd.DataFrame, options: list[str]) -> list[Gap]:
    """Every design, type and share: the agent tier's day beside the aggregate tier's."""
    gaps = []
    for o in options:
        a, g = days_to_shares(agent, o), days_to_shares(aggregate, o)
        for (t, share), day in a.items():
            gaps.append(Gap(o, t, share, day, g[(t, share)]))
    return gaps


def failures(gaps: list[Gap]) -> list[Gap]:
    """The gaps outside the stated tolerance, or where either tier never reached the share."""
    return [g for g in gaps if g.agent_day < 0 or g.aggregate_day < 0 or not g.within]
