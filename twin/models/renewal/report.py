"""What the renewal-wave comparison shows: month by month, where the backlog builds and how long
people wait at the counter, by municipality type, for each option."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel

from twin.metrics import Metrics
from twin.models.renewal.cards import CardSample
from twin.models.renewal.params import ASSUMED_RANGES, SOURCED, TYPES, Params
from twin.models.renewal.wave import Wave
from twin.report import Assumption, Figure, Paragraph, Section, Table
from twin.report.assumptions import assumptions as shared_assumptions

SOURCES = [
    "zeikei-news 070729: renewals expected in FY2025 (1,200万 cards, 1,580万 certificates)",
    "MIC 「マイナンバーカード交付状況について」 via Code for Japan (card issuance by municipality 2017-03 to "
    "2021-12: the months and town halls the renewals come from)",
    "Nishinippon 2021: J-LIS card production, 300-400万 cards a month stated limit",
    "J-LIS: renewal accepted from 3 months before expiry; validity to the 10th (card) / 5th (certificate) "
    "birthday after issue",
]


def months(w: Wave) -> tuple[list[str], np.ndarray]:
    """Month labels and each day's month index (over the run, lead-in included)."""
    dates = w.dates()
    m = dates.astype("datetime64[M]")
    labels, idx = np.unique(m, return_inverse=True)
    return [str(x) for x in labels], idx


def monthly(w: Wave) -> dict[str, Any]:
    labels, idx = months(w)
    n = len(labels)
    last = np.array([np.flatnonzero(idx == k).max() for k in range(n)])

    def total(a: np.ndarray) -> np.ndarray:  # [type, day] -> [type, month]
        return np.stack([np.bincount(idx, weights=row, minlength=n) for row in a])

    served, waited = total(w.counter_served), total(w.counter_days)
    walk, same = total(w.walk_arrivals), total(w.walk_same_day)
    with np.errstate(invalid="ignore", divide="ignore"):
        wait = np.where(served > 0, waited / served, np.nan)
        turned = np.where(walk > 0, 1 - same / walk, np.nan)
        prod = np.bincount(idx, weights=w.production_days, minlength=n)
        made = np.bincount(idx, weights=w.production_out, minlength=n)
        prod_wait = np.where(made > 0, prod / made, np.nan)
    return {
        "labels": labels, "backlog": w.backlog_daily[:, last], "counter_queue": w.counter_queue_daily[:, last],
        "wait_days": wait, "walk_in_turned_away": turned, "renewed": total(w.renewed_daily.sum(axis=1)),
        "production_backlog": w.production_backlog[last], "production_wait_days": prod_wait,
        "acted": np.stack([np.bincount(idx, weights=a, minlength=n) for a in w.acted]),
    }


def headline(w: Wave) -> dict[str, Any]:
    mo = monthly(w)
    nat = w.backlog_daily.sum(axis=0)
    peak = int(np.argmax(nat))
    fy = w.dates() >= np.datetime64(w.fy_start)
    renewed_fy = float(w.renewed_daily[:, :, fy].sum())
    served = w.counter_served.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        wait_type = np.where(served > 0, w.counter_days.sum(axis=1) / served, np.nan)
    return {
        "due_fy": w.due_fy,
        "issuance_record_fy": w.issuance_fy,
        "scale_to_cited": w.scale,
        "totals": w.totals,
        "renewed_in_fy": renewed_fy,
        "smartphone_renewals": w.smartphone,
        "peak_backlog": float(nat[peak]),
        "peak_backlog_date": str(w.dates()[peak]),
        "backlog_fy_end": float(nat[-1]),
        "backlog_fy_end_by_type": {t: float(w.backlog_daily[i, -1]) for i, t in enumerate(TYPES)},
        "mean_counter_wait_days_by_type": {t: float(wait_type[i]) for i, t in enumerate(TYPES)},
        "worst_month_counter_wait_days_by_type": {t: float(np.nanmax(mo["wait_days"][i]))
                                                   if np.isfinite(mo["wait_days"][i]).any() else float("nan")
                                                   for i, t in enumerate(TYPES)},
        "peak_production_backlog": float(w.production_backlog.max()),
        "counter_visits": float(w.counter_served.sum()),
        "counter_visits_in_fy": float(w.counter_served[:, fy].sum()),
        "peak_counter_queue": float(w.counter_queue_daily.sum(axis=0).max()),
        "smartphone_renewals_in_fy": float(w.smartphone_daily[fy].sum()),
    }


