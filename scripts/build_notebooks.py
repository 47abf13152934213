"""Writes the working group's notebooks (notebooks/*.ipynb) from the cell sources below.

Edit here, run `.venv/bin/python scripts/build_notebooks.py`, commit both: the notebooks stay free of
outputs and identical for everyone; `make test` executes them with nbclient.
"""

# ruff: noqa: E501  (the cells are code as a notebook user reads it)
from pathlib import Path

import nbformat as nbf
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

SETUP = '''import sys
from pathlib import Path

# run from the repository root or from notebooks/
ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
sys.path.insert(0, str(ROOT))
import matplotlib.pyplot as plt
import pandas as pd

import twin
from twin import experiments
from twin.report.html import scale_text

OUT = ROOT / "reports"'''


def nb(cells):
    for i, cell in enumerate(cells):
        cell.id = f"cell-{i:02d}"  # stable ids: rebuilding gives the same files
    n = new_notebook(cells=cells)
    n.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    n.metadata["language_info"] = {"name": "python"}
    return n


def params_cell(src):
    c = new_code_cell(src)
    c.metadata["tags"] = ["parameters"]
    return c


payout = nb(
    [
        new_markdown_cell("""# Emergency payouts: how fast does each design get money to every household?

The working group's question: *rapid and certain payouts in an emergency*. This notebook rehearses the
2020 Special Cash Payments (特別定額給付金: 100,000 yen per resident, about 59 million households) under
the design used in 2020 and three faster ones, and asks how many days it takes until households have the
money, where the time goes, and what it costs the town halls.

Run it top to bottom. The parameters cell below runs a small sample (1:500) in well under a minute;
set `scale = 1.0` for every household in the country (about two minutes on two cores)."""),
        params_cell("""# Parameters
scale = 0.002        # share of households simulated (1.0 = every household)
seed = 20200427      # root of all random streams: same seed, same numbers
replications = 4     # runs with fresh random streams, for the uncertainty bands
workers = 2          # local processes for the replications"""),
        new_code_cell(SETUP),
        new_markdown_cell("## One run: the four designs side by side"),
        new_code_cell("""run = twin.run(ROOT / "scenarios/payout_2020.yaml", scale=scale, seed=seed, out=OUT)
run.plot()"""),
        new_code_cell("""opts = run.summary["option_order"]
head = pd.DataFrame(run.summary["options"]).loc[
    ["days_to_50pct", "days_to_90pct", "paid_share_day_30", "staff_hours", "money_paid_yen"], opts
]
head.index = ["days until 50 % paid", "days until 90 % paid", "share paid by day 30",
              "town-hall staff hours", "money paid (yen)"]
head.style.format("{:,.2f}")"""),
        new_markdown_cell("""## How sure are we? Replications with 10/50/90 % bands

Each replication draws fresh random streams (who applies when, which forms have errors); every option in a
replication shares them (common random numbers), so the differences between designs are not noise."""),
        new_code_cell("""sw = experiments.sweep(ROOT / "scenarios/payout_2020.yaml", reps=replications, scale=scale, seed=seed,
                       series=["paid_share_cumulative"], workers=workers, out=OUT / "sweeps")
experiments.headline_table(sw.bands).set_index("metric").loc[["days_to_50pct", "days_to_90pct"]]"""),
        new_code_cell("""b = sw.bands
curves = b[(b.metric == "paid_share_cumulative") & (b.labels == "type=national")]
fig, ax = plt.subplots(figsize=(9, 4.5))
for option, g in curves.groupby("option", sort=False):
    g = g.sort_values("time")
    ax.plot(g.time, 100 * g.q50, label=option, lw=2)
    ax.fill_between(g.time, 100 * g.q10, 100 * g.q90, alpha=0.25)
ax.set_title("Households with the money, by design (median and 10-90 % band)")
ax.set_ylabel("% of entitled households")
ax.set_ylim(0, 100)
ax.grid(alpha=0.3)
ax.legend(loc="lower right")
fig.text(0.01, -0.03, f"Myna Twin, scale {scale_text(scale).split(' (')[0]}, seed {seed}, {replications} replications. "
         "Sources: MIC, census 2020, 2020 payout record (twin/data/FIGURES.md).", fontsize=8, color="#555")
fig.autofmt_xdate()"""),
        new_markdown_cell("""## Reading the result

The numbers below are computed from the run above (the 2020 baseline is fitted to the 2020 record up to
2020-06-19 when `params.calibrated_from` is set; see the report's section *2020 against the record*)."""),
        new_code_cell("""o = run.summary["options"]
base, push = o["baseline_2020"], o["push_to_registered_accounts"]
print(f"2020 design: 99 % of households paid on {base['date_99pct_households']}, "
      f"99 % of the budget on {base['date_99pct_budget']}")
print(f"push reaches {push['paid_by_push'] / push['entitled_households']:.0%} of households: heads with a "
      "public-benefit account as registered on 2023-05-21 (60.4 % of card holders)")
print(f"days until half the households are paid: 2020 {base['days_to_50pct']:.0f}, "
      f"push {push['days_to_50pct']:.0f}, same-day design {o['same_day']['days_to_50pct']:.0f}")"""),
        new_markdown_cell("""* Under the 2020 design the town halls set the pace: each mailed its forms, staffed up and paid on its
  own days, and big cities mailed theirs last and had the longest queues; late replies and corrections
  run to each town hall's deadline, three months after its mail-out.
* Push pays only heads who hold a card and registered an account, so its reach is the registrations of a
  stated date, not all heads; everyone else still applies as in 2020.

The report in `run.report` lists every parameter and says which are assumed rather than sourced."""),
    ]
)

