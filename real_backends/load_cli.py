"""``twin load TARGET --profile SCENARIO``: open-model load on a real backend, with a run folder.

The command is a plain function; :mod:`twin.cli` registers it at the top level (``COMMANDS``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def load(
    target: Annotated[str, typer.Argument(help="ocsp, ocsp-get, ocsp-live, portal, eligibility-card, "
                                               "eligibility-insurance")],
    profile: Annotated[Path, typer.Option(help="Scenario whose hourly demand shapes the arrivals (and gives the "
                                               "seed), e.g. scenarios/failover_architectures.yaml")],
    rate: Annotated[str | None, typer.Option(help="Constant arrival rate, requests/s (replaces the curve).")] = None,
    ramp: Annotated[str | None, typer.Option(help="Linear ramp START:END requests/s over the run.")] = None,
    duration: Annotated[str, typer.Option(help="Seconds of load; a demand day is compressed into them.")] = "30",
    scale: Annotated[str, typer.Option(help="Factor on the national demand rates (loopback size).")] = "1",
    url: Annotated[str | None, typer.Option(help="Drive a running server instead of starting one.")] = None,
    workers: Annotated[str, typer.Option(help="uvicorn worker processes of the started server.")] = "2",
    holders: Annotated[str, typer.Option(help="Card holders in the deployment.")] = "64",
    concurrency: Annotated[str, typer.Option(help="Requests in flight at most.")] = "64",
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for run folders.")] = Path("reports"),
) -> None:
    """Drive TARGET with open-model arrivals; write p50-p99 latency, throughput, errors and the M/M/c prediction."""
    from twin import cli
    from twin.errors import InputError, TwinError

    num = cli.parse_number
    try:
        try:
            from real_backends.load.run import run_load

            result = run_load(
                target, profile,
                rate=num("--rate", rate, float),  # type: ignore[arg-type]
                ramp=ramp,
                duration=num("--duration", duration, float),  # type: ignore[arg-type]
                scale=num("--scale", scale, float),  # type: ignore[arg-type]
                url=url,
                workers=num("--workers", workers, int),  # type: ignore[arg-type]
                holders=num("--holders", holders, int),  # type: ignore[arg-type]
                concurrency=num("--concurrency", concurrency, int),  # type: ignore[arg-type]
                out=out_dir,
            )  # fmt: skip
        except ValueError as e:
            raise InputError(str(e)) from None
    except TwinError as e:
        raise cli.fail(e) from None
    s = result.summary
    lat = s["latency_ms"]
    cli.err.print(
        f"{s['requests']} requests, {s['errors']} errors, {s['throughput_rps']:.0f}/s; "
        f"latency ms p50 {_ms(lat['p50'])} p99 {_ms(lat['p99'])} max {_ms(lat['max'])}", markup=False, soft_wrap=True,
    )
    cli.out.print(str(result.folder), highlight=False, soft_wrap=True)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


COMMANDS = [load]