def add_metrics(m: Metrics, option: str, w: Wave) -> None:
    mo = monthly(w)
    times = np.array([np.datetime64(x + "-01") for x in mo["labels"]])
    for i, t in enumerate(TYPES):
        m.add_series("backlog_month_end", times, mo["backlog"][i], option=option, municipality_type=t)
        m.add_series("counter_queue_month_end", times, mo["counter_queue"][i], option=option, municipality_type=t)
        m.add_series("counter_wait_days", times, mo["wait_days"][i], option=option, municipality_type=t)
        m.add_series("walk_in_not_served_same_day", times, mo["walk_in_turned_away"][i], option=option,
                     municipality_type=t)
        m.add_series("renewed_per_month", times, mo["renewed"][i], option=option, municipality_type=t)
    m.add_series("jlis_production_backlog_month_end", times, mo["production_backlog"], option=option)
    m.add_series("jlis_production_wait_days", times, mo["production_wait_days"], option=option)
    for k, c in enumerate(("card", "certificate")):
        m.add_series("renewals_started_per_month", times, mo["acted"][k], option=option, item=c)
    h = headline(w)
    m.add("peak_backlog", h["peak_backlog"], option=option)
    m.add("backlog_fy_end", h["backlog_fy_end"], option=option)
    for k, v in h["totals"].items():
        m.add("people", v, option=option, outcome=k)


def _x(mo: dict[str, Any]) -> np.ndarray:
    """Each month's last day (options with longer windows start earlier)."""
    first = np.array([np.datetime64(x, "M") for x in mo["labels"]])
    return (first + np.timedelta64(1, "M")).astype("datetime64[D]") - np.timedelta64(1, "D")


def _figures(waves: dict[str, Wave]) -> list[Figure]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = []
    fig, axes = plt.subplots(1, len(TYPES), figsize=(13, 3.4), sharey=False)
    for name, w in waves.items():
        mo = monthly(w)
        for i in range(len(TYPES)):
            axes[i].plot(_x(mo), mo["backlog"][i] / 1e3, marker=".", label=name)
    for i, t in enumerate(TYPES):
        axes[i].set_title(t, fontsize=9)
        axes[i].tick_params(axis="x", labelrotation=45, labelsize=7)
        axes[i].grid(alpha=0.3)
    axes[0].set_ylabel("in process at month end (thousands)")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    figs.append(Figure("renewal_backlog", fig, "Renewals started and not yet finished (J-LIS, transit, waiting "
                       "at the counter) at each month's end, by municipality type, per option."))
    fig, axes = plt.subplots(1, len(TYPES), figsize=(13, 3.4))
    for name, w in waves.items():
        mo = monthly(w)
        for i, _ in enumerate(TYPES):
            axes[i].plot(_x(mo), mo["wait_days"][i], marker=".", label=name)
    for i, t in enumerate(TYPES):
        axes[i].set_title(t, fontsize=9)
        axes[i].tick_params(axis="x", labelrotation=45, labelsize=7)
        axes[i].grid(alpha=0.3)
    axes[0].set_ylabel("mean days waited at the counter")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    figs.append(Figure("renewal_counter_wait", fig, "Mean days a visitor served that month waited for the "
                       "counter (appointment lead time or walk-in return visits), by municipality type."))
    return figs


def add_card_metrics(m: Metrics, option: str, s: CardSample) -> None:
    for cls, c in s.classes.items():
        m.add("lifecycle_renewals", c.lifecycle_renewals, option=option, item=cls)
        m.add("certificates_revoked_per_renewal", c.per_renewal("revoked"), option=option, item=cls)
        m.add("certificates_issued_per_renewal", c.per_renewal("issued"), option=option, item=cls)
        m.add("crl_entries_from_renewals", c.national("revoked"), option=option, item=cls)
        m.add("pin_resets_per_renewal", c.per_renewal("pin_resets"), option=option, item=cls)
        m.add("losses_per_renewal", c.per_renewal("losses"), option=option, item=cls)
    m.add("lifecycle_violations", len(s.violations), option=option)


