"""Residents as Mesa agents: a view over a sample of the synthetic nation's rows (agent tier).

In the agent tier a few thousand residents walk up to a counter, hold an emulated card and run the
real services. They are not a second population: each :class:`ResidentAgent` is a window on one
row of :class:`twin.population.nation.Residents` (its attributes are read from the arrays), and the
sample is a Mesa 3 ``AgentSet`` so models use collection methods (``select``, ``do``,
``groupby``) instead of loops.
"""

from __future__ import annotations

import mesa
import numpy as np

from twin.errors import InputError


class ResidentAgent(mesa.Agent):
    """One sampled resident (住民); ``row`` is its index in ``nation.residents``."""

    def __init__(self, model: mesa.Model, nation: object, row: int) -> None:
        super().__init__(model)
        self.nation = nation
        self.row = int(row)

    def _col(self, name: str) -> np.ndarray:
        return getattr(self.nation.residents, name)  # type: ignore[attr-defined]

    @property
    def age(self) -> int:
        return int(self._col("age")[self.row])

    @property
    def sex(self) -> str:
        return "F" if self._col("sex")[self.row] else "M"

    @property
    def municipality(self) -> int:
        return int(self._col("municipality")[self.row])

    @property
    def municipality_code(self) -> int:
        return int(self.nation.municipalities.code[self.municipality])  # type: ignore[attr-defined]

    @property
    def household(self) -> int:
        return int(self._col("household")[self.row])

    @property
    def is_head(self) -> bool:
        return bool(self._col("is_head")[self.row])

    @property
    def literacy(self) -> float:
        return float(self._col("literacy")[self.row])

    @property
    def has_card(self) -> bool:
        return bool(self._col("has_card")[self.row])

    @property
    def has_account(self) -> bool:
        return bool(self._col("has_account")[self.row])

    def __repr__(self) -> str:
        return f"ResidentAgent(row={self.row}, age={self.age}, sex={self.sex}, municipality={self.municipality_code})"


def sample_agents(
    nation: object, n: int, rng: np.random.Generator, model: mesa.Model | None = None
) -> mesa.agent.AgentSet:
    """``n`` residents drawn without replacement (rows in ascending order) as an AgentSet of ``model``.

    Without a model, a plain ``mesa.Model`` seeded from ``rng`` is created to own the agents.
    """
    total = len(nation)  # type: ignore[arg-type]
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not (0 <= n <= total):
        raise InputError(f"n {n!r} is not a number of residents in [0, {total:,}]")
    rows = np.sort(rng.choice(total, size=int(n), replace=False))
    if model is None:
        model = mesa.Model(seed=int(rng.integers(2**31)))
    return mesa.agent.AgentSet([ResidentAgent(model, nation, r) for r in rows], random=model.random)
