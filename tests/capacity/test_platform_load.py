"""The platform operators' status checks (現況確認) as a load of the capacity model (issue 18 item 3).

Private verifiers were one flat assumed figure. Now their load has two parts, both from the operators'
links: logins (links x logins per link a day) in the hours people are at home, and every linked
certificate's status checks in the operators' nightly window. The number of checks is what the platform
operator service itself sends; a test below runs the service and the demand side by side and compares
their counts. The logins are tested in tests/capacity/test_private_logins.py.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from twin.models.capacity import report
from twin.models.capacity.aggregate import simulate
from twin.models.capacity.demand import build_demand, platform_status_per_hour
from twin.models.capacity.params import Params
from twin.services.jpki import Jpki, KeySource
from twin.services.platform import PlatformOperator

MONDAY = dt.date(2024, 7, 8)


def test_wiring_status_checks_fill_the_nightly_window_every_day() -> None:
    p = Params(demand={"platform_links": 3_000_000, "platform_status_checks_per_link_per_day": 0.5,
                       "platform_status_check_hours": (1, 4)})  # fmt: skip
    status = platform_status_per_hour(p, [MONDAY + dt.timedelta(days=i) for i in range(7)]).reshape(7, 24)
    assert status.sum(axis=1) == pytest.approx([1_500_000] * 7)  # weekends too: the operators' batch runs daily
    assert status[:, 1:4] == pytest.approx(np.full((7, 3), 500_000))
    assert status[:, :1].sum() == status[:, 4:].sum() == 0.0
    without = Params(demand={"platform_links": 3_000_000, "platform_status_checks_per_link_per_day": 0})
    extra = build_demand(p, MONDAY, 7).private - build_demand(without, MONDAY, 7).private
    assert extra == pytest.approx(status.reshape(-1))  # the checks are added to the private verifiers' load


def test_the_demand_counts_the_status_requests_the_operator_service_sends() -> None:
    """Link N certificates at a real operator, run its status rounds for three nights: the service's own
    count of status requests is what the capacity demand puts on the OCSP pool for N links."""
    now = dt.datetime(2026, 4, 1, 1, 0, tzinfo=dt.UTC)
    keys = KeySource(20260401, pool_size=2)
    jpki = Jpki.bootstrap(now, KeySource(20260401))
    op = PlatformOperator(jpki, b"k" * 32)
    op.register_provider("bank-a", "A銀行")
    n = 12
    for i in range(n):
        key = keys.key(i % 2)
        cert = jpki.issue_auth_certificate(key.public_key(), dt.date(1980, 1, 1), now, 13101, person_ref=f"p{i}")
        c = op.challenge("bank-a", now)
        op.link("bank-a", f"u{i}", c, cert.public_bytes(serialization.Encoding.DER),
                key.sign(c, padding.PKCS1v15(), hashes.SHA256()), now)  # fmt: skip
    before = op.status_requests
    nights = [MONDAY + dt.timedelta(days=i) for i in range(3)]
    for i, _ in enumerate(nights):
        op.check_status(now + dt.timedelta(days=i, hours=1))
    sent = op.status_requests - before
    p = Params(demand={"platform_links": n, "platform_status_checks_per_link_per_day": 1.0})
    assert sent == n * len(nights)
    assert platform_status_per_hour(p, nights).sum() == pytest.approx(sent)


def test_more_links_status_checks_load_the_ocsp_pool_at_night_and_leave_the_day_alone() -> None:
    """The status checks alone (no logins over the links: those add day load, test_private_logins.py)."""
    pools = {"eligibility": {"servers": 4}, "ocsp": {"servers": 2}, "portal": {"servers": 2}, "ca": {"servers": 2},
             "linkage": {"servers": 2}}
    few = Params(pools=pools, demand={"platform_links": 1_000_000, "platform_logins_per_link_per_day": 0})
    many = Params(pools=pools, demand={"platform_links": 60_000_000, "platform_logins_per_link_per_day": 0})
    a, b = simulate(few, build_demand(few, MONDAY, 1)), simulate(many, build_demand(many, MONDAY, 1))
    ua, ub = a.pools["ocsp"].utilisation, b.pools["ocsp"].utilisation
    night, day = slice(1, 5), slice(8, 20)
    assert (ub[night] > ua[night]).all()
    assert np.array_equal(ua[day], ub[day])
    for pool in ("eligibility", "portal", "linkage"):
        assert np.array_equal(a.pools[pool].utilisation, b.pools[pool].utilisation), pool


def test_the_report_lists_the_links_and_check_rate_as_assumed_with_ranges() -> None:
    rows = {a.name: a for a in report.assumptions(Params(), [])}
    for name in ("demand.platform_links", "demand.platform_status_checks_per_link_per_day"):
        assert rows[name].source is None and "assumed range" in rows[name].value, name


def test_a_status_window_ending_before_it_starts_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="platform_status_check_hours"):
        Params(demand={"platform_status_check_hours": (5, 1)})


def test_the_report_lists_the_private_logins_per_link_and_the_reception_face_match_as_assumed_with_ranges() -> None:
    """Issue 18: the reception reader's match rate (and what follows a miss) and the private logins per link
    are assumptions, shown with their ranges beside the value used."""
    rows = {a.name: a for a in report.assumptions(Params(), [])}
    for name in ("demand.platform_logins_per_link_per_day", "reception.match_rate", "reception.knows_pin",
                 "reception.visual_check"):  # fmt: skip
        assert rows[name].source is None and "assumed range" in rows[name].value, (name, rows[name])