def card_section(cards: dict[str, CardSample]) -> Section:
    """The sampled renewals through the real card lifecycle, beside the wave's counts."""
    rows = []
    for name, s in cards.items():
        for cls, c in s.classes.items():
            rows.append([name, cls, c.lifecycle_renewals, c.revoked, c.issued, c.per_renewal("revoked"),
                         c.revoked_half_width(), c.per_renewal("issued"), c.wave_renewed_fy, c.national("revoked"),
                         c.national("issued"), c.pin_resets, c.losses, c.revoked_loss, c.national("pin_resets")])
    bad = {n: s.violations for n, s in cards.items() if s.violations}
    text = (
        "Per class, a sample of the wave's renewals in the fiscal year (day and town hall drawn by the wave's "
        "counts) was played through the real card lifecycle (twin.services.card_lifecycle) on a real JPKI "
        "certificate authority: the holder's card issued 10 (minors: 5) years before, an adult's certificates "
        "renewed at the 5th birthday, then the renewal itself. The lifecycle issues and revokes the certificates "
        "(none for signature under 15); the national figures scale the sample's per-renewal counts by the wave's "
        "renewals. Ages are assumed (adults 20-80, minors under 19, evenly). After each renewal the holder must "
        "have exactly one active card with good certificates and no good certificate on the old one. Trouble "
        "goes through the same lifecycle: certificate-renewal visitors with a locked PIN (the assumed "
        "counters.pin_reset_share, which the wave also adds counter minutes for) have it reset before the renewal, "
        "and old cards reported lost before a card renewal (due.lost_before_renewal_share, assumed) are suspended "
        "with their certificates revoked for loss; the counts below are read from the cards' lifecycle histories "
        "and the CA: "
        + ("no breaches." if not bad else "breaches: " + "; ".join(f"{n}: {v[0]}" for n, v in bad.items()))
    )
    return Section("Renewals through the card lifecycle (sample)", [
        Paragraph(text),
        Table("Sampled renewals through CardLifecycle and JPKI",
              ["option", "class", "renewals (sample)", "revoked", "issued", "revoked per renewal",
               "± 95 %", "issued per renewal", "wave renewals in FY", "CRL entries added (national)",
               "certificates issued (national)", "PIN resets (sample)", "loss reports (sample)",
               "revoked for loss (sample)", "PIN resets (national)"], rows,
              note="± 95 %: sampling half-width of revoked per renewal (normal approximation); the national "
                   "figures carry the same relative uncertainty.",
              formats={"revoked per renewal": "{:.2f}", "± 95 %": "{:.2f}", "issued per renewal": "{:.2f}",
                       "wave renewals in FY": "{:,.0f}", "CRL entries added (national)": "{:,.0f}",
                       "certificates issued (national)": "{:,.0f}", "PIN resets (national)": "{:,.0f}"}),
    ])  # fmt: skip


