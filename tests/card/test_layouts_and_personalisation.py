"""File layouts clients parse (My Number, 基本4情報, token info, common-AP record) and the
personalisation file (round trip, mode 0600, no secrets in repr or errors)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import stat

import pytest
from card_helpers import AUTH_PIN, INPUT_SUPPORT_PIN, MY_NUMBER, SIGN_PASSWORD, personalisation
from hypothesis import given, settings
from hypothesis import strategies as st

from emulators.apdu import build, parse
from emulators.layouts import (
    BasicFourInfo,
    decode_basic_four_info,
    digest_info,
    encode_basic_four_info,
    encode_my_number,
    era_yymmdd,
    is_valid_my_number,
    my_number_check_digit,
    split_digest_info,
)
from emulators.personalisation import Personalisation, PersonalisationError


def test_basic_four_info_header_matches_the_documented_example():
    info = BasicFourInfo("番号\u3000花子", "東京都千代田区霞が関２丁目１番２２号", dt.date(1990, 2, 17), "2")
    blob = encode_basic_four_info(info)
    assert blob[:17] == bytes.fromhex("FF2065DF2108000E0020005900 64DF220F".replace(" ", ""))
    assert blob[0x59:0x64] == b"\xdf\x24\x08" + b"19900217"
    assert blob[0x64:] == b"\xdf\x25\x01" + b"2"


@settings(max_examples=200, derandomize=True)
@given(
    name=st.text(min_size=1, max_size=60).filter(lambda s: s.strip() != "" or True),
    address=st.text(min_size=1, max_size=120),
    born=st.dates(dt.date(1900, 1, 1), dt.date(2026, 1, 1)),
    sex=st.sampled_from(["0", "1", "2", "9"]),
)
def test_basic_four_info_round_trips_through_its_offset_table(name, address, born, sex):
    info = BasicFourInfo(name, address, born, sex)
    blob = encode_basic_four_info(info)
    assert decode_basic_four_info(blob) == info


def test_my_number_file_layout_and_check_digit():
    assert encode_my_number(MY_NUMBER) == b"\xff\x10\x0c" + MY_NUMBER.encode() + b"\xff\xff"
    assert len(encode_my_number(MY_NUMBER)) == 17
    with pytest.raises(ValueError) as e:
        encode_my_number("123456789012")
    assert "123456789012" not in str(e.value)  # never echo a My Number


def _remainder(first11: str) -> int:
    return sum(int(c) * (n + 1 if n <= 6 else n - 5) for n, c in enumerate(reversed(first11), 1)) % 11


@settings(max_examples=200, derandomize=True)
@given(st.text("0123456789", min_size=11, max_size=11), st.integers(0, 11), st.integers(1, 9))
def test_a_one_digit_change_is_caught_unless_the_remainders_are_0_and_1(first11, pos, delta):
    """Weights 2..7 are prime to 11, so one changed digit changes the remainder; only
    remainders 0 and 1 share check digit 0 (総務省令 第5条)."""
    number = first11 + str(my_number_check_digit(first11))
    assert is_valid_my_number(number)
    changed = number[:pos] + str((int(number[pos]) + delta) % 10) + number[pos + 1 :]
    collision = pos < 11 and {_remainder(first11), _remainder(changed[:11])} == {0, 1}
    assert is_valid_my_number(changed) == collision


@pytest.mark.parametrize(
    "day,text",
    [(dt.date(1990, 2, 17), "020217"), (dt.date(1989, 1, 7), "640107"), (dt.date(1989, 1, 8), "010108"),
     (dt.date(2019, 5, 1), "010501"), (dt.date(2019, 4, 30), "310430")],
)
def test_era_birth_dates(day, text):
    assert era_yymmdd(day) == text


@settings(max_examples=200, derandomize=True)
@given(
    cla=st.integers(0, 255), ins=st.integers(0, 255), p1=st.integers(0, 255), p2=st.integers(0, 255),
    data=st.binary(max_size=600), le=st.one_of(st.none(), st.integers(1, 65536)),
)
def test_apdu_build_and_parse_agree(cla, ins, p1, p2, data, le):
    cmd = parse(build(cla, ins, p1, p2, data, le))
    assert (cmd.cla, cmd.ins, cmd.p1, cmd.p2, cmd.data) == (cla, ins, p1, p2, data)
    assert cmd.has_le == (le is not None)
    assert cmd.ne == (le or 0)


def test_digest_info_is_recognised_only_exactly():
    di = digest_info("sha256", b"x")
    assert split_digest_info(di) == ("sha256", di[-32:])
    assert split_digest_info(di + b"\x00") is None
    assert split_digest_info(di[:-1]) is None


def test_personalisation_file_round_trips_with_mode_0600(tmp_path):
    perso = personalisation()
    path = perso.save(tmp_path / "card.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = Personalisation.load(path)
    for f in dataclasses.fields(Personalisation):
        a, b = getattr(perso, f.name), getattr(loaded, f.name)
        if f.name.endswith("_key"):
            assert a.private_numbers() == b.private_numbers()
        else:
            assert a == b, f.name


def test_repr_shows_no_pin_key_or_my_number():
    text = repr(personalisation()) + str(personalisation())
    for secret in (MY_NUMBER, AUTH_PIN, SIGN_PASSWORD, INPUT_SUPPORT_PIN, "PRIVATE KEY"):
        assert secret not in text


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda d: d.pop("my_number"), "my_number: missing"),
        (lambda d: d.update(my_number="123456789012"), "my_number: not 12 digits with a valid check digit"),
        (lambda d: d["pins"].update(auth_pin="12345"), "auth_pin: must be exactly 4 digits"),
        (lambda d: d["pins"].update(sign_password="abcdef"), "sign_password: must be 6-16 characters"),
        (lambda d: d.update(auth_key=d["sign_key"]), "auth_certificate: its public key does not match auth_key"),
        (lambda d: d["basic_info"].update(sex="3"), "sex: '3' is not one of"),
        (lambda d: d["basic_info"].update(birth_date="1990/02/17"), "basic_info.birth_date: '1990/02/17' is not"),
        (lambda d: d.update(atr="zz"), "atr: 'zz' is not hexadecimal"),
        (lambda d: d.update(format="other"), "format: expected"),
    ],
)
def test_bad_personalisation_files_name_the_field_and_never_the_secret(tmp_path, edit, message):
    doc = json.loads(personalisation().to_json())
    edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(PersonalisationError) as e:
        Personalisation.load(path)
    assert str(e.value).startswith(f"{path}: ")
    assert message in str(e.value)
    assert "123456789012" not in str(e.value) and "12345" not in str(e.value).replace(str(path), "")
