"""The licence centre as a channel of the renewal wave (マイナ免許証, from 2025-03-24).

A card holder may have the driving licence recorded on the card at a licence centre or police station.
When such a card is renewed, the new card carries the licence only under the continuation
(マイナ免許証等継続利用) that started on 2025-09-01, and only if the renewal qualifies (online application,
a signature certificate given to the police beforehand, one wanted on the new card: the rule is
:func:`twin.services.licence.continuation_refusal`, applied here to each combination of those conditions
with its assumed share). Otherwise the holder must re-record the licence at a licence centre (1,500 yen)
to drive with the card. Before 2025-09-01 every renewal of a licensed card lost the licence. So the wave
sends people to the licence centres, and the continuation's start date decides how many.

Per day of the wave (national, expected counts):

* licensed holders ``H(t)``: the National Police Agency's counts of マイナ免許証 holders (sourced points,
  linear between them) and, after the last point, its last interval's daily growth (assumed to go on);
* licensed card renewals = the wave's cards handed over that day x ``H(t)`` / cards held (assumed: holders
  whose card falls due are as likely as any holder to have linked the licence);
* carried over = licensed renewals x the share the rule lets through (0 before the continuation's start);
* re-recorded = the rest x the share who re-record (the licence-only holders, who cannot drive otherwise,
  and the holders of both, who may keep the plastic licence: NPA's split, assumed re-record shares),
  on the day the card is handed over (no lag: assumed);
* new links: the growth of ``H(t)`` (NPA), the licence centres' other visits of this kind.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field

from twin.config import Fraction, PositiveFloat, StrictModel, date_from, interval
from twin.services.licence import CONTINUATION_START, MYNA_LICENCE_START, RE_RECORD_FEE_YEN, continuation_refusal

#: National Police Agency, マイナ免許証 holders (total, of whom licence-only) at month ends (twin/data/FIGURES.md)
NPA_HOLDERS: tuple[tuple[dt.date, float, float], ...] = (
    (dt.date(2025, 3, 31), 117_589.0, 44_543.0),
    (dt.date(2025, 6, 30), 868_188.0, 280_527.0),
)


class LicenceChannel(StrictModel):
    """The licence centre as a channel of the renewal wave (off unless ``enabled``)."""

    enabled: bool = Field(False, description="play the licensed cards' renewals and the licence-centre visits")
    continuation_start: date_from(MYNA_LICENCE_START, "the licence's start on the card") = Field(  # type: ignore[valid-type]
        CONTINUATION_START, description="day renewed cards start to carry the licence over (NPA: 2025-09-01)")
    cards_held: PositiveFloat = Field(
        100_129_804, description="cards held, the denominator of the licensed share (Impress 2025-12-03)")
    growth_after_last_count: interval(0, 3) = Field(
        1.0, description="ASSUMED, range 0.5-1.5 as a multiplier: holders grow after NPA's last count at this "
        "multiple of its last interval's daily growth")
    online_share: Fraction = Field(
        0.5, description="ASSUMED, range 0.3-0.8: licensed holders' card renewals applied for online")
    certificate_at_police_share: Fraction = Field(
        0.6, description="ASSUMED, range 0.3-0.9: licensed holders who gave the police a signature certificate")
    wants_sign_certificate_share: Fraction = Field(
        0.9, description="ASSUMED, range 0.7-1.0: renewals that ask for a signature certificate on the new card")
    re_record_licence_only: Fraction = Field(
        0.95, description="ASSUMED, range 0.8-1.0: licence-only holders who re-record a lost licence")
    re_record_both: Fraction = Field(
        0.4, description="ASSUMED, range 0.1-0.8: holders of both who re-record (the rest drive on the plastic)")



#: the report's data sources when the channel is on
SOURCES = [
    "National Police Agency via limo.media 90969, fnn.jp 852320: マイナ免許証 holders 117,589 (44,543 licence only) on "
    "2025-03-31 and 868,188 (280,527 licence only) on 2025-06-30",
    "NPA via the prefectural police (Akita, Kanagawa, Kumamoto, Toyama) and the MPD: the continuation at card "
    "renewal from 2025-09-01 and its conditions; 1,500 yen to record the licence outside a licence renewal",
]
SOURCED = {
    "licence.continuation_start": "NPA via prefectural police (Akita, Kanagawa, Kumamoto, Toyama), MPD: "
    "マイナ免許証等継続利用 from 2025-09-01",
    "licence.cards_held": "pc.watch.impress.co.jp 2069103: 100,129,804 cards held on 2025-12-03",
}
ASSUMED_RANGES = {
    "licence.growth_after_last_count": "0.5-1.5 x NPA's April-June 2025 daily growth",
    "licence.online_share": "0.3-0.8 of licensed holders' card renewals applied for online",
    "licence.certificate_at_police_share": "0.3-0.9 of licensed holders",
    "licence.wants_sign_certificate_share": "0.7-1.0 of renewals",
    "licence.re_record_licence_only": "0.8-1.0 of licence-only holders who lose it",
    "licence.re_record_both": "0.1-0.8 of holders of both who lose it",
}


def holders(p: LicenceChannel, dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Licensed holders and the licence-only share on each day (``dates``: datetime64[D])."""
    days = np.array([np.datetime64(MYNA_LICENCE_START) - 1, *(np.datetime64(d) for d, _, _ in NPA_HOLDERS)])
    x = (days - days[0]).astype(float)
    total = np.array([0.0, *(h for _, h, _ in NPA_HOLDERS)])
    only = np.array([NPA_HOLDERS[0][2] / NPA_HOLDERS[0][1], *(o / h for _, h, o in NPA_HOLDERS)])
    t = (dates - days[0]).astype(float)
    slope = (total[-1] - total[-2]) / (x[-1] - x[-2]) * p.growth_after_last_count
    h = np.where(t <= x[-1], np.interp(t, x, total), total[-1] + slope * (t - x[-1]))
    return np.maximum(h, 0.0), np.interp(t, x, only)


