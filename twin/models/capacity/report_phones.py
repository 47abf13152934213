"""What the phones change at the certificate system, half-year by half-year, from the run's own series.

A phone login replaces a card login one for one at the portal and at the revocation service (one status
question per login either way; only whose certificate it asks about changes, and with it which pre-signed
cache answers), adds the phones' certificate pairs at the CA, and takes PIN lock-outs away from the
counters (a biometric unlock instead of the 4-digit PIN). Every number here is summed from the hourly
series of the run (:class:`twin.models.capacity.demand.HourlyDemand` and the pools).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from twin.metrics import Metrics
from twin.models.capacity.aggregate import OptionResult
from twin.models.capacity.params import PHONE_START, Params
from twin.report import Figure, Paragraph, Section, Table


def has_phones(params: Params) -> bool:
    return bool(params.phones.uptake)


def _halves(start: dt.date, n_days: int) -> list[tuple[str, int, int]]:
    """(label, first day index, end day index) of each half fiscal year (Apr-Sep, Oct-Mar) in the horizon."""
    out: list[tuple[str, int, int]] = []
    for i in range(n_days):
        d = start + dt.timedelta(days=i)
        fy = d.year if d.month >= 4 else d.year - 1
        label = f"FY{fy} {'H1' if 4 <= d.month <= 9 else 'H2'}"
        if out and out[-1][0] == label:
            out[-1] = (label, out[-1][1], i + 1)
        else:
            out.append((label, i, i + 1))
    return out


def _daily(x: np.ndarray | None, n_days: int) -> np.ndarray:
    return np.zeros(n_days) if x is None else x.reshape(n_days, 24).sum(axis=1)


def headline(r: OptionResult, params: Params) -> dict[str, Any]:
    """Totals over the horizon and per half fiscal year (at the option's load multiplier)."""
    d, m = r.demand, params.load_multiplier
    n = d.hours // 24
    logins = _daily(d.logins, n) * m
    phone = _daily(d.phone_logins, n) * m
    issues = _daily(d.phone_issues, n) * m
    resets = _daily(d.pin_resets, n) * m
    share = d.phone_share.reshape(n, 24)[:, 0] if d.phone_share is not None else np.zeros(n)
    ca, ocsp = r.pools["ca"], r.pools["ocsp"]
    ca_day = ca.utilisation.reshape(n, 24)
    rows = []
    for label, a, b in _halves(d.start, n):
        rows.append({
            "period": label, "days": b - a, "phone_share": float(share[a:b].mean()),
            "phone_logins_per_day": float(phone[a:b].mean()), "logins_per_day": float(logins[a:b].mean()),
            "phone_issues_per_day": float(issues[a:b].mean()), "phone_issues_peak_day": float(issues[a:b].max()),
            "ca_requests": float(ca.arrivals[a * 24:b * 24].sum()), "ca_peak_utilisation": float(ca_day[a:b].max()),
            "ocsp_requests": float(ocsp.arrivals[a * 24:b * 24].sum()),
            "phone_ocsp_requests": float(phone[a:b].sum() * (1 - params.revocation.cdn_hit_rate))
            if params.revocation.mode == "ocsp" else 0.0,
            "pin_resets_per_business_day": float(resets[a:b][resets[a:b] > 0].mean()) if (resets[a:b] > 0).any()
            else 0.0,
        })
    return {
        "phone_logins": float(phone.sum()), "logins": float(logins.sum()), "phone_issues": float(issues.sum()),
        "pin_resets": float(resets.sum()), "ocsp_requests": float(ocsp.arrivals.sum()),
        "counter_hours_resets": float(resets.sum() * params.phones.reset_minutes / 60),
        "by_half_year": rows,
    }


def add_metrics(metrics: Metrics, option: str, r: OptionResult, params: Params) -> None:
    t, m = r.demand.times(), params.load_multiplier
    for name, x in (("phone_logins_per_hour", r.demand.phone_logins), ("phone_issues_per_hour", r.demand.phone_issues),
                    ("pin_resets_per_hour", r.demand.pin_resets)):
        if x is not None:
            metrics.add_series(name, t, x * m, option=option)


def sections(results: dict[str, OptionResult], heads: dict[str, dict], params: dict[str, Params]) -> list[Section]:
    base = next(iter(heads))
    b = heads[base]
    rows = []
    for opt, h in heads.items():
        for row in h["by_half_year"]:
            base_row = next(x for x in b["by_half_year"] if x["period"] == row["period"])
            rows.append([
                opt, row["period"], row["phone_share"], row["phone_logins_per_day"], row["phone_issues_per_day"],
                row["phone_issues_peak_day"], row["ca_requests"], row["ca_peak_utilisation"], row["ocsp_requests"],
                row["phone_ocsp_requests"] / max(row["ocsp_requests"], 1.0),
                row["pin_resets_per_business_day"],
                row["pin_resets_per_business_day"] - base_row["pin_resets_per_business_day"],
            ])
    table = Table(
        "Phone logins and what they change, by half fiscal year",
        ["option", "period", "phone share of logins", "phone logins/day", "phones issued/day",
         "phones issued, peak day", "CA requests", "CA peak utilisation", "revocation-pool requests",
         "of them phone certificates", "PIN resets/business day", f"PIN resets vs {base}"],
        rows,
        note="Means over the days of each half (Apr-Sep, Oct-Mar); PIN resets over business days. CA requests: "
        "certificate renewals at the counters plus phones issued a pair (new phones and replacements). "
        "Revocation-pool requests: OCSP questions (card and phone certificates) or CRL partition signings.",
        formats={"phone share of logins": "{:.2%}", "phone logins/day": "{:,.0f}", "phones issued/day": "{:,.0f}",
                 "phones issued, peak day": "{:,.0f}", "CA requests": "{:,.0f}", "CA peak utilisation": "{:.5f}",
                 "revocation-pool requests": "{:,.0f}", "of them phone certificates": "{:.2%}",
                 "PIN resets/business day": "{:,.1f}",
                 f"PIN resets vs {base}": "{:+,.1f}"},
    )
    paras = []
    for opt, h in heads.items():
        p = params[opt]
        ca = float(results[opt].pools["ca"].arrivals.sum())
        ca0 = float(results[base].pools["ca"].arrivals.sum())
        paras.append(
            f"{opt}: {h['phone_logins']:,.0f} of {h['logins']:,.0f} portal and private logins by phone "
            f"({h['phone_logins'] / max(h['logins'], 1):.2%}); J-LIS issued {h['phone_issues']:,.0f} phones a pair "
            f"({2 * h['phone_issues']:,.0f} certificates; CA requests {ca - ca0:+,.0f} against {base}); "
            f"{h['pin_resets']:,.0f} PIN resets at the counters ({h['pin_resets'] - b['pin_resets']:+,.0f} against "
            f"{base}, {h['counter_hours_resets'] - b['counter_hours_resets']:+,.0f} counter hours at "
            f"{p.phones.reset_minutes:g} min each); revocation-pool requests {h['ocsp_requests']:,.0f} "
            f"({h['ocsp_requests'] - b['ocsp_requests']:+,.0f} against {base})."
        )
    p0 = params[base]
    intro = Paragraph(
        "Android phones were served from " + PHONE_START["android"].isoformat() + " and iPhones from "
        + PHONE_START["iphone"].isoformat() + " (sourced); each platform's holders take up phone logins along the "
        "option's assumed curve from their own start. A phone login replaces a card login one for one at the portal "
        "and at the revocation service, asking about the phone's certificate (its own pre-signed cache share under "
        "OCSP, its own CRL partitions under CRL); the CA issues every new or replaced phone a pair at the measured "
        f"{p0.service_times.phone_issue * 1e3:.2f} ms per phone; PIN lock-outs, reset at the counters, come from card "
        f"logins ({p0.phones.pin_lockouts_per_card_login:.1e} per login, assumed) and from the phone logins that "
        f"type the PIN: those without the biometric unlock ({1 - p0.phones.biometric_share:.0%} of the phones) "
        f"and those whose {p0.phones.biometric_tries} biometric tries all failed (match rate "
        f"{p0.phones.biometric_match_rate:.0%} a try), {p0.phones.pin_lockouts_per_phone_login:.1e} per phone login. "
        + " ".join(paras)
    )
    return [Section("Logins by phone", [intro, table, *_figure(results, params)])]


def _figure(results: dict[str, OptionResult], params: dict[str, Params]) -> list[Figure]:
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for opt, r in results.items():
        d = r.demand
        n = d.hours // 24
        x = [d.start + dt.timedelta(days=i) for i in range(n)]
        share = d.phone_share.reshape(n, 24)[:, 0] if d.phone_share is not None else np.zeros(n)
        a1.plot(x, share, label=opt, lw=1.2)
        a2.plot(x, _daily(d.phone_issues, n) * params[opt].load_multiplier, label=opt, lw=1.0)
    for day in PHONE_START.values():
        a1.axvline(day, color="grey", lw=0.8, ls=":")
        a2.axvline(day, color="grey", lw=0.8, ls=":")
    a1.set_ylabel("share of logins by phone")
    a2.set_ylabel("phones issued a pair per day")
    a1.grid(alpha=0.3)
    a2.grid(alpha=0.3)
    a1.legend(loc="upper left")
    fig.autofmt_xdate()
    return [Figure("phone_logins", fig, "The phone share of portal and private logins and the phones J-LIS issues "
                   "a pair of certificates to each day, per option (dotted: the Android and iPhone service starts).")]