failover = nb(
    [
        new_markdown_cell("""# 24/365: which deployment keeps the services up, and what does an outage cost?

The working group asked for systems that run stably 24 hours a day, 365 days a year. This notebook
compares deployment architectures (single site, cold / warm / hot standby, active-active) over a simulated
year with replications, and replays one of the incidents that actually happened.

The parameters cell keeps it quick; raise `replications` for tighter bands."""),
        params_cell("""# Parameters
seed = 2025
replications = 3   # simulated years per architecture"""),
        new_code_cell(SETUP),
        new_markdown_cell("## Availability by architecture"),
        new_code_cell("""run = twin.run(ROOT / "scenarios/failover_architectures.yaml", seed=seed, replications=replications, out=OUT)
run.plot()"""),
        new_code_cell("""m = run.metrics
avail = m[m.metric == "availability"].assign(service=lambda d: d.labels.str.extract(r"service=([^;]+)")[0])
table = avail.groupby(["option", "service"]).value.mean().unstack("option")
(100 * table).style.format("{:.3f} %")"""),
        new_markdown_cell("## An incident replayed: the 2024-10-02 Myna Portal overload"),
        new_code_cell("""replay = twin.run(ROOT / "scenarios/incident_2024_portal.yaml", seed=seed, out=OUT)
replay.plot()"""),
    ]
)


rollout = nb([
    new_markdown_cell("""# Card rollout: which levers get My Number cards into people's hands, and where does the queue build?

Policymakers compare the 2022 rollout options as they were announced: the My Number Points phase 2
amounts, the card-application deadline moved from 2022-09-30 to 2022-12-31 and then 2023-02-28, the QR-code
forms re-mailed in July-September 2022, and added J-LIS production. Each option states what it assumes and
the day that was known. The twin's rollout is calibrated to the MIC releases up to 2021-12 only
(`twin calibrate scenarios/rollout_history.yaml --promote`); this notebook runs the calibrated state through
2022 with replications and shows where applications wait: J-LIS production, shipment, or the municipal
counter."""),
    params_cell('''# Parameters
seed = 2016
replications = 2   # runs per option (bands span them)'''),
    new_code_cell(SETUP),
    new_code_cell('''run = twin.run(ROOT / "scenarios/rollout_options.yaml", seed=seed, replications=replications, out=OUT)
run.plot()'''),
    new_code_cell('''pd.DataFrame(run.summary.get("options", {})).T'''),
    new_markdown_cell("## The 2022 forecast of the option as announced, month by month, and what it assumes"),
    new_code_cell('''forecast = run.summary["forecast_2022"]
for i, a in enumerate(forecast["assumes"], 1):
    print(f"({i}) {a}")
pd.DataFrame(forecast["months"]).set_index("month").round(1)'''),
])

capacity = nb([
    new_markdown_cell("""# Online eligibility confirmation: can the certificate and eligibility core take the nation's load?

Engineers sizing the core need the load the whole country puts on it, hour by hour, and the latency a
deployment gives. Demand is calibrated to July 2024 (204,975,295 online checks, 11.13 % by card); service
times are measured on the real servers (`scripts/measure_service_times.py`). The options compare OCSP
with CRL distribution, a CDN in front of OCSP, smaller pools and the 2025 card share."""),
    params_cell('''# Parameters
seed = 20240708'''),
    new_code_cell(SETUP),
    new_code_cell('''run = twin.run(ROOT / "scenarios/capacity_2024.yaml", seed=seed, out=OUT)
run.plot()'''),
    new_code_cell('''rows = []
for option in run.summary["option_order"]:
    o = run.summary["options"][option]
    for pool, p in o["pools"].items():
        rows.append({"option": option, "pool": pool, "peak req/s": p["peak_per_second"],
                     "p99 (ms)": 1000 * p["p99_seconds"], "knee (x July 2024 load)": p["knee_multiplier"]})
table = pd.DataFrame(rows).set_index(["option", "pool"])
print(f"National peak: {run.summary['options']['ocsp_baseline']['peak_checks_per_second']:.0f} checks/s")
table.style.format("{:,.2f}")'''),
    new_markdown_cell("""The service times are the CPU one worker of the real HTTP servers in `real_backends/` spends per request
(HTTP parsing and the framework included, measured under `wrk` on loopback); network hops beyond the host, TLS
and database round trips are not in them, so the knees are still upper bounds. `twin load` puts the queueing
model's prediction beside what a real server measures."""),
])


nbf.write(payout, str(NOTEBOOKS / "payout_options.ipynb"))
nbf.write(failover, str(NOTEBOOKS / "failover_247.ipynb"))
nbf.write(rollout, str(NOTEBOOKS / "card_rollout.ipynb"))
nbf.write(capacity, str(NOTEBOOKS / "eligibility_capacity.ipynb"))