def sections(waves: dict[str, Wave], heads: dict[str, dict], titles: dict[str, str],
             cards: dict[str, CardSample] | None = None) -> list[Section]:
    first_name = next(iter(waves))
    first, h0 = waves[first_name], heads[first_name]
    intro = Paragraph(
        f"FY{first.fy_start.year} ({first.fy_start} to {first.fy_end}): {h0['due_fy']['card']:,.0f} cards and "
        f"{h0['due_fy']['certificate']:,.0f} certificates fall due (the cited totals). The card issuance record "
        f"alone puts {h0['issuance_record_fy']['card']:,.0f} card and {h0['issuance_record_fy']['certificate']:,.0f} "
        f"certificate expiries in the year; each town hall's expiries are scaled by "
        f"{h0['scale_to_cited']['card']:.2f} (cards) and {h0['scale_to_cited']['certificate']:.2f} (certificates) "
        "to the cited totals, keeping the record's months and town halls. The run starts one renewal window "
        "before the year and includes the holders due in the window after it who act inside it.")
    rows = []
    for name, h in heads.items():
        tot = h["totals"]
        rows.append([name, titles.get(name, name), h["renewed_in_fy"], h["smartphone_renewals"], h["peak_backlog"],
                     h["peak_backlog_date"], h["backlog_fy_end"], h["peak_production_backlog"],
                     *(h["mean_counter_wait_days_by_type"][t] for t in TYPES), tot["lapsed"]])
    table = Table(
        "Per option: renewals, backlog and counter waits",
        ["option", "what", "renewed in FY", "by smartphone", "peak in process", "peak date", "in process at FY end",
         "peak J-LIS backlog", *(f"wait days {t}" for t in TYPES), "lapsed (all the run holds)"],
        rows,
        note="in process: started (applied or wanting a visit) and not yet renewed. wait days: mean days a "
        "served visitor waited for the counter over the run. A longer window starts earlier and also draws in "
        "holders due in the next fiscal year, so its lapsed count and its renewals inside the year differ.",
        formats={"renewed in FY": "{:,.0f}", "by smartphone": "{:,.0f}", "peak in process": "{:,.0f}",
                 "in process at FY end": "{:,.0f}", "peak J-LIS backlog": "{:,.0f}",
                 "lapsed (all the run holds)": "{:,.0f}",
                 **{f"wait days {t}": "{:.1f}" for t in TYPES}},
    )
    base = heads[first_name]
    compare = []
    for name, h in list(heads.items())[1:]:
        compare.append(
            f"{name}: peak in process {h['peak_backlog']:,.0f} ({h['peak_backlog'] / base['peak_backlog'] - 1:+.0%} "
            f"against {first_name}), at FY end {h['backlog_fy_end']:,.0f}, worst month's wait in designated cities "
            f"{h['worst_month_counter_wait_days_by_type']['designated_city']:.1f} days (against "
            f"{base['worst_month_counter_wait_days_by_type']['designated_city']:.1f}).")
    blocks: list[Any] = [intro, table]
    if compare:
        blocks.append(Paragraph(" ".join(compare)))
    mo = monthly(first)
    mrows = []
    for k, lab in enumerate(mo["labels"]):
        mrows.append([lab, *(mo["backlog"][i, k] for i in range(len(TYPES))),
                      *(mo["wait_days"][i, k] for i in range(len(TYPES))), mo["production_backlog"][k],
                      mo["production_wait_days"][k]])
    blocks.append(Table(
        f"{first_name}: month by month",
        ["month", *(f"in process {t}" for t in TYPES), *(f"wait days {t}" for t in TYPES), "J-LIS backlog",
         "J-LIS wait days"],
        mrows,
        formats={**{f"in process {t}": "{:,.0f}" for t in TYPES}, **{f"wait days {t}": "{:.1f}" for t in TYPES},
                 "J-LIS backlog": "{:,.0f}", "J-LIS wait days": "{:.1f}"}))
    tot = first.totals
    gap = tot["due"] - tot["renewed"] - tot["in_process"] - tot["lapsed"] - tot["not_started"]
    blocks.append(Paragraph(
        f"Conservation ({first_name}, everyone the run holds): due {tot['due']:,.0f} = renewed "
        f"{tot['renewed']:,.0f} + in process {tot['in_process']:,.0f} + lapsed {tot['lapsed']:,.0f} + acting after "
        f"the horizon {tot['not_started']:,.0f} (gap {gap:,.1f})."))
    blocks.extend(_figures(waves))
    out = [Section("The renewal wave month by month", blocks)]
    if cards:
        out.append(card_section(cards))
    return out


