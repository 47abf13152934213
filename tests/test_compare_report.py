"""The comparison report (issue 19): no floating-point noise such as -5.82e-11, no rows for metrics that
are the same everywhere, no note about a 'lower in' column that is not there, tables that scroll
inside the page instead of overflowing it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from twin.report import Table
from twin.report.compare import denoised, headline_section, varying_metrics, varying_metrics_of_differences
from twin.report.html import table_html


def _comp(rows: list[tuple[str, str, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["metric", "column", "q10", "q50", "q90"])


COMP = _comp([
    ("days_to_pay", "a", 40.0, 41.0, 44.0), ("days_to_pay", "b", 10.0, 12.0, 13.0),
    ("amount_paid", "a", 1.2e13, 1.2e13, 1.2e13), ("amount_paid", "b", 1.2e13 - 0.0058, 1.2e13, 1.2e13),
    ("balance", "a", -5.82e-11, -5.82e-11, -5.82e-11), ("balance", "b", 0.0, 0.0, 0.0),
    ("households", "a", 5.7e7, 5.7e7, 5.7e7), ("households", "b", 5.7e7, 5.7e7, 5.7e7),
    ("undefined", "a", np.nan, np.nan, np.nan), ("undefined", "b", 3.0, 3.0, 3.0),
])  # fmt: skip


def test_noise_is_zero_and_metrics_that_do_not_vary_are_dropped() -> None:
    assert varying_metrics(COMP) == ["days_to_pay", "undefined"]
    clean = denoised(COMP)
    assert (clean.loc[clean["metric"] == "balance", ["q10", "q50", "q90"]] == 0).all().all()
    assert np.isnan(clean.loc[(clean["metric"] == "undefined") & (clean["column"] == "a"), "q50"]).all()

    (table,) = [b for b in headline_section(COMP, ["days_to_pay"]).blocks if isinstance(b, Table)]
    assert [r[0] for r in table.rows] == ["days_to_pay", "undefined"]
    assert "3 metric(s) equal in every column left out" in (table.note or "")
    assert not any("e-11" in str(cell) for row in table.rows for cell in row)


def test_a_single_column_keeps_every_metric() -> None:
    one = COMP[COMP["column"] == "a"]
    (table,) = [b for b in headline_section(one, []).blocks if isinstance(b, Table)]
    assert len(table.rows) == 5 and "left out" not in (table.note or "")


def test_paired_differences_of_zero_are_left_out() -> None:
    d = pd.DataFrame({"metric": ["x", "x", "y"], "q10": [0.0, 0.0, -2.0], "q50": [0.0, 0.0, -1.0],
                      "q90": [0.0, 0.0, 0.0]})  # fmt: skip
    assert varying_metrics_of_differences(d) == ["y"]


def test_tables_scroll_inside_the_page() -> None:
    html = table_html(Table("t", ["metric", *(f"option_{i}" for i in range(30))], [["m", *range(30)]]))
    assert html.startswith("<h3>t</h3><div class='wide'><table>") and "</table></div>" in html
    from twin.report.html import CSS

    assert ".wide{max-width:100%;overflow-x:auto}" in CSS


def test_payout_options_are_drawn_so_that_a_curve_on_top_of_another_is_still_seen() -> None:
    """The 2020 baseline lay exactly under automated_matching in one colour-only style."""
    from twin.models.payout.report import option_style

    styles = [option_style(i, 120) for i in range(4)]
    for key in ("linestyle", "marker", "color"):
        assert len({str(s[key]) for s in styles}) == 4, key
    assert styles[0]["lw"] > max(s["lw"] for s in styles[1:])  # the baseline shows around the others
    assert all(s["zorder"] > styles[0]["zorder"] for s in styles[1:])


def test_an_option_value_is_assumed_and_never_cites_the_source_of_the_2020_value_it_replaced() -> None:
    from pydantic import BaseModel

    from twin.report.assumptions import assumptions

    class Verification(BaseModel):
        minutes_mail: float = 3.0

    class P(BaseModel):
        verification: Verification = Verification()
        batch_days: int = 2

    sourced = {"verification.minutes_mail": "MIC 2020 survey"}
    rows = {a.name: a for a in assumptions(P(), sourced, [("faster", P(verification=Verification(minutes_mail=1.0)))])}
    assert rows["verification.minutes_mail"].source == "MIC 2020 survey"
    option = rows["[faster] verification.minutes_mail"]
    assert option.source is None and option.value == "1 (instead of 3)"
    assert "[faster] batch_days" not in rows  # unchanged values are not repeated
