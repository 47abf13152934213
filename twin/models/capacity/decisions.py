"""What a reception decides when the online eligibility check fails: try again, or confirm another way.

Monday 09:05, a clinic's reception PC sends a patient's eligibility lookup (オンライン資格確認) and the
answer does not come within five seconds. The clerk tries again; after a few tries, with the waiting
room filling, she gives up on the online check. Then she confirms the patient's eligibility another way,
as the ministry asked facilities to in 2023-24 when the system failed (the card face, a 資格確認書, a
self-declaration form), or, at a reception that does not, the patient leaves unconfirmed that day.

:func:`decide_retries` is that decision for every facility at once: by its type, how many retries its
requests get (``requests.fallback.max_retries``, the retry policy's when not set) and whether it falls
back (``requests.fallback.share`` of each type, by the facility's own draw). It is the one rule: at agent
fidelity each :class:`~twin.models.capacity.facilities.Facility` calls it on its own row
(``FacilityModel.decide_retries``, a ``shuffle_do`` over the agents), at aggregate fidelity the run calls
it on the facility columns, and a test holds the two equal facility by facility. Both read the same
draws (:func:`decision_draws`, a stream named after the decision and derived from the run's seed), so
the order in which the agents decide does not matter, and the draws do not move any other stream.
Both parameters are judgements: no share or retry count of receptions has been published.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.models.capacity.params import FACILITY_TYPES, Params

#: the name of the decision's random stream (its key is derived from the name, as the run's named streams)
STREAM = "capacity.facility_decisions"


@dataclass(frozen=True)
class RetryDecisions:
    """Per facility (one row each): the retries its reception requests get, and whether it falls back."""

    max_retries: np.ndarray  # int64, retries after the first attempt
    falls_back: np.ndarray  # bool: confirms eligibility another way once it gives up

    def __len__(self) -> int:
        return len(self.max_retries)


def decision_draws(seed: int, n: int) -> np.ndarray:
    """One uniform draw per facility (row order) from the decision's own stream of the run's ``seed``."""
    from twin.runs import stream_key

    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream_key(STREAM),))).random(n)


def decide_retries(kind: np.ndarray, u: np.ndarray, params: Params) -> RetryDecisions:
    """The rule, column-wise: ``kind`` indexes :data:`FACILITY_TYPES`, ``u`` is each facility's draw in [0, 1).

    A facility retries up to its type's limit (the retry policy's where the type has none) and falls back
    when its draw is below its type's share (a share of 1 falls back always, 0 never)."""
    kind, u = np.asarray(kind), np.asarray(u, dtype=np.float64)
    if kind.shape != u.shape:
        raise ValueError(f"decide_retries: one draw per facility (kind {kind.shape}, u {u.shape})")
    fb, policy_max = params.requests.fallback, params.requests.retry.max_retries
    limit = np.array([policy_max if fb.max_retries[t] is None else fb.max_retries[t] for t in FACILITY_TYPES],
                     dtype=np.int64)
    share = np.array([fb.share[t] for t in FACILITY_TYPES])
    return RetryDecisions(limit[kind], u < share[kind])


__all__ = ["STREAM", "RetryDecisions", "decide_retries", "decision_draws"]