def carried_share(p: LicenceChannel, day: dt.date) -> float:
    """Share of a licensed card's renewal (for its expiry) that carries the licence over on ``day``: the
    service's rule summed over the combinations of the conditions, each with its share."""
    shares = {"online": p.online_share, "sign_certificate_at_police": p.certificate_at_police_share,
              "wants_sign_certificate": p.wants_sign_certificate_share}  # fmt: skip
    total = 0.0
    for combo in itertools.product((True, False), repeat=len(shares)):
        weight = float(np.prod([s if c else 1.0 - s for s, c in zip(shares.values(), combo, strict=True)]))
        if continuation_refusal(day, "expiry", *combo, start=p.continuation_start) is None:
            total += weight
    return total


@dataclass(frozen=True)
class LicenceFlows:
    """Daily national flows (arrays over the wave's days)."""

    dates: np.ndarray
    holders: np.ndarray
    licensed_renewals: np.ndarray
    carried_over: np.ndarray
    re_recorded: np.ndarray
    lost: np.ndarray  # licensed renewals neither carried over nor re-recorded
    new_links: np.ndarray

    def in_window(self, start: dt.date, end: dt.date) -> dict[str, float]:
        m = (self.dates >= np.datetime64(start)) & (self.dates <= np.datetime64(end))
        return {k: float(getattr(self, k)[m].sum())
                for k in ("licensed_renewals", "carried_over", "re_recorded", "lost", "new_links")}  # fmt: skip


def flows(p: LicenceChannel, dates: np.ndarray, cards_handed_over: np.ndarray) -> LicenceFlows:
    """The licence channel's flows given the wave's card renewals handed over per day."""
    h, only = holders(p, dates)
    licensed = cards_handed_over * h / p.cards_held
    carry = np.array([carried_share(p, d.astype(dt.date)) for d in dates])
    carried = licensed * carry
    re_share = only * p.re_record_licence_only + (1.0 - only) * p.re_record_both
    re_recorded = (licensed - carried) * re_share
    new_links = np.diff(h, prepend=h[0] if dates[0] > np.datetime64(MYNA_LICENCE_START) else 0.0)
    return LicenceFlows(dates, h, licensed, carried, re_recorded, licensed - carried - re_recorded, new_links)


