"""The ``twin`` command: run, validate and inspect scenarios.

Every user mistake ends with one clear message on stderr and exit code 2; nothing is half-written.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from typer.core import TyperGroup

import twin
from twin.errors import InputError, TwinError, describe_value

err = Console(stderr=True)
out = Console()

try:  # newer typers carry their own copy of click (typer._click); older ones use click itself
    from typer._click import exceptions as click_errors
    from typer._click.core import Context as ClickContext
except ImportError:  # pragma: no cover
    from click import Context as ClickContext
    from click import exceptions as click_errors

_MY_NUMBER_LIKE = re.compile(r"(?<![0-9])[0-9]{12,}(?![0-9])")


def _command_path(ctx: ClickContext | None, root: object, args: list[str]) -> str:
    """``twin serve``, ``twin card serve``: the words of the command that refused, named as users type it
    (from the error's context, or, when click gave none, from the command line as far as it names commands)."""
    names = []
    if ctx is not None:
        while ctx.parent is not None:
            names.append(ctx.info_name or "")
            ctx = ctx.parent
        return " ".join(["twin", *reversed(names)])
    command = root
    for a in args:
        if (command := getattr(command, "commands", {}).get(a)) is None:
            break
        names.append(a)
    return " ".join(["twin", *names])


def _given_value(args: list[str], opts: list[str]) -> str | None:
    """The value last given to one of ``opts`` (``--port 99999`` or ``--port=99999``) in ``args``."""
    found = None
    for i, a in enumerate(args):
        for o in opts:
            if a == o and i + 1 < len(args):
                found = args[i + 1]
            elif a.startswith(o + "="):
                found = a[len(o) + 1 :]
    return found


def _sentence(text: str) -> str:
    text = " ".join(text.split()).rstrip(".")
    return text[:1].lower() + text[1:]


def usage_line(e: Exception, root: object, args: list[str]) -> str:
    """A usage error of click's (unknown option or command, missing or invalid value) as one line in the
    twin's form: ``error: twin serve: --port '99999': input should be less than or equal to 65535``."""
    ctx: ClickContext | None = getattr(e, "ctx", None)
    param = getattr(e, "param", None)
    if isinstance(e, click_errors.NoSuchOption):
        known = sorted({o for p in ctx.command.get_params(ctx) for o in (*p.opts, *p.secondary_opts)
                        if o.startswith("-")}) if ctx is not None else []  # fmt: skip
        what = f"no such option {describe_value(e.option_name)}"
        message = f"{what}; the options are: {', '.join(known)}" if known else what
    elif isinstance(e, click_errors.MissingParameter) and param is not None:
        kind = "argument" if param.param_type_name == "argument" else "option"
        name = param.opts[-1] if kind == "option" else (param.name or "").upper()
        meaning = getattr(param, "help", None)
        message = f"missing {kind} {name}" + (f" ({_sentence(meaning)})" if meaning else "")
    elif isinstance(e, click_errors.BadParameter) and param is not None:
        hint = "/".join(param.opts) if param.param_type_name == "option" else (param.name or "").upper()
        value = _given_value(args, [*param.opts, *param.secondary_opts]) if param.param_type_name == "option" else None
        shown = hint if value is None else f"{hint} {describe_value(value)}"
        message = f"{shown}: {_sentence(e.message)}"
    else:
        message = _sentence(e.format_message())
        unknown = re.fullmatch(r"no such command '(.*)'(?:\. (Did you mean .*))?", message)
        if unknown and ctx is not None and hasattr(ctx.command, "list_commands"):
            commands = ctx.command.list_commands(ctx)
            name, guess = describe_value(unknown.group(1)), unknown.group(2)
            message = (f"no such command {name}" + (f" ({guess[0].lower()}{guess[1:]})" if guess else "")
                       + f"; choose one of: {', '.join(commands)}" if commands
                       else f"unexpected extra argument {name}")  # fmt: skip
    return _MY_NUMBER_LIKE.sub("************", f"error: {_command_path(ctx, root, args)}: {message}")


class TwinGroup(TyperGroup):
    """The ``twin`` group: click's usage errors (raised while the command line is parsed, at any level of
    sub-commands) come out as one line and exit code 2, as every other bad input does, instead of click's
    usage box. ``--help``, and a group given no arguments (which shows its help), are left as they were."""

    def make_context(self, info_name: str | None, args: list[str], parent: ClickContext | None = None,
                     **extra: object) -> ClickContext:  # fmt: skip
        if parent is None:
            self.given = list(args)  # the command line, to quote the value a usage error refers to
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click_errors.UsageError as e:
            raise self._refuse(e) from None

    def invoke(self, ctx: ClickContext) -> object:
        try:
            return super().invoke(ctx)
        except click_errors.UsageError as e:
            raise self._refuse(e) from None

    def _refuse(self, e: click_errors.UsageError) -> Exception:
        if type(e).__name__ == "NoArgsIsHelpError":
            return e  # typer shows the help, exit 2, as before
        print(usage_line(e, self, getattr(self, "given", [])), file=sys.stderr)
        return typer.Exit(2)


app = typer.Typer(
    name="twin",
    help="Myna Twin: a digital twin of Japan's My Number system.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=TwinGroup,
)

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"


def fail(e: TwinError) -> typer.Exit:
    for line in str(e).splitlines():
        err.print(f"error: {line}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(e.exit_code)


@contextlib.contextmanager
def rich_progress(description: str, total: float | None) -> Iterator[Callable[[float], None]]:
    """A progress bar with elapsed time and ETA on stderr (silent when stderr is not a terminal)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as p:
        task = p.add_task(description, total=total)
        yield lambda advance=1: p.advance(task, advance)


def parse_number(option: str, text: str | None, kind: type) -> int | float | None:
    """Command-line numbers are parsed here so the error can show the value given."""
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise InputError(f"{option}: {text!r} is not {what}") from None


def save_screenshot(report: Path) -> Path:
    """``--screenshot``: a full-page PNG of ``report`` beside it; what the browser found wrong goes to stderr."""
    from twin.report.browser import screenshot_report

    png, check = screenshot_report(report)
    for problem in check.problems():
        err.print(f"warning: {report}: {problem}", markup=False, highlight=False, soft_wrap=True)
    err.print(f"screenshot: {png}", markup=False, highlight=False, soft_wrap=True)
    return png


def _version(value: bool) -> None:
    if value:
        out.print(f"myna-twin {twin.__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Myna Twin: a digital twin of Japan's My Number system."""


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (YAML), e.g. scenarios/nation.yaml")],
    seed: Annotated[str | None, typer.Option(help="Override the scenario's seed (an integer >= 0).")] = None,
    scale: Annotated[
        str | None, typer.Option(help="Override population.scale: share of households, in (0, 1].")
    ] = None,
    replications: Annotated[
        str | None, typer.Option("--replications", help="Override the scenario's replications (>= 1).")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for run folders.")] = Path("reports"),
    screenshot: Annotated[
        bool, typer.Option("--screenshot", help="Also save screenshot-1280.png of the report (headless Chromium).")
    ] = False,
    cluster: Annotated[
        str | None,
        typer.Option(help="Run the partitions of an agent run on this Dask scheduler, e.g. tcp://10.0.0.5:8786."),
    ] = None,
) -> None:
    """Run a scenario and write its run folder; prints the report path."""
    from twin import runs
    from twin import scenario as sc

    try:
        s = sc.load(scenario).with_overrides(
            seed=parse_number("--seed", seed, int),
            scale=parse_number("--scale", scale, float),
            replications=parse_number("--replications", replications, int),
        )
        if screenshot:
            from twin.report.browser import find_chromium

            find_chromium()  # before the run: no browser, nothing written
        with contextlib.ExitStack() as stack:
            if cluster is not None:  # reachable, same versions: checked before any work
                from twin.experiments import DaskExecutor, partitions

                stack.enter_context(partitions.using(stack.enter_context(DaskExecutor(cluster))))
            result = runs.execute(s, out=out_dir, progress=rich_progress)
        if screenshot:
            save_screenshot(result.report)
    except TwinError as e:
        raise fail(e) from None
    m = result.manifest
    err.print(
        f"[green]done[/] {s.name} ({s.kind}), scale {m['scale_text']}, seed {m['seed']}, "
        f"{m['wall_time_s']:.1f} s, peak {m['peak_rss_bytes'] / 2**30:.2f} GiB"
    )
    out.print(str(result.report), highlight=False, soft_wrap=True)


@app.command()
def calibrate(
    scenario: Annotated[Path, typer.Argument(help="Scenario file whose `calibration:` params are fitted.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the calibration folder (the only place "
                                                        "written without --promote).")] = Path("reports"),
    promote: Annotated[bool, typer.Option("--promote", help="Copy the converged fit to calibration.promote_to "
                                                            "(a tracked file forecasts read).")] = False,
    workers: Annotated[str | None, typer.Option(help="Worker processes for the Jacobian (default: cores).")] = None,
) -> None:
    """Fit a scenario's parameters to observed series (scipy least squares, to convergence); writes a report.

    Exit code 1 when the fit does not converge (the report is written and flagged)."""
    from twin import calibration

    try:
        result = calibration.calibrate_file(scenario, out=out_dir, progress=rich_progress, promote=promote,
                                            workers=parse_number("--workers", workers, int))  # fmt: skip
    except TwinError as e:
        raise fail(e) from None
    out.print(str(result.report), highlight=False, soft_wrap=True)


@app.command()
def validate(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario files to check.")],
) -> None:
    """Check scenario files without running them."""
    from twin import scenario as sc

    problems = 0
    for path in scenarios:
        try:
            s = sc.load(path)
        except InputError as e:
            for line in str(e).splitlines():
                err.print(f"error: {line}", markup=False, highlight=False, soft_wrap=True)
            problems += 1
            continue
        out.print(
            f"{path}: ok ({s.kind}, {len(s.options)} option(s), scale {s.scale:g}, seed {s.seed})",
            highlight=False,
            soft_wrap=True,
        )
    if problems:
        raise typer.Exit(2)


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files."""
    from twin import scenario as sc

    sys.stdout.write(json.dumps(sc.json_schema(), indent=2, ensure_ascii=False) + "\n")


@app.command("list")
def list_scenarios(
    directory: Annotated[Path, typer.Argument(help="Folder of scenario files.")] = SCENARIO_DIR,
) -> None:
    """List the scenario files and the scenario kinds."""
    from rich.table import Table

    from twin import scenario as sc
    from twin.models import KINDS, model_module

    t = Table(title=f"Scenarios in {directory}")
    for col in ("file", "kind", "title"):
        t.add_column(col)
    for path in sorted(directory.glob("*.yaml")):
        try:
            s = sc.load(path)
            t.add_row(path.name, s.kind, s.title)
        except InputError as e:
            t.add_row(path.name, "[red]invalid[/]", str(e).splitlines()[0])
    out.print(t)
    k = Table(title="Scenario kinds")
    k.add_column("kind")
    k.add_column("question")
    for kind in KINDS:
        doc = (model_module(kind).__doc__ or "").strip().splitlines()
        k.add_row(kind, doc[0] if doc else "")
    out.print(k)


def _optional_module(name: str):  # noqa: ANN202
    """A subsystem's CLI module, or None when that subsystem is not part of this install."""
    import importlib

    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name == name:
            return None
        raise


def _register_subcommands() -> None:
    """Commands that live with their subsystems: typer groups (``twin card ...``, ``twin serve ...``) and
    top-level commands from modules exposing ``COMMANDS = [function, ...]`` (``twin sweep``, ``twin load``)."""
    for module, name in (("twin.card_cli", "card"), ("real_backends.cli", "serve")):
        if (mod := _optional_module(module)) is not None:
            app.add_typer(mod.app, name=name)
    for module in ("twin.experiments_cli", "real_backends.load_cli"):
        if (mod := _optional_module(module)) is not None:
            for command in mod.COMMANDS:
                app.command()(command)


_register_subcommands()

if __name__ == "__main__":
    app()
