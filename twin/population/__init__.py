"""The synthetic nation: residents, households and municipalities as columnar arrays.

``build_nation(scale, rng)`` builds it from the bundled MIC statistics and the census figures;
see :mod:`twin.population.nation`.
"""

from twin.population.nation import Heads, Households, Nation, Residents, build_heads, build_nation

__all__ = ["Heads", "Households", "Nation", "Residents", "build_heads", "build_nation"]
