"""A planner's mistakes in a scenario file or on the command line: one clear line each, exit 2.

Each case is a malformed input and the exact message the planner sees.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from twin import scenario as sc
from twin.cli import app
from twin.errors import InputError

GOOD = """\
name: demo
kind: nation
seed: 7
population:
  scale: 0.001
calendar:
  start: 2020-04-01
  end: 2020-05-01
"""


def write(tmp_path: Path, text: str | bytes, name: str = "x.yaml") -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def message_for(path: Path) -> str:
    with pytest.raises(InputError) as e:
        sc.load(path)
    return str(e.value)


def test_the_good_scenario_loads(tmp_path: Path) -> None:
    s = sc.load(write(tmp_path, GOOD))
    assert (s.name, s.kind, s.seed, s.scale) == ("demo", "nation", 7, 0.001)
    assert [o.name for o in s.options] == ["base"]


CASES = [
    # (id, file content, exact message with {f} for the file name)
    ("empty file", "", "{f}: the file is empty; a scenario needs at least `name` and `kind`"),
    ("top level is a list", "- 1\n- 2\n", "{f}: the top level is a list of 2 items, not a mapping of scenario fields"),
    (
        "yaml syntax error",
        "name: x\nkind: nation\npopulation: [1\n",
        "{f}: line 4, column 1: YAML syntax error: expected ',' or ']', but got '<stream end>'",
    ),
    (
        "duplicate key",
        "name: x\nkind: nation\nseed: 1\nseed: 2\n",
        "{f}: line 4, column 1: YAML syntax error: duplicate key 'seed' (first given on line 3)",
    ),
    ("kind missing", "name: x\n", "{f}: kind: is required (allowed: {kinds})"),
    ("kind unknown", "name: x\nkind: lottery\n", "{f}: kind: 'lottery' is not a scenario kind (allowed: {kinds})"),
    (
        "scale above 1",
        "name: x\nkind: nation\npopulation: {scale: 1.4}\n",
        "{f}: population.scale: 1.4 is not in (0, 1]",
    ),
    ("scale zero", "name: x\nkind: nation\npopulation: {scale: 0}\n", "{f}: population.scale: 0 is not in (0, 1]"),
    (
        "scale not a number",
        "name: x\nkind: nation\npopulation: {scale: lots}\n",
        "{f}: population.scale: 'lots' is not a number",
    ),
    (
        "unknown top-level key",
        "name: x\nkind: nation\nsead: 3\n",
        "{f}: sead: is not a known key (allowed: name, title, description, kind, seed, replications, "
        "population, calendar, options, params)",
    ),
    (
        "unknown population key",
        "name: x\nkind: nation\npopulation: {scale: 0.1, households: 3}\n",
        "{f}: population.households: is not a known key (allowed: scale, statistics, card_date)",
    ),
    (
        "calendar end before start",
        "name: x\nkind: nation\ncalendar: {start: 2020-05-01, end: 2020-04-01}\n",
        "{f}: calendar.end: '2020-04-01' is not after calendar.start 2020-05-01",
    ),
    (
        "date not ISO",
        "name: x\nkind: nation\ncalendar: {start: 01/04/2020}\n",
        "{f}: calendar.start: '01/04/2020' is not a date (YYYY-MM-DD)",
    ),
    ("negative seed", "name: x\nkind: nation\nseed: -1\n", "{f}: seed: -1 is not in [0, inf)"),
    ("fractional seed", "name: x\nkind: nation\nseed: 1.5\n", "{f}: seed: 1.5 is not an integer"),
    (
        "name with capitals and spaces",
        "name: My Scenario\nkind: nation\n",
        "{f}: name: 'My Scenario' is not a name of lower-case letters, digits, '_' or '-' (at most 64)",
    ),
    ("name missing", "kind: nation\n", "{f}: name: is required"),
    (
        "duplicate option names",
        "name: x\nkind: nation\noptions: [{name: a}, {name: a}]\n",
        "{f}: options[1].name: 'a' is used by an earlier option; names must be unique",
    ),
    (
        "unknown statistics snapshot",
        "name: x\nkind: nation\npopulation: {statistics: '20990101'}\n",
        "{f}: population.statistics: '20990101' is not a bundled snapshot ({first} .. {last})",
    ),
    (
        "replications zero",
        "name: x\nkind: nation\nreplications: 0\n",
        "{f}: replications: 0 is not in [1, inf)",
    ),
    (
        "population is not a mapping",
        "name: x\nkind: nation\npopulation: 0.1\n",
        "{f}: population: 0.1 is not a mapping of fields",
    ),
]


@pytest.mark.parametrize("case,text,expected", CASES, ids=[c[0] for c in CASES])
def test_malformed_scenario_gives_exact_message(tmp_path: Path, case: str, text: str, expected: str) -> None:
    from twin.models import KINDS
    from twin.population.statistics import available_snapshots

    p = write(tmp_path, text)
    f = sc._display(p)
    snaps = available_snapshots()
    assert message_for(p) == expected.format(f=f, kinds=", ".join(KINDS), first=snaps[0], last=snaps[-1])


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    p = write(tmp_path, "name: x\nkind: nation\nseed: -1\npopulation: {scale: 2}\n")
    lines = message_for(p).splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("seed: -1 is not in [0, inf)")
    assert lines[1].endswith("population.scale: 2 is not in (0, 1]")


def test_unknown_key_inside_an_option_names_the_option(tmp_path: Path) -> None:
    p = write(tmp_path, "name: x\nkind: nation\noptions: [{name: a, params: {no_such_param: 1}}]\n")
    assert message_for(p).startswith(f"{sc._display(p)}: options[0].params.no_such_param: is not a known key")


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    p = write(tmp_path, b"name: \xff\xfe\n")
    assert message_for(p) == f"{sc._display(p)}: byte 6: the file is not UTF-8 text"


def test_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "nope.yaml"
    assert message_for(p) == f"{sc._display(p)}: no such scenario file (see `twin list` for the bundled ones)"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    assert message_for(tmp_path) == f"{sc._display(tmp_path)}: is a directory, not a scenario file"


# ---- the command line: exit code 2, the message on stderr, nothing written


def cli(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_cli_scale_override_out_of_range(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD)
    code, out, err = cli("run", str(p), "--scale", "1.4", "--out", str(tmp_path / "reports"))
    assert code == 2
    assert err.strip() == "error: --scale: population.scale: 1.4 is not in (0, 1]"
    assert not (tmp_path / "reports").exists()


def test_cli_negative_seed_override(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD)
    code, _, err = cli("run", str(p), "--seed", "-5", "--out", str(tmp_path / "reports"))
    assert code == 2
    assert err.strip() == "error: --seed: seed: -5 is not in [0, inf)"


def test_cli_replications_override_must_be_positive(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD)
    code, _, err = cli("run", str(p), "--replications", "0", "--out", str(tmp_path / "reports"))
    assert code == 2
    assert err.strip() == "error: --replications: replications: 0 is not in [1, inf)"


def test_cli_seed_not_a_number(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD)
    code, _, err = cli("run", str(p), "--seed", "abc")
    assert code == 2
    assert err.strip() == "error: --seed: 'abc' is not an integer"


def test_cli_validate_reports_each_bad_file_and_exits_2(tmp_path: Path) -> None:
    good = write(tmp_path, GOOD, "good.yaml")
    bad = write(tmp_path, "name: x\nkind: nation\npopulation: {scale: 1.4}\n", "bad.yaml")
    code, out, err = cli("validate", str(good), str(bad))
    assert code == 2
    assert f"{good}: ok (nation" in out
    assert err.strip() == f"error: {sc._display(bad)}: population.scale: 1.4 is not in (0, 1]"


def test_failed_run_leaves_nothing_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import twin.models.nation as nation

    def explode(ctx):  # the model fails halfway through
        raise RuntimeError("boom")

    monkeypatch.setattr(nation, "run", explode)
    out = tmp_path / "reports"
    with pytest.raises(RuntimeError):
        from twin import runs

        runs.execute(sc.load(write(tmp_path, GOOD)), out=out)
    leftovers = [p for p in out.rglob("*") if p.is_file() or p.name.startswith(".tmp")]
    assert leftovers == []


def test_real_process_exit_code_is_2(tmp_path: Path) -> None:
    p = write(tmp_path, "name: x\nkind: nation\npopulation: {scale: 1.4}\n")
    r = subprocess.run(
        [sys.executable, "-m", "twin.cli", "validate", str(p)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 2
    assert "population.scale: 1.4 is not in (0, 1]" in r.stderr


def test_schema_describes_every_kind() -> None:
    import json

    from twin.models import KINDS

    code, out, _ = cli("schema")
    assert code == 0
    schema = json.loads(out)
    refs = {r["$ref"].rsplit("/", 1)[-1] for r in schema["oneOf"]}
    assert len(refs) == len(KINDS)
    assert schema["discriminator"]["propertyName"] == "kind"
    scale = schema["$defs"]["PopulationConfig"]["properties"]["scale"]
    assert scale["exclusiveMinimum"] == 0 and scale["maximum"] == 1
