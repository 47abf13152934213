"""What a push-benefit run shows: how fast each design pays, how much hand work it needs, and what
stale copies and mis-linking cost."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from pydantic import BaseModel

from twin.metrics import Metrics
from twin.models.push_benefit.simulate import NEVER, Outcome
from twin.report import Assumption, Figure, Paragraph, Section, Table
from twin.report.assumptions import assumptions as shared_assumptions

DAYS = (14, 30, 60, 90)

BENEFITS = {
    "child_2021": "2021 child-rearing households' benefit (子育て世帯への臨時特別給付), per child",
    "exempt_2022": "benefit to residence-tax-exempt households (住民税非課税世帯等臨時特別給付金), per household",
    "energy_2022": "2022 energy and food price benefit (電力・ガス・食料品等価格高騰緊急支援給付金), per household",
}

SOURCES = {
    "child_2021": [
        "Wakayama prefecture, 令和3年度子育て世帯への臨時特別給付金 (100,000 yen per child aged 0 to high "
        "school; paid without application to September 2021 child-allowance recipients; applications for "
        "public servants and high-school-only households): https://www.pref.wakayama.lg.jp/prefg/040200/d00209092.html",
    ],
    "exempt_2022": [
        "Municipal notices of the 住民税非課税世帯等に対する臨時特別給付金 (100,000 yen per exempt household, "
        "confirmation letter): e.g. https://staging.hojokin-kensaku.jp/subsidy/hitachinaka-kyufukin-hojo-S482836de50",
    ],
    "energy_2022": [
        "Maibara city, 電力・ガス・食料品等価格高騰緊急支援給付金 (50,000 yen per household exempt in FY2022, "
        "confirmation letters from late November 2022, deadline 2023-01-31): "
        "https://www.city.maibara.lg.jp/kinkyu/kansensho/kojinsetaisien/18441.html",
    ],
}
COMMON_SOURCES = [
    "Digital Agency, 公金受取口座登録制度 and the benefits paid to it: https://www.digital.go.jp/policies/account_registration/",
    "Nikkei xTECH 2022-09: account information provided to paying bodies from 2022-10-11; 1,405万 registered "
    "by 2022-09-04: https://xtech.nikkei.com/atcl/nxt/news/18/13665/",
    "Digital Agency 2023-12 review: 8,351 wrong links in 8,208万 records; 1,186 wrong accounts in 5,622万 "
    "(twin/data/FIGURES.md)",
    "MIC card issuance statistics (population, card holding, accounts of the synthetic nation)",
]


def headline(o: Outcome, scale: float) -> dict[str, Any]:
    elig = o.truly_eligible
    units_elig = int(o.units[elig].sum())
    paid = o.paid_day != NEVER
    share = {}
    for d in DAYS:
        got = elig & paid & (o.paid_day <= d)
        share[f"share_paid_by_day_{d}"] = float(o.units[got].sum() / units_elig) if units_elig else float("nan")
    days = o.paid_day[elig & paid]
    weights = o.units[elig & paid]
    median = float(np.median(np.repeat(days, weights))) if days.size else float("nan")
    left_out = elig & ~paid
    return {
        "eligible_units": units_elig,
        "eligible_units_national": round(units_elig / scale),
        **share,
        "median_days_to_payment": median,
        "push_payments": int((paid & (o.route == "push")).sum()),
        "letters": o.letters,
        "letters_national": round(o.letters / scale),
        "checked_by_hand": o.processed,
        "checked_by_hand_national": round(o.processed / scale),
        "stale_decisions": int(o.stale.sum()),
        "stale_decisions_national": round(int(o.stale.sum()) / scale),
        "wrongly_paid": int(o.wrongly_paid.sum()),
        "wrongly_paid_national": round(int(o.wrongly_paid.sum()) / scale),
        "eligible_unpaid_at_horizon": int(o.units[left_out].sum()),
        "wrong_account_payments": int(o.wrong_account.sum()),
        "mislinked_heads": int(o.mislinked.sum()),
        "linkage_exchanges": o.queries,
    }


def add_metrics(m: Metrics, option: str, o: Outcome, day0: dt.date, horizon: int) -> None:
    elig = o.truly_eligible
    total = max(int(o.units[elig].sum()), 1)
    paid_units = np.bincount(np.minimum(o.paid_day[elig], horizon + 1), weights=o.units[elig], minlength=horizon + 2)
    cum = np.cumsum(paid_units[: horizon + 1]) / total
    for d in range(horizon + 1):
        m.add("share_paid", float(cum[d]), option=option, time=day0 + dt.timedelta(days=d))


def figure(results: dict[str, Outcome], horizon: int) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    for name, o in results.items():
        elig = o.truly_eligible
        total = max(int(o.units[elig].sum()), 1)
        counts = np.bincount(np.minimum(o.paid_day[elig], horizon + 1), weights=o.units[elig], minlength=horizon + 2)
        ax.step(np.arange(horizon + 1), np.cumsum(counts[: horizon + 1]) / total, where="post", label=name)
    ax.set_xlabel("days after the decision date")
    ax.set_ylabel("share of eligible paid")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return Figure("share_paid", fig, "Share of the eligible (children or households) paid, by day, per design.")


def sections(benefit: str, heads: dict[str, dict[str, Any]], titles: dict[str, str], results, horizon: int,
             scale: float, seed: int, national: dict[str, float]) -> list[Section]:  # fmt: skip
    cols = ["option", "eligible", *[f"paid by day {d}" for d in DAYS], "median days", "letters", "checked by hand",
            "stale decisions", "wrongly paid", "unpaid at horizon", "wrong account"]  # fmt: skip
    rows = []
    for name, h in heads.items():
        rows.append([titles.get(name) or name, h["eligible_units"], *[h[f"share_paid_by_day_{d}"] for d in DAYS],
                     h["median_days_to_payment"], h["letters"], h["checked_by_hand"], h["stale_decisions"],
                     h["wrongly_paid"], h["eligible_unpaid_at_horizon"], h["wrong_account_payments"]])  # fmt: skip
    fmt = {f"paid by day {d}": "{:.1%}" for d in DAYS}
    fmt["median days"] = "{:.0f}"
    first = next(iter(heads))
    best = max(heads, key=lambda k: heads[k]["share_paid_by_day_30"])
    text = (
        f"{BENEFITS[benefit]}. Counts are for the synthetic nation at scale {scale:g} (seed {seed}); "
        f"multiply by {1 / scale:,.0f} for the nation. By day 30, '{first}' has paid "
        f"{heads[first]['share_paid_by_day_30']:.1%} of the eligible and '{best}' "
        f"{heads[best]['share_paid_by_day_30']:.1%}."
    )
    mis = Table(
        "What the review's error rates would cost at national scale (rate x eligible units; expected counts)",
        ["error", "rate", "national eligible (children or households)", "expected cases", "expected yen"],
        [[k, v["rate"], v["eligible"], v["expected"], v["yen"]] for k, v in national.items()],
        note="Rates from the Digital Agency's 2023 review. A mis-linked head is answered about with another "
        "person's records (tax data and account); a wrong account pays another person. In the simulated runs "
        "these draw individual cases, so at small scale they are usually zero; the stress option raises the rate.",
        formats={"rate": "{:.5%}", "expected cases": "{:,.0f}", "expected yen": "{:,.0f}"},
    )
    return [
        Section(
            "Designs compared",
            [Paragraph(text), Table("Payment by design", cols, rows, formats=fmt), figure(results, horizon)],
        ),
        Section("Stale copies and mis-linking", [mis]),
    ]


def assumptions(params: BaseModel, options: list[tuple[str, BaseModel]], sourced: dict[str, str]) -> list[Assumption]:
    return shared_assumptions(params, sourced, options)