def smartphone_section(waves: dict[str, Wave], heads: dict[str, dict], params: dict[str, Params]) -> Section:
    """What renewing certificates on the phone takes off the counters, per option, from the run's counts."""
    from twin.services.jpki.smartphone import SERVICE_START, Platform

    iphone = np.datetime64(SERVICE_START[Platform.IPHONE])
    base_name = next(iter(heads))
    b = heads[base_name]
    rows, texts = [], []
    for name, h in heads.items():
        w, p = waves[name], params[name]
        dates = w.dates()
        fy = dates >= np.datetime64(w.fy_start)
        before, after = fy & (dates < iphone), fy & (dates >= iphone)
        per_day = [float(w.smartphone_daily[m].mean()) if m.any() else 0.0 for m in (before, after)]
        cert_acted = float(w.acted[1][fy].sum())
        rows.append([name, p.smartphone_share, h["smartphone_renewals_in_fy"],
                     h["smartphone_renewals_in_fy"] / cert_acted if cert_acted else 0.0, per_day[0], per_day[1],
                     h["counter_visits_in_fy"], h["counter_visits_in_fy"] - b["counter_visits_in_fy"],
                     h["peak_counter_queue"], *(h["mean_counter_wait_days_by_type"][t] for t in TYPES)])
        if name != base_name:
            texts.append(
                f"{name}: {h['smartphone_renewals_in_fy']:,.0f} certificate renewals on the phone in the year "
                f"({per_day[0]:,.0f} a day before the iPhone start, {per_day[1]:,.0f} after), "
                f"{b['counter_visits_in_fy'] - h['counter_visits_in_fy']:,.0f} fewer counter visits than {base_name}; "
                f"the peak counter queue {h['peak_counter_queue']:,.0f} against {b['peak_counter_queue']:,.0f}, the "
                f"mean wait in designated cities {h['mean_counter_wait_days_by_type']['designated_city']:.1f} days "
                f"against {b['mean_counter_wait_days_by_type']['designated_city']:.1f}.")
    sp = params[base_name].smartphone
    intro = Paragraph(
        "A card's certificates renewed on the smartphone instead of at the counter (a hypothetical option: the "
        f"share is assumed, range {ASSUMED_RANGES['smartphone_share'].split(' ')[0]}). Only holders who use a "
        f"smartphone ({sp.owner_share:.1%}, MIC 2023) whose platform the smartphone JPKI service serves can "
        f"({sp.android_share:.0%} of the phones Android, assumed): Android from "
        f"{SERVICE_START[Platform.ANDROID]}, iPhone from {SERVICE_START[Platform.IPHONE]}. A phone renewal goes "
        "straight to J-LIS's CA, any day; the card renewals (a new card) still end at the counter. Where the "
        "counters are the bottleneck they stay busy with the rest of their queue, so the visits they serve in the "
        "year fall by less than the renewals moved to the phone; the queue and the waits show the relief. "
        + " ".join(texts))
    table = Table(
        "Renewals by smartphone and the counters (fiscal year)",
        ["option", "share of served phone owners", "renewed on the phone", "of the certificate renewals started",
         "a day before iPhone start", "a day after", "counter visits", f"vs {base_name}", "peak counter queue",
         *(f"wait days {t}" for t in TYPES)],
        rows,
        note="Counter visits: card handovers and certificate renewals served at the 1,741 town halls in the fiscal "
        "year. Wait days: mean over the run, as in the table above.",
        formats={"share of served phone owners": "{:.0%}", "renewed on the phone": "{:,.0f}",
                 "of the certificate renewals started": "{:.1%}", "a day before iPhone start": "{:,.0f}",
                 "a day after": "{:,.0f}", "counter visits": "{:,.0f}", f"vs {base_name}": "{:+,.0f}",
                 "peak counter queue": "{:,.0f}", **{f"wait days {t}": "{:.1f}" for t in TYPES}},
    )
    return Section("Renewal by smartphone", [intro, table])


def assumptions(base: BaseModel, options: list[tuple[str, BaseModel]]) -> list[Assumption]:
    """Every parameter, sourced or assumed; an assumed one with a stated range shows it beside its value."""
    out = shared_assumptions(base, SOURCED, options)
    return [Assumption(a.name, f"{a.value} (assumed range {ASSUMED_RANGES[a.name]})", a.source)
            if a.name in ASSUMED_RANGES and a.source is None else a for a in out]
