"""The residence card in a personalisation file: the file's `residence` object, `twin card personalise
--residence-status ...`, the card OS installing the residence AP from it, and the employer's check of that
card in process and through the real PC/SC stack. No card number reaches the output."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import stat

import pytest
from card_helpers import personalisation
from typer.testing import CliRunner

from emulators.card_os import MynaCardOS
from emulators.personalisation import Personalisation, PersonalisationError, ResidenceData
from emulators.readers import InProcessReader
from twin.cli import app
from twin.services.residence import ResidenceEntry, ResidenceRefused, ResidenceRegister, check_residence

runner = CliRunner()
NUMBER, STATUS, EXPIRY = "AB12345678CD", "技術・人文知識・国際業務", dt.date(2029, 7, 1)
DAY = dt.date(2026, 7, 1)


class _Card:
    """A reader as the residence service's ``CardLike`` (one APDU in, answer and status word out)."""

    def __init__(self, reader: object) -> None:
        self.execute = reader.transmit  # type: ignore[attr-defined]


def _register(perso: Personalisation) -> ResidenceRegister:
    """The authority's register as it would be after writing ``perso``'s residence data."""
    assert perso.residence is not None
    reg = ResidenceRegister()
    reg.entries[NUMBER] = ResidenceEntry(perso.residence.record(), "resident-1", perso.identity.serial)
    return reg


def _resident() -> Personalisation:
    return dataclasses.replace(personalisation(),
                               residence=ResidenceData(NUMBER, STATUS, "3年", EXPIRY, "status_only"))  # fmt: skip


def test_residence_data_survive_the_file_and_the_card_os_installs_the_ap(tmp_path):
    perso = _resident()
    path = perso.save(tmp_path / "card.json")
    again = Personalisation.load(path)
    assert again.residence == perso.residence
    assert NUMBER not in repr(again) + repr(again.residence)
    permanent = dataclasses.replace(perso, residence=ResidenceData(NUMBER, "永住者", "無期限", None, "none"))
    assert Personalisation.load(permanent.save(tmp_path / "p.json")).residence == permanent.residence
    with InProcessReader(MynaCardOS(again)) as reader:
        entry = check_residence(_Card(reader), NUMBER, _register(again), DAY)
        assert (entry.record.status, entry.record.expiry) == (STATUS, EXPIRY)
        with pytest.raises(ResidenceRefused) as wrong:
            check_residence(_Card(reader), "ZZ12345678CD", _register(again), DAY)
        assert wrong.value.reason == "residence_key_wrong"
    with InProcessReader(MynaCardOS(personalisation())) as reader:  # none in the file: no residence AP
        with pytest.raises(ResidenceRefused) as none:
            check_residence(_Card(reader), NUMBER, _register(again), DAY)
        assert none.value.reason == "no_residence_on_card"


_OK = {"card_number": NUMBER, "status": STATUS, "period": "3年", "expiry": "2029-07-01", "work": "none"}


@pytest.mark.parametrize(
    "residence,message",
    [
        ({**_OK, "card_number": "AB1234567CD"}, "residence.card_number: must be 2 letters A-Z, 8 digits"),
        ({**_OK, "expiry": "2029-13-01"}, "residence.expiry: '2029-13-01' is not YYYY-MM-DD"),
        ({**_OK, "work": "any"}, "residence.work: 'any' is not allowed; use none, status_only"),
        ({**_OK, "status": ""}, "residence.status: must be non-empty text"),
        ({k: v for k, v in _OK.items() if k != "period"}, "residence.period: missing"),
        ({**_OK, "photo": "x"}, "residence.photo: unknown field"),
        ("yes", "residence: must be an object"),
    ],
)
def test_a_bad_residence_object_names_the_field_and_not_the_card_number(residence, message, tmp_path):
    doc = json.loads(personalisation().to_json())
    doc["residence"] = residence
    path = tmp_path / "card.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(PersonalisationError) as e:
        Personalisation.load(path)
    assert message in str(e.value)
    assert "AB1234567CD" not in str(e.value)


