"""Parameters of the agent fidelity only: signature checks and partitions (ignored by the aggregate tier).

Kept apart from :mod:`twin.models.payout.params` so that the aggregate model's parameters can change
without touching these. ``Params.agent`` holds them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from twin.config import Fraction, StrictModel, interval


class AgentRun(StrictModel):
    """How the agent fidelity checks online signatures and splits the nation into partitions."""

    signature_check: Literal["sample", "all"] = Field(
        "sample",
        description="sample: the ledger checks the JPKI signature (real RSA) of a share `signature_sample` of "
        "online applications; all: of every online application (each applicant's emulated card signs)",
    )
    signature_sample: Fraction = Field(
        0.02, description="share of online applications whose signature is checked when signature_check is sample"
    )
    bad_signature_share: Fraction = Field(
        0.002,
        description="online forms altered after the card signed them (assumed): refused where checked, "
        "counted as missed where not",
    )
    partitions: interval(0, 4096, integer=True) = Field(  # type: ignore[valid-type]
        0,
        description="municipality partitions of the run (0: one per about 25,000 sampled households); "
        "each runs its own registry and ledger on the experiments executor",
    )
    plan_above: interval(0, 100_000_000, integer=True) = Field(  # type: ignore[valid-type]
        500_000,
        description="a run expected to sample more households than this (the scale times the census's 55.7M "
        "general households) is planned from the nation's layout: the main process holds the counts and each "
        "partition rebuilds its own households, so that the main process's memory does not grow with the nation; "
        "at or below it the main process builds the sampled nation once and splits it, which is faster (no walk "
        "over the nation per design before the partitions start; 2026-12-06: one design at 1:200 scaled "
        "2.08-2.11x from 1 to 2 Dask workers built, 1.39-1.60x planned; four designs at 1:100 took 104 s planned, "
        "116-123 s built). Both give the same bytes; 0: always plan",
    )
    split_above: interval(0, 100_000_000, integer=True) = Field(  # type: ignore[valid-type]
        25_000,
        description="a municipality with more sampled households than this is worked by sections of at most "
        "this many households each, with its share of the town hall's staff, which may run in different "
        "partitions (so that a partition's memory does not grow with the largest city); 0: never split",
    )
