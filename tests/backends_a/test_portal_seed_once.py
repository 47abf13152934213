"""The portal's world is seeded once per store, whatever happens to the process that seeds it.

``build_portal`` puts each person's records, a notice and three deduction certificates into the store the first
time the portal starts on it. Notices and certificates are appended, so a second seeding would give everyone two
of each. The seeding and its mark are one transaction: a start killed half-way leaves nothing behind, and two
servers started together on one SQLite file (``twin serve portal`` workers, or the portal beside ``twin serve
points --set world=portal``) seed once, the second waiting for the first's writer lock and then finding the mark.
"""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

import real_backends.portal_hub as hub
from real_backends.load.deployment import Deployment, DeploymentSpec, resident
from real_backends.stores import open_store

SPEC = DeploymentSpec(seed=20261206, holders=3, revoked_every=0, key_pool=2)


def copies(url: str) -> list[tuple[int, int]]:
    """(notices, deduction certificates of 2025) per holder, read through a portal started on ``url``."""
    portal = hub.build_portal(Deployment.build(SPEC), open_store(url))
    out = []
    for i in range(SPEC.holders):
        ref = resident(SPEC.seed, i).resident_id
        bundle = portal.deductions(ref, 2025, "tax_return")
        out.append((len(portal.notices(ref)), len(bundle.certificates)))
    return out


def test_a_start_killed_half_way_through_seeding_leaves_nothing_and_the_next_seeds_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    seed = hub._seed

    def killed(portal, people, epoch):  # noqa: ANN001, ANN202
        seed(portal, people[:1], epoch)  # the first holder's records, notice and certificates are written
        raise RuntimeError("killed while seeding")

    monkeypatch.setattr(hub, "_seed", killed)
    with pytest.raises(RuntimeError, match="killed while seeding"):
        hub.build_portal(Deployment.build(SPEC), open_store(url))
    monkeypatch.setattr(hub, "_seed", seed)
    first = copies(url)
    assert first == [(first[0][0], first[0][1])] * SPEC.holders and first[0][0] >= 1  # the same for everyone
    assert copies(url) == first  # a restart seeds nothing more


def _start(url: str, barrier) -> None:  # noqa: ANN001
    deployment = Deployment.build(SPEC)
    barrier.wait()
    hub.build_portal(deployment, open_store(url))


def test_two_portals_started_together_on_one_sqlite_file_seed_it_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_start, args=(url, barrier)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    got = copies(url)
    assert got == [got[0]] * SPEC.holders and got[0][0] >= 1
    alone = copies(f"sqlite:///{tmp_path / 'alone.db'}")
    assert got == alone  # what one portal alone seeds
