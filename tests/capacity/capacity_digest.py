"""One fingerprint of a played request day, for the tests that pin a day's bytes to an earlier commit's."""

from __future__ import annotations

import hashlib

import numpy as np


def digest(res, *, deferred: bool = True) -> str:  # noqa: ANN001
    """sha256 of a :class:`twin.sim.clients.ClientResult`'s tallies, queues and busy seconds (and its deferred
    retries unless ``deferred`` is False: the pins recorded without them)."""
    h = hashlib.sha256()
    for a in (res.hist, res.offered, res.first, res.retries, res.goodput, res.timeouts, res.shed, res.failed):
        h.update(np.ascontiguousarray(a).tobytes())
    for s in sorted(res.queue):
        h.update(res.queue[s].tobytes())
        h.update(res.busy_seconds[s].tobytes())
    if deferred:
        h.update(str(res.deferred).encode())
    return h.hexdigest()