_ARGS = ["--residence-status", STATUS, "--residence-period", "3年", "--residence-expiry", "2029-07-01",
         "--residence-work", "status_only"]  # fmt: skip


@pytest.mark.parametrize(
    "args,number,message",
    [
        (_ARGS[2:], NUMBER, "--residence-period, --residence-expiry and --residence-work need --residence-status"),
        (_ARGS[:4], NUMBER, "--residence-status needs --residence-expiry"),
        ([*_ARGS[:5], "2029-13-01", *_ARGS[6:]], NUMBER, "--residence-expiry: '2029-13-01' is not a date"),
        ([*_ARGS[:7], "part_time"], NUMBER, "--residence-work: 'part_time' is not allowed"),
        (_ARGS, "AB1234567XCD", "the residence card number (MYNA_RESIDENCE_CARD_NUMBER): must be 2 letters"),
    ],
)
def test_personalise_refuses_bad_residence_options_before_writing_anything(args, number, message, tmp_path):
    out = tmp_path / "card.json"
    result = runner.invoke(app, ["card", "personalise", "--resident", "demo-3", "--out", str(out), *args],
                           env={"MYNA_RESIDENCE_CARD_NUMBER": number})  # fmt: skip
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert number not in result.output
    assert not out.exists()


@pytest.mark.slow
def test_personalise_writes_the_residence_ap_and_info_sees_it(tmp_path):
    out = tmp_path / "resident.json"
    made = runner.invoke(app, ["card", "personalise", "--resident", "demo-3", "--out", str(out), *_ARGS],
                         input=f"{NUMBER}\n")  # fmt: skip
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and NUMBER not in made.output
    info = runner.invoke(app, ["card", "info", "--file", str(out), "--json"])
    assert info.exit_code == 0, info.output
    assert json.loads(info.stdout[info.stdout.index("{"):])["residence_application"].startswith("present")
    assert NUMBER not in info.output
    perso = Personalisation.load(out)
    with InProcessReader(MynaCardOS(perso)) as reader:
        assert check_residence(_Card(reader), NUMBER, _register(perso), DAY).record.work == "status_only"
    plain = runner.invoke(app, ["card", "info", "--file", str(personalisation().save(tmp_path / "p.json")),
                                "--json"])  # fmt: skip
    assert json.loads(plain.stdout[plain.stdout.index("{"):])["residence_application"] == "absent"


def test_an_employer_checks_the_residence_card_through_pcsc(serve_card):
    from real_backends.pcsc import PcscReader

    perso = _resident()
    name = serve_card(perso)
    with PcscReader(name) as reader:
        card = _Card(reader)
        entry = check_residence(card, NUMBER, _register(perso), DAY)
        assert (entry.record.status, entry.record.period, entry.record.work) == (STATUS, "3年", "status_only")
        with pytest.raises(ResidenceRefused) as wrong:
            check_residence(card, "ZZ12345678CD", _register(perso), DAY)
        assert wrong.value.reason == "residence_key_wrong" and "9 tries left" in str(wrong.value)
        with pytest.raises(ResidenceRefused) as expired:
            check_residence(card, NUMBER, _register(perso), dt.date(2029, 7, 2))
        assert expired.value.reason == "period_expired"
    info = runner.invoke(app, ["card", "info", "--reader", name])
    assert info.exit_code == 0, info.output
    assert "residence   present" in info.output and NUMBER not in info.output


@pytest.mark.system
@pytest.mark.slow
def test_opensc_sees_a_residence_card_as_any_other(serve_card, opensc_env):
    """The residence AP changes nothing OpenSC's JPKI driver sees: the same four certificates."""
    import subprocess

    serve_card(_resident())
    listed = subprocess.run(["pkcs15-tool", "--list-certificates"], env=opensc_env, capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("X.509 Certificate [") == 4 and NUMBER not in listed.stdout
