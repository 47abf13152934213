"""`twin card`: personalise a demo resident's card, read a card in-process, and the errors a user
gets for bad input. No PIN, key or full My Number ever reaches the output."""

from __future__ import annotations

import json
import stat

import pytest
from card_helpers import INPUT_SUPPORT_PIN, MY_NUMBER, personalisation
from typer.testing import CliRunner

from twin.cli import app

runner = CliRunner()


def test_info_reads_an_emulated_card_in_process(tmp_path):
    path = personalisation().save(tmp_path / "card.json")
    result = runner.invoke(app, ["card", "info", "--file", str(path), "--json", "--my-number"],
                           input=INPUT_SUPPORT_PIN + "\n")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout[result.stdout.index("{"):])
    assert data["token_label"] == "JPKIAPICCTOKEN2"
    assert data["retries"] == {"auth": 3, "sign": 5, "input_support": 3}
    assert data["certificates"]["auth"]["serial"] == 1000
    assert data["certificates"]["sign"] == {"kind": "sign", "protected": "needs the sign password"}
    assert data["my_number"] == "********9018"
    assert MY_NUMBER not in result.output


def test_info_with_a_wrong_pin_says_so_and_fails(tmp_path):
    path = personalisation().save(tmp_path / "card.json")
    result = runner.invoke(app, ["card", "info", "--file", str(path), "--my-number"], input="0000\n")
    assert result.exit_code == 1
    assert "wrong PIN, 2 tries left" in result.output


@pytest.mark.slow
def test_personalise_writes_a_0600_file_and_prints_no_secret(tmp_path):
    out = tmp_path / "demo1.json"
    result = runner.invoke(app, ["card", "personalise", "--resident", "demo-1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    doc = json.loads(out.read_text())
    assert doc["my_number"] not in result.output and "PRIVATE KEY" not in result.output
    again = tmp_path / "again.json"
    runner.invoke(app, ["card", "personalise", "--resident", "demo-1", "--out", str(again)])
    assert again.read_bytes() == out.read_bytes()  # same seed, same bytes


@pytest.mark.parametrize(
    "args,message",
    [
        (["card", "serve"], "give exactly one of --resident ID or --file PERSO"),
        (["card", "serve", "--resident", "demo-99"], "--resident: 'demo-99' is not a demo resident"),
        (["card", "serve", "--file", "/nonexistent/card.json"], "no such personalisation file"),
        (["card", "info", "--reader", "No Such Reader 99"], "error:"),
        (["card", "serve", "--file", "PERSO", "--atr", "12zz"], "--atr: '12zz' is not hexadecimal"),
        (["card", "serve", "--file", "PERSO", "--atr", "1234"], "--atr: 1234 is not an ATR (starts 3B or 3F)"),
    ],
)
def test_user_errors_are_one_clear_line(args, message, tmp_path):
    perso = str(personalisation().save(tmp_path / "card.json"))
    result = runner.invoke(app, [perso if a == "PERSO" else a for a in args])
    assert result.exit_code in (1, 2)
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_pinless_card_is_personalised_and_read_without_any_pin(tmp_path):
    out = tmp_path / "pinless.json"
    made = runner.invoke(app, ["card", "personalise", "--resident", "demo-2", "--out", str(out), "--pinless"])
    assert made.exit_code == 0, made.output
    result = runner.invoke(app, ["card", "info", "--file", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["retries"] == {"auth": None, "sign": None, "input_support": None}
    assert data["certificates"]["sign"] == {"kind": "sign", "absent": "not on this card"}
    assert data["certificates"]["auth"]["serial"] > 0
    text = runner.invoke(app, ["card", "info", "--file", str(out)])
    assert "tries left  auth no PIN, sign no PIN, input_support no PIN" in text.stdout, text.stdout
