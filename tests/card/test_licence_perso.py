"""The driving licence in a personalisation file: `twin card personalise --licence`, the file's
`licence` object, the card OS installing the licence AP from it, and the police's check of that card
in process and through the real PC/SC stack. No licence number or PIN reaches the output."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import stat

import pytest
from card_helpers import personalisation
from typer.testing import CliRunner

from emulators.card_os import MynaCardOS
from emulators.personalisation import LicenceData, Personalisation, PersonalisationError
from emulators.readers import InProcessReader
from twin.cli import app
from twin.services.licence import LicenceEntry, LicenceRefused, LicenceRegister, police_verify

runner = CliRunner()
NUMBER, PIN, EXPIRY = "301234567890", "4321", dt.date(2029, 7, 1)
DAY = dt.date(2026, 5, 1)


class _Card:
    """A reader as the licence service's ``CardLike`` (one APDU in, answer and status word out)."""

    def __init__(self, reader: object) -> None:
        self.execute = reader.transmit  # type: ignore[attr-defined]


def _register(perso: Personalisation) -> LicenceRegister:
    reg = LicenceRegister()
    reg.entries[NUMBER] = LicenceEntry(NUMBER, EXPIRY, "眼鏡等", perso.identity.serial)
    return reg


def _licensed() -> Personalisation:
    return dataclasses.replace(personalisation(), licence=LicenceData(NUMBER, EXPIRY, "眼鏡等", PIN))


def test_a_licence_survives_the_file_and_the_card_os_installs_it(tmp_path):
    perso = _licensed()
    path = perso.save(tmp_path / "card.json")
    again = Personalisation.load(path)
    assert again.licence is not None and (again.licence.number, again.licence.expiry) == (NUMBER, EXPIRY)
    assert NUMBER not in repr(again) + repr(again.licence) and PIN not in repr(again.licence)
    with InProcessReader(MynaCardOS(again)) as reader:
        entry = police_verify(_Card(reader), PIN, _register(again), DAY)
        assert entry.number == NUMBER
        with pytest.raises(LicenceRefused) as wrong:
            police_verify(_Card(reader), "0000", _register(again), DAY)
        assert wrong.value.reason == "licence_pin_wrong"
    with InProcessReader(MynaCardOS(personalisation())) as reader:  # no licence in the file: no licence AP
        with pytest.raises(LicenceRefused) as none:
            police_verify(_Card(reader), PIN, _register(again), DAY)
        assert none.value.reason == "no_licence_on_card"


@pytest.mark.parametrize(
    "licence,message",
    [
        ({"number": "12", "expiry": "2029-07-01", "conditions": "", "pin": PIN},
         "licence.number: must be exactly 12 digits 0-9"),
        ({"number": NUMBER, "expiry": "2029-13-01", "conditions": "", "pin": PIN},
         "licence.expiry: '2029-13-01' is not YYYY-MM-DD"),
        ({"number": NUMBER, "expiry": "2029-07-01", "conditions": "", "pin": "12a4"},
         "licence.pin: must be exactly 4 digits 0-9"),
        ({"number": NUMBER, "expiry": "2029-07-01", "conditions": ""}, "licence.pin: missing"),
        ({"number": NUMBER, "expiry": "2029-07-01", "conditions": "", "pin": PIN, "class": "B"},
         "licence.class: unknown field"),
        ("yes", "licence: must be an object"),
    ],
)
def test_a_bad_licence_in_a_file_names_the_field_and_not_the_value(licence, message, tmp_path):
    doc = json.loads(personalisation().to_json())
    doc["licence"] = licence
    path = tmp_path / "card.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(PersonalisationError) as e:
        Personalisation.load(path)
    assert message in str(e.value)
    assert "12a4" not in str(e.value)


@pytest.mark.parametrize(
    "args,pin,message",
    [
        (["--licence", "12", "--licence-expiry", "2029-07-01"], PIN, "--licence: must be exactly 12 digits 0-9"),
        (["--licence", NUMBER], PIN, "--licence needs --licence-expiry YYYY-MM-DD"),
        (["--licence-expiry", "2029-07-01"], PIN, "--licence-expiry and --licence-conditions need --licence"),
        (["--licence", NUMBER, "--licence-expiry", "2029-13-01"], PIN,
         "--licence-expiry: '2029-13-01' is not a date YYYY-MM-DD"),
        (["--licence", NUMBER, "--licence-expiry", "2029-07-01"], "12a4",
         "the licence PIN (MYNA_LICENCE_PIN): must be exactly 4 digits 0-9"),
    ],
)
def test_personalise_refuses_a_bad_licence_before_writing_anything(args, pin, message, tmp_path):
    out = tmp_path / "card.json"
    result = runner.invoke(app, ["card", "personalise", "--resident", "demo-3", "--out", str(out), *args],
                           env={"MYNA_LICENCE_PIN": pin})  # fmt: skip
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert pin not in result.output
    assert not out.exists()


@pytest.mark.slow
def test_personalise_writes_the_licence_and_info_sees_it(tmp_path):
    out = tmp_path / "licensed.json"
    args = ["--licence", NUMBER, "--licence-expiry", EXPIRY.isoformat(), "--licence-conditions", "眼鏡等"]
    made = runner.invoke(app, ["card", "personalise", "--resident", "demo-3", "--out", str(out), *args],
                         input=f"{PIN}\n{PIN}\n")  # fmt: skip
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert NUMBER not in made.output
    info = runner.invoke(app, ["card", "info", "--file", str(out), "--json"])
    assert info.exit_code == 0, info.output
    assert json.loads(info.stdout[info.stdout.index("{"):])["licence_application"].startswith("present")
    assert NUMBER not in info.output
    perso = Personalisation.load(out)
    with InProcessReader(MynaCardOS(perso)) as reader:
        assert police_verify(_Card(reader), PIN, _register(perso), DAY).card_serial == perso.identity.serial
    plain = runner.invoke(app, ["card", "info", "--file", str(_plain(tmp_path)), "--json"])
    assert json.loads(plain.stdout[plain.stdout.index("{"):])["licence_application"] == "absent"


def _plain(tmp_path):  # noqa: ANN001, ANN202
    return personalisation().save(tmp_path / "plain.json")


def test_police_verify_the_licence_through_pcsc(serve_card):
    from real_backends.pcsc import PcscReader

    perso = _licensed()
    name = serve_card(perso)
    with PcscReader(name) as reader:
        card = _Card(reader)
        assert police_verify(card, PIN, _register(perso), DAY).number == NUMBER
        with pytest.raises(LicenceRefused) as wrong:
            police_verify(card, "9999", _register(perso), DAY)
        assert wrong.value.reason == "licence_pin_wrong" and "2 tries left" in str(wrong.value)
    info = runner.invoke(app, ["card", "info", "--reader", name])
    assert info.exit_code == 0, info.output
    assert "licence     present" in info.output and NUMBER not in info.output and PIN not in info.output