def headline(f: LicenceFlows, fy_start: dt.date, fy_end: dt.date) -> dict[str, Any]:
    fy = f.in_window(fy_start, fy_end)
    return {**fy, "re_record_fees_yen": fy["re_recorded"] * RE_RECORD_FEE_YEN,
            "licence_centre_visits": fy["re_recorded"] + fy["new_links"],
            "holders_fy_end": float(f.holders[f.dates <= np.datetime64(fy_end)][-1])}  # fmt: skip


def section(heads: dict[str, dict[str, Any]], monthly: dict[str, tuple[list[str], dict[str, np.ndarray]]],
            params: dict[str, LicenceChannel]) -> Any:
    """The licence centres' visits caused by the wave, per option, with the month-by-month flows."""
    from twin.report import Paragraph, Section, Table

    base = next(iter(heads))
    texts = []
    for name, h in heads.items():
        texts.append(
            f"{name} (continuation from {params[name].continuation_start}): of {h['licensed_renewals']:,.0f} "
            f"licensed cards renewed in the fiscal year, {h['carried_over']:,.0f} carried the licence over, "
            f"{h['re_recorded']:,.0f} holders re-recorded it at a licence centre ({h['re_record_fees_yen']:,.0f} yen "
            f"in fees) and {h['lost']:,.0f} did not; with {h['new_links']:,.0f} new links that is "
            f"{h['licence_centre_visits']:,.0f} licence-centre visits.")
    intro = Paragraph(
        "A renewed card carries the driving licence over only under the continuation (マイナ免許証等継続利用, "
        f"from {CONTINUATION_START}) and only if applied for online with a signature certificate given to the police "
        "and wanted on the new card; otherwise the holder must re-record the licence at a licence centre "
        f"({RE_RECORD_FEE_YEN:,} yen) to drive with the card. Licensed holders follow the National Police Agency's "
        f"counts ({NPA_HOLDERS[0][1]:,.0f} on {NPA_HOLDERS[0][0]}, {NPA_HOLDERS[-1][1]:,.0f} on {NPA_HOLDERS[-1][0]}) "
        "and grow on at the last interval's rate (assumed); the shares of the conditions and who re-records are "
        "assumed (ranges in the assumptions). " + " ".join(texts))
    rows = []
    for name, (labels, m) in monthly.items():
        for k, label in enumerate(labels):
            rows.append([name, label, m["licensed_renewals"][k], m["carried_over"][k], m["re_recorded"][k],
                         m["new_links"][k], m["holders"][k]])
    table = Table(
        "Licensed cards renewed, carried over and re-recorded, and new links, by month",
        ["option", "month", "licensed cards renewed", "carried over", "re-recorded at a licence centre", "new links",
         "licensed holders at month end"],
        rows,
        note=f"Expected counts, national. The base option is {base}. Holders after {NPA_HOLDERS[-1][0]} are "
        "extrapolated (assumed).",
        formats={c: "{:,.0f}" for c in ("licensed cards renewed", "carried over", "re-recorded at a licence centre",
                                        "new links", "licensed holders at month end")},
    )
    return Section("The licence centre as a channel (マイナ免許証)", [intro, table])


def by_month(f: LicenceFlows) -> tuple[list[str], dict[str, np.ndarray]]:
    """Monthly sums of the flows (holders: at month end)."""
    m = f.dates.astype("datetime64[M]")
    labels, idx = np.unique(m, return_inverse=True)
    n = len(labels)
    last = np.array([np.flatnonzero(idx == k).max() for k in range(n)])
    out = {k: np.bincount(idx, weights=getattr(f, k), minlength=n)
           for k in ("licensed_renewals", "carried_over", "re_recorded", "lost", "new_links")}  # fmt: skip
    out["holders"] = f.holders[last]
    return [str(x) for x in labels], out
