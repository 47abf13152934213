"""What the request-level day shows: minute by minute latency, goodput against offered load, retries,
queues and each pool's arrivals; whether the system came back after a surge; the patients confirmed online (their
lookup answered, a card's after its certificate's status), and those whose online check the receptions gave up on,
confirmed another way or not, by facility type; and the knee by simulation beside Erlang C."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from twin.metrics import Metrics
from twin.models.capacity.params import FACILITY_TYPES
from twin.models.capacity.requests import GROUPS, STATIONS, DayResult, fallback
from twin.report import Figure, Paragraph, Section, Table
from twin.sim.clients import hist_quantile

POOLS_SHOWN = ("eligibility", "ocsp", "portal", "linkage")


def _times(r: DayResult) -> np.ndarray:
    t0 = np.datetime64(r.day.day, "m") + np.timedelta64(r.day.start_minute, "m")
    return t0 + np.arange(r.result.minutes).astype("timedelta64[m]")


def _pool_rows(r: DayResult, pool: str) -> list[int]:
    return [i for i, c in enumerate(r.result.classes) if GROUPS[c] == pool]


def pool_quantile(r: DayResult, pool: str, q: float) -> np.ndarray:
    rows = _pool_rows(r, pool)
    if not rows:
        return np.full(r.result.minutes, np.nan)
    return hist_quantile(r.result.hist[rows].sum(axis=0), q)


def headline(r: DayResult) -> dict[str, Any]:
    res = r.result
    out: dict[str, Any] = {
        "day": str(r.day.day), "patients": r.day.patients, "facilities_operating": r.day.facilities_operating,
        "checks_by_type": r.day.checks_by_type,
        "attempts": int(res.offered.sum()), "first_attempts": int(res.first.sum()), "retries": int(res.retries.sum()),
        "goodput": int(res.goodput.sum()), "timeouts": int(res.timeouts.sum()), "shed": int(res.shed.sum()),
        "requests_failed": int(res.failed.sum()), "retries_deferred": int(res.deferred),
        "retry_amplification": float(res.offered.sum() / max(res.first.sum(), 1)),
        "recovery": r.recovery, "knees": r.knees,
        "max_queue": {s: int(res.queue[s].max()) for s in STATIONS},
        # attempts that reached each pool: at the OCSP pool the card lookups' status checks too, at the eligibility
        # pool only the card lookups whose status was answered in time
        "arrivals": {s: int(res.arrivals[s].sum()) for s in STATIONS if s in res.arrivals},
        "first_attempts_by_class": {c: int(res.first[i].sum()) for i, c in enumerate(res.classes)},
    }
    fb = fallback(r.day, res)
    if fb is not None:  # patients confirmed online, and those whose online check was given up, by facility type
        out.update(fb)
    for pool in POOLS_SHOWN:
        rows = _pool_rows(r, pool)
        if rows:
            out[f"{pool}_first_attempts"] = int(res.first[rows].sum())
            out[f"{pool}_goodput"] = int(res.goodput[rows].sum())
            out[f"{pool}_timeouts"] = int(res.timeouts[rows].sum())
            h = res.hist[rows].sum(axis=(0, 1))
            out[f"{pool}_p99_seconds"] = float(hist_quantile(h, 0.99)[0])
            out[f"{pool}_worst_minute_p99_seconds"] = float(np.nanmax(pool_quantile(r, pool, 0.99)))
    return out


def _measured_distributions() -> list[Any]:
    """The end-to-end distributions the TLS and database figures come from (inputs, with provenance)."""
    from twin.models.capacity.params import measured_service_times

    doc = measured_service_times()
    block = doc.get("distributions")
    if not block:
        return []
    machine = block.get("machine", doc["machine"])  # files written before the block had one: the means' machine
    rows = [[name, d["n"], d["mean"] * 1e3, d["cv"], d["p50"] * 1e3, d["p99"] * 1e3, d["lognormal_sigma"],
             d.get("server_cpu_per_request", float("nan")) * 1e3] for name, d in block["seconds"].items()]
    return [Table(
        "Measured end-to-end service times (inputs)",
        ["path", "requests", "mean ms", "cv", "p50 ms", "p99 ms", "lognormal sigma", "server CPU ms/request"],
        rows,
        note=f"{doc.get('distributions_method', '')} Measured {block['measured_at']} on "
        f"{machine['platform']} ({machine['cpus']} CPUs) by {block['command']}; the book held "
        f"{block['book_rows']:,} insured ({block['book_table_bytes'] / 2**20:,.0f} MiB, built in "
        f"{block['book_build_seconds']:.1f} s). The knee's TLS option adds {block['tls_seconds'] * 1e3:.3f} ms of "
        f"worker time per request (a new connection per request would add {block['tls_handshake_seconds'] * 1e3:.2f}"
        f" ms for the handshake); its database option a {block['database_seconds'] * 1e3:.3f} ms round trip.",
        formats={"requests": "{:,.0f}", "mean ms": "{:.3f}", "cv": "{:.2f}", "p50 ms": "{:.3f}", "p99 ms": "{:.3f}",
                 "lognormal sigma": "{:.2f}", "server CPU ms/request": "{:.3f}"})]


def add_metrics(m: Metrics, option: str, r: DayResult) -> None:
    t = _times(r)
    res = r.result
    for pool in POOLS_SHOWN:
        rows = _pool_rows(r, pool)
        if not rows:
            continue
        for q in (0.5, 0.95, 0.99):
            m.add_series("minute_response_seconds", t, pool_quantile(r, pool, q), option=option, pool=pool,
                         quantile=q)
        for name, arr in (("minute_offered", res.offered), ("minute_first_attempts", res.first),
                          ("minute_retries", res.retries), ("minute_goodput", res.goodput),
                          ("minute_timeouts", res.timeouts), ("minute_shed", res.shed)):
            m.add_series(name, t, arr[rows].sum(axis=0), option=option, pool=pool)
    for s in STATIONS:
        m.add_series("minute_queue_length", t, res.queue[s], option=option, station=s)
        m.add_series("minute_busy_workers", t, res.busy_seconds[s] / 60.0, option=option, station=s)
    fb = fallback(r.day, res)
    for outcome, by_type in (fb or {}).items():
        for t, n in by_type.items():
            m.add(f"patients_{outcome}", n, option=option, facility_type=t)
    for pool, k in r.knees.items():
        for how in ("erlang_c", "simulated", "simulated_with_retries"):
            m.add("knee_multiplier_request_level", k[how], option=option, pool=pool, method=how)


def _figures(results: dict[str, DayResult]) -> list[Figure]:
    import matplotlib.pyplot as plt

    figs = []
    fig, axes = plt.subplots(len(results), 1, figsize=(9, 2.8 * len(results)), squeeze=False, sharex=True)
    for ax, (opt, r) in zip(axes[:, 0], results.items(), strict=True):
        x = _times(r).astype("datetime64[s]").astype(dt.datetime)
        for pool in POOLS_SHOWN:
            y = pool_quantile(r, pool, 0.99)
            if np.isfinite(y).any():
                ax.plot(x, y * 1e3, lw=1, label=f"{pool} p99")
        ax.set_yscale("log")
        ax.set_ylabel("ms")
        ax.set_title(f"{opt}: p99 response by minute")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    fig.autofmt_xdate()
    figs.append(Figure("minute_p99", fig, "p99 response time (server answer, ms, log scale) of the requests sent "
                       "in each minute, per pool and option."))
    fig, axes = plt.subplots(len(results), 1, figsize=(9, 2.8 * len(results)), squeeze=False, sharex=True)
    for ax, (opt, r) in zip(axes[:, 0], results.items(), strict=True):
        x = _times(r).astype("datetime64[s]").astype(dt.datetime)
        res = r.result
        ax.plot(x, res.offered.sum(axis=0) / 60, lw=1, label="offered (attempts)")
        ax.plot(x, res.first.sum(axis=0) / 60, lw=1, label="first attempts")
        ax.plot(x, res.goodput.sum(axis=0) / 60, lw=1, label="goodput")
        ax.set_ylabel("requests / s")
        ax.set_title(f"{opt}: goodput against offered load")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    fig.autofmt_xdate()
    figs.append(Figure("minute_goodput", fig, "Requests per second by minute: attempts sent (with retries), first "
                       "attempts, and attempts answered within the client timeout."))
    return figs


def sections(results: dict[str, DayResult]) -> list[Section]:
    rows = []
    for opt, r in results.items():
        h = headline(r)
        rec = r.recovery
        rows.append([opt, h["first_attempts"], h["attempts"], h["retry_amplification"], h["goodput"], h["timeouts"],
                     h["shed"], h["requests_failed"], h.get("eligibility_worst_minute_p99_seconds", np.nan) * 1e3,
                     h["max_queue"]["eligibility"],
                     {True: "yes", False: "no"}.get(rec.get("recovered"), "-"),
                     rec.get("minutes_to_recover", np.nan)])
    first = next(iter(results.values()))
    intro = Paragraph(
        f"Request level, {first.day.day} ({first.day.patients:,} patients at {first.day.facilities_operating:,} "
        "facilities checking online and open that day): each check sends its requests after the patient's turn "
        "at the reader; every request is queued at its pool, and a client whose answer is late gives up at the "
        "timeout and retries by the option's policy.")
    table = Table(
        "Per option: offered load, goodput and recovery",
        ["option", "first attempts", "attempts", "amplification", "goodput", "timeouts", "shed", "failed for good",
         "worst-minute p99 eligibility ms", "max queue eligibility", "recovered after surge",
         "minutes to recover"],
        rows,
        note="amplification: attempts / first attempts (retry load). Recovered: goodput back to >= 95 % of first "
        "attempts for 10 minutes after the surge ends.",
        formats={"first attempts": "{:,.0f}", "attempts": "{:,.0f}", "amplification": "{:.3f}", "goodput": "{:,.0f}",
                 "timeouts": "{:,.0f}", "shed": "{:,.0f}", "failed for good": "{:,.0f}",
                 "worst-minute p99 eligibility ms": "{:.3g}", "max queue eligibility": "{:,.0f}",
                 "minutes to recover": "{:.0f}"},
    )
    pool_rows = []
    for opt, r in results.items():
        h = headline(r)
        for pool in POOLS_SHOWN:
            if f"{pool}_first_attempts" in h:
                pool_rows.append([opt, pool, h[f"{pool}_first_attempts"], h[f"{pool}_goodput"], h[f"{pool}_timeouts"],
                                  h[f"{pool}_p99_seconds"] * 1e3, h[f"{pool}_worst_minute_p99_seconds"] * 1e3,
                                  h["max_queue"][pool], h["arrivals"].get(pool, 0)])
    pools = Table(
        "Per pool: requests and latency over the window",
        ["option", "pool", "first attempts", "goodput", "timeouts", "p99 ms", "worst-minute p99 ms", "max queue",
         "arrivals"],
        pool_rows,
        note="Latency from send to answer, including the network hop both ways (for portal, private verifiers and "
        "linkage the mean of the regions' hops). A lookup by card is one request: the centre asks the OCSP pool for "
        "the card certificate's status first and looks the patient up only when the status is answered in time, so "
        "its latency is counted at the eligibility pool and includes the status check; the OCSP pool's requests and "
        "latency are the private verifiers' (and the phones'). Arrivals: attempts that reached the pool, at the "
        "OCSP pool the card lookups' status checks too (those the CDN did not answer), at the eligibility pool "
        "the lookups by number and the card lookups whose status was answered. linkage: the bodies' queries through "
        "the information-provision network (assumed volume and hours, service time the linkage server's measured "
        "CPU per query).",
        formats={"first attempts": "{:,.0f}", "goodput": "{:,.0f}", "timeouts": "{:,.0f}", "p99 ms": "{:.3g}",
                 "worst-minute p99 ms": "{:.3g}", "max queue": "{:,.0f}", "arrivals": "{:,.0f}"},
    )
    blocks: list[Any] = [intro, table, pools]
    fb_rows = []
    for opt, r in results.items():
        h = headline(r)
        if "confirmed_by_fallback" in h:
            fb_rows.append([opt, sum(h["confirmed_online"].values()),
                            *(h["confirmed_by_fallback"][t] for t in FACILITY_TYPES),
                            sum(h["confirmed_by_fallback"].values()), sum(h["unconfirmed"].values())])
    if fb_rows:
        plural = [f"{t}s" if t != "pharmacy" else "pharmacies" for t in FACILITY_TYPES]
        blocks.append(Table(
            "Patients whose online check was given up: confirmed another way, by facility type",
            ["option", "confirmed online", *(f"{p}: another way" for p in plural), "another way, all types",
             "left unconfirmed"],
            fb_rows,
            note="A patient is confirmed online when the eligibility lookup is answered; a lookup by card is "
            "answered only after the card certificate's status (OCSP at J-LIS, unless the CDN answered it), as "
            "the centre checks it first. When the lookup is given up for good (every attempt its reception allowed "
            "timed out or was refused, at the status check or at the lookup, or a retry budget refused the next), "
            "the online check has failed: at a facility that falls back the patient is confirmed another way (card "
            "face, 資格確認書, self-declaration); at one that does not, the patient is left unconfirmed. Each "
            "facility decides its retries and whether it falls back by its type (requests.fallback, a judgement: "
            "no published figures). A patient whose next try would come after the window's end is in no column. "
            "A surge's extra lookups are patients too, each a copy of one sent in the surge with its status check.",
            formats={"confirmed online": "{:,.0f}", **{f"{p}: another way": "{:,.0f}" for p in plural},
                     "another way, all types": "{:,.0f}", "left unconfirmed": "{:,.0f}"}))
    token_rows = []
    for opt, r in results.items():
        by = headline(r)["first_attempts_by_class"]
        if "portal_phone" in by or "ocsp_phone" in by:
            portal, phone_portal = by.get("portal", 0), by.get("portal_phone", 0)
            token_rows.append([opt, portal, phone_portal, phone_portal / max(portal + phone_portal, 1),
                               by.get("ocsp_private", 0), by.get("ocsp_phone", 0)])
    if token_rows:
        blocks.append(Table(
            "Logins by token (first attempts in the window)",
            ["option", "portal logins by card", "portal logins by phone", "phone share of portal logins",
             "private checks of card certificates", "private checks of phone certificates"],
            token_rows,
            note="The phones' share of the day's portal logins and private authentications is phones.uptake's for the "
            "day (the hourly model's demand.phone_share_by_day); a phone certificate's status check uses the phones' "
            "own pre-signed cache (phones.presigned_share). Private checks of card certificates include the platform "
            "operators' status checks.",
            formats={"portal logins by card": "{:,.0f}", "portal logins by phone": "{:,.0f}",
                     "phone share of portal logins": "{:.1%}", "private checks of card certificates": "{:,.0f}",
                     "private checks of phone certificates": "{:,.0f}"},
        ))
    with_surge = {o: r for o, r in results.items() if "recovered" in r.recovery}
    if with_surge:
        down = [f"{o} (x{headline(r)['retry_amplification']:.2f} attempts per first attempt, "
                f"{r.recovery['goodput_share_after_surge']:.0%} of first attempts answered after the surge)"
                for o, r in with_surge.items() if not r.recovery["recovered"]]
        up = [f"{o} (in {r.recovery['minutes_to_recover']:.0f} min, x{headline(r)['retry_amplification']:.2f})"
              for o, r in with_surge.items() if r.recovery["recovered"]]
        blocks.append(Paragraph(
            "After the surge: " + ("stayed down: " + "; ".join(down) + ". " if down else "")
            + ("recovered: " + "; ".join(up) + ". " if up else "")
            + "A pool stays down when the attempts its clients send (first attempts times the retry "
            "amplification) exceed what it can serve: its queue stays longer than the timeout, it answers only "
            "requests whose clients have already given up, and each of those comes back as a retry. A retry "
            "limit with back-off and jitter changes when the retries come, not how many: with the limit reached "
            "by every request, it fails the same way. A retry budget caps the retries at a share of the first "
            "attempts; load shedding stops the pool from spending its time on answers nobody waits for. Receptions "
            "that give up on the online check sooner (requests.fallback) cut the retries where they start; their "
            "patients are confirmed another way, or left unconfirmed (table above)."))
    knee_rows = []
    for opt, r in results.items():
        for pool, k in r.knees.items():
            lam = k.get("busiest_hour_per_second", float("nan"))
            knee_rows.append([opt, pool, k["servers"], k["service_seconds"] * 1e3, k.get("tls_seconds", 0.0) * 1e3,
                              k.get("database_seconds", 0.0) * 1e3, lam, k["erlang_c"], k["erlang_c"] * lam,
                              k["simulated"], k["simulated"] * lam, k["simulated_with_retries"],
                              k["simulated_with_retries"] * lam, k["peak_minute_over_hour"]])
    if knee_rows:
        blocks.append(Table(
            "The knee: load multiplier (and offered load) where p99 reaches the SLO",
            ["option", "pool", "workers", "mean service ms", "of which TLS ms", "database ms", "busiest hour req/s",
             "Erlang C (busiest hour)", "Erlang C req/s", "simulated (busiest minutes)", "simulated req/s",
             "simulated with retries", "with retries req/s", "busiest minute / hour mean"],
            knee_rows,
            note="Offered load = multiplier x the busiest hour's mean rate of the pool's first attempts. Erlang C "
            "takes the busiest hour's mean rate as Poisson and steady, exponential service, no timeouts or retries, "
            "each pool alone (for eligibility the lower of the application pool's and the database pool's knee); "
            "the simulation plays the busiest two minutes as the facilities send them through the batch stations "
            "(application pool, then the database for eligibility lookups; each pool alone, the card lookups' "
            "status checks at the OCSP pool as requests of their own), with the scenario's service-time cv, "
            "client timeout and, in the last pair of columns, the retry policy.",
            formats={"workers": "{:,.0f}", "mean service ms": "{:.3f}", "of which TLS ms": "{:.3f}",
                     "database ms": "{:.3f}", "busiest hour req/s": "{:,.0f}", "Erlang C (busiest hour)": "{:.1f}",
                     "Erlang C req/s": "{:,.0f}", "simulated (busiest minutes)": "{:.1f}", "simulated req/s": "{:,.0f}",
                     "simulated with retries": "{:.1f}", "with retries req/s": "{:,.0f}",
                     "busiest minute / hour mean": "{:.2f}"}))
        why = []
        for row in knee_rows:
            opt, pool, erl, sim, sim_r, burst = row[0], row[1], row[7], row[9], row[11], row[13]
            ratio = sim / erl if erl > 0 else float("nan")
            parts = [f"{pool} in {opt}: simulated x{sim:.1f} is {ratio:.2f} of Erlang C's x{erl:.1f}"]
            if ratio < 1.0:
                left = ratio * burst
                parts.append(f"the busiest minute carries {burst:.2f} times the hour's mean rate, so burstiness "
                             f"within the hour accounts for a factor {1 / burst:.2f}"
                             + (f"; the rest ({left:.2f}) is the two busy minutes being played from an empty "
                                "queue rather than in steady state, the database stage and the service-time "
                                "distribution" if abs(left - 1.0) > 0.1 else ""))
            if sim_r < sim * 0.97:
                parts.append(f"retries bring it down to x{sim_r:.1f} ({sim_r / sim:.2f}): retry amplification")
            else:
                parts.append(f"with retries x{sim_r:.1f}: at the knee p99 is at the SLO, below the client timeout, "
                             "so few requests time out and retry (retry amplification shows past the knee, in "
                             "the metastable scenario)")
            why.append(", ".join(parts))
        blocks.append(Paragraph("Where they differ: " + "; ".join(why) + "."))
        blocks.extend(_measured_distributions())
    blocks.extend(_figures(results))
    return [Section("Request level: minute by minute", blocks)]
