"""The card OS against the behaviours real clients depend on (docs/CARD_PROTOCOL.md §10),
item by item, plus the APDU sequences of §9 replayed in-process."""

from __future__ import annotations

import pytest
from card_helpers import AUTH_PIN, INPUT_SUPPORT_PIN, MY_NUMBER, SIGN_PASSWORD, personalisation
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from emulators.card_files import EF_AUTH_PIN, EF_INPUT_SUPPORT_PIN, EF_SIGN_PASSWORD
from emulators.card_os import MynaCardOS
from emulators.layouts import digest_info

JPKI = "D392F000260100000001"
TEXT = "D3921000310001010408"
COMMON = "D3921000310001010100"
VISUAL = "D3921000310001010402"


def tx(card: MynaCardOS, apdu: str | bytes) -> tuple[bytes, int]:
    raw = bytes.fromhex(apdu.replace(" ", "")) if isinstance(apdu, str) else apdu
    resp = card.execute(raw)
    return resp[:-2], int.from_bytes(resp[-2:], "big")


def sel_aid(aid: str) -> str:
    return f"00A4040C{len(aid) // 2:02X}{aid}"


def sel_ef(fid: str) -> str:
    return f"00A4020C02{fid}"


def verify(pin: str) -> str:
    return f"00200080{len(pin):02X}{pin.encode().hex()}"


def ok(card: MynaCardOS, *apdus: str) -> bytes:
    data = b""
    for a in apdus:
        data, sw = tx(card, a)
        assert sw == 0x9000, f"{a}: {sw:04X}"
    return data


# §10.1 SELECT ---------------------------------------------------------------------------------


@pytest.mark.parametrize("aid", [JPKI, TEXT, COMMON])
def test_select_known_ap_answers_bare_9000(card, aid):
    assert tx(card, sel_aid(aid)) == (b"", 0x9000)


@pytest.mark.parametrize(
    "aid",
    [
        "A000000308000010000100",  # PIV (OpenSC probes it first)
        "A0000000790100",  # CAC
        "A000000063504B43532D3135",  # PKCS#15
        "A00000039742544659",  # GIDS
        VISUAL,  # not modelled
        JPKI[:-2],  # a prefix is not a match
    ],
)
def test_unknown_aid_is_6a82_never_9000(card, aid):
    assert tx(card, sel_aid(aid)) == (b"", 0x6A82)


def test_select_ef_unknown_or_before_an_ap_is_6a82(card):
    assert tx(card, sel_ef("000A"))[1] == 0x6A82  # no AP selected yet
    ok(card, sel_aid(JPKI))
    assert tx(card, sel_ef("0099"))[1] == 0x6A82
    assert tx(card, sel_ef("000A")) == (b"", 0x9000)


def test_select_mf_after_reset_is_6a86_then_a_no_op(card):
    assert tx(card, "00A40000")[1] == 0x6A86
    ok(card, sel_aid(JPKI), sel_ef("000A"), "00A40000")
    assert tx(card, "00B0000004")[1] == 0x9000  # the current EF did not change
    assert tx(card, "00A4000C023F00")[1] == 0x6A82


# §10.2 / §10.3 READ BINARY -------------------------------------------------------------------


def test_certificate_files_start_30_82_and_size_from_bytes_2_3(card):
    ok(card, sel_aid(JPKI))
    perso = personalisation()
    for fid, der in (("000A", perso.auth_certificate), ("000B", perso.auth_ca_certificate),
                     ("0002", perso.sign_ca_certificate)):
        head = ok(card, sel_ef(fid), "00B0000004")
        assert head[:2] == b"\x30\x82"
        assert int.from_bytes(head[2:4], "big") + 4 == len(der)


@pytest.mark.parametrize("offset,le", [(0, 256), (7, 256), (8, 255), (0x107, 0x10), (4, 1), (0, 7)])
def test_read_binary_any_offset_and_le(card, offset, le):
    der = personalisation().auth_certificate
    ok(card, sel_aid(JPKI), sel_ef("000A"))
    data, sw = tx(card, f"00B0{offset:04X}{le % 256:02X}")
    assert sw == 0x9000 and data == der[offset : offset + le]


def test_read_past_what_remains_returns_the_rest_and_past_the_end_is_6b00(card):
    der = personalisation().auth_certificate
    ok(card, sel_aid(JPKI), sel_ef("000A"))
    last = len(der) - 10
    assert tx(card, f"00B0{last:04X}00") == (der[last:], 0x9000)
    assert tx(card, f"00B0{len(der):04X}01")[1] == 0x6B00


def test_sfi_read_and_extended_le_as_ext_and_jsapdu_do(card):
    der = personalisation().auth_certificate
    ok(card, sel_aid(JPKI))
    assert tx(card, "00B08A0004") == (der[:4], 0x9000)  # no SELECT EF: SFI 0A
    rest = len(der) - 4
    assert tx(card, f"00B08A0400{rest:04X}") == (der[4:], 0x9000)
    assert tx(card, "00B08A00000000") == (der, 0x9000)  # extended Le 65536


# §10.4 / §10.5 VERIFY and retry counters -----------------------------------------------------


@pytest.mark.parametrize("fid,tries", [("0018", 3), ("001B", 5)])
def test_empty_verify_is_a_free_retry_query(card, fid, tries):
    ok(card, sel_aid(JPKI), sel_ef(fid))
    for _ in range(3):
        assert tx(card, "00200080") == (b"", 0x63C0 | tries)
    assert tx(card, "0020008000")[1] == 0x6700  # with a Le byte: wrong length


def test_input_support_pin_has_three_tries(card):
    ok(card, sel_aid(TEXT), sel_ef("0011"))
    assert tx(card, "00200080")[1] == 0x63C3


def test_wrong_pins_count_down_then_block_and_right_pin_restores(card):
    ok(card, sel_aid(JPKI), sel_ef("0018"))
    assert tx(card, verify("0000"))[1] == 0x63C2
    assert tx(card, verify(AUTH_PIN))[1] == 0x9000
    assert tx(card, "00200080")[1] == 0x63C3  # success restored the counter
    assert [tx(card, verify("0000"))[1] for _ in range(3)] == [0x63C2, 0x63C1, 0x63C0]
    assert tx(card, verify(AUTH_PIN))[1] == 0x6984  # blocked: the right PIN no longer works
    assert tx(card, "00200080")[1] == 0x63C0
    assert card.pin("JPKI", EF_AUTH_PIN).tries_left == 0
    assert card.pin("JPKI", EF_SIGN_PASSWORD).tries_left == 5  # other PINs unaffected


def test_verify_by_sfi_in_p2(card):
    ok(card, sel_aid(JPKI))
    assert tx(card, f"00200098{len(AUTH_PIN):02X}{AUTH_PIN.encode().hex()}")[1] == 0x9000
    ok(card, sel_aid(TEXT))
    assert tx(card, "00200091")[1] == 0x63C3


def test_pin_format_is_not_checked_a_wrong_shape_is_a_wrong_pin(card):
    ok(card, sel_aid(JPKI), sel_ef("0018"))
    assert tx(card, verify("12345"))[1] == 0x63C2
    assert card.pin("JPKI", EF_AUTH_PIN).tries_left == 2


# §10.6 sign certificate behind the sign password ----------------------------------------------


def test_sign_certificate_selectable_but_6982_until_sign_password(card):
    ok(card, sel_aid(JPKI), sel_ef("0001"))
    assert tx(card, "00B0000004") == (b"", 0x6982)
    ok(card, sel_ef("001B"), verify(SIGN_PASSWORD), sel_ef("0001"))
    assert tx(card, "00B0000004") == (personalisation().sign_certificate[:4], 0x9000)


def test_auth_pin_does_not_open_the_sign_certificate(card):
    ok(card, sel_aid(JPKI), sel_ef("0018"), verify(AUTH_PIN), sel_ef("0001"))
    assert tx(card, "00B0000004")[1] == 0x6982


# §10.7 COMPUTE DIGITAL SIGNATURE --------------------------------------------------------------


def _auth_public_key():
    return x509.load_der_x509_certificate(personalisation().auth_certificate).public_key()


def test_signature_6982_before_pin_then_pkcs1_v15_over_the_digest_info(card):
    di = digest_info("sha256", b"message")
    apdu = "802A0080" + f"{len(di):02X}" + di.hex() + "00"
    ok(card, sel_aid(JPKI), sel_ef("0017"))
    assert tx(card, apdu) == (b"", 0x6982)
    ok(card, sel_ef("0018"), verify(AUTH_PIN), sel_ef("0017"))
    sig, sw = tx(card, apdu)
    assert sw == 0x9000 and len(sig) == 256
    _auth_public_key().verify(sig, b"message", padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize("block", [b"\x01", b"not a DigestInfo at all", bytes(range(245))])
def test_any_block_up_to_245_bytes_is_padded_on_the_card(card, block):
    ok(card, sel_aid(JPKI), sel_ef("0018"), verify(AUTH_PIN))
    sig, sw = tx(card, "802A0097" + f"{len(block):02X}" + block.hex() + "00")  # key by SFI 17
    assert sw == 0x9000
    n = _auth_public_key().public_numbers()
    em = pow(int.from_bytes(sig, "big"), n.e, n.n).to_bytes(256, "big")
    assert em == b"\x00\x01" + b"\xff" * (253 - len(block)) + b"\x00" + block


def test_fast_and_raw_signing_paths_agree(card):
    """A DigestInfo goes through cryptography's signer; the same bytes with one more byte of
    padding room go through the raw path: both are the same PKCS#1 v1.5 function."""
    ok(card, sel_aid(JPKI), sel_ef("0018"), verify(AUTH_PIN), sel_ef("0017"))
    di = digest_info("sha1", b"x")
    fast, _ = tx(card, "802A0080" + f"{len(di):02X}" + di.hex() + "00")
    key_file = card.current_app.files[0x0017]  # type: ignore[union-attr]
    assert MynaCardOS._raw_pkcs1_sign(key_file, di) == fast  # noqa: SLF001


def test_signature_refusals(card):
    ok(card, sel_aid(JPKI), sel_ef("0018"), verify(AUTH_PIN), sel_ef("0017"))
    assert tx(card, "802A0680" + "20" + "00" * 32 + "00")[1] == 0x6A86  # P1 > 05
    assert tx(card, "802A008000" + "00" + "F6" + "00" * 246)[1] == 0x6700  # extended, 246 bytes
    assert tx(card, "802A0080")[1] == 0x6700  # no data
    ok(card, sel_ef("000A"))
    assert tx(card, "802A0080" + "01" + "00" + "00")[1] == 0x6981  # current EF is not a key
    assert tx(card, "002A0080" + "01" + "00" + "00")[1] == 0x6D00  # CLA 00: not this command


def test_sign_key_needs_the_sign_password_not_the_auth_pin(card):
    di = digest_info("sha256", b"contract")
    apdu = "802A009A" + f"{len(di):02X}" + di.hex() + "00"
    ok(card, sel_aid(JPKI), sel_ef("0018"), verify(AUTH_PIN))
    assert tx(card, apdu)[1] == 0x6982
    ok(card, sel_ef("001B"), verify(SIGN_PASSWORD))
    assert tx(card, apdu)[1] == 0x9000


# §10.8 security state ---------------------------------------------------------------------------


def test_pin_state_survives_ef_selection_and_is_cleared_by_reselecting_the_ap_or_reset(card):
    di = digest_info("sha256", b"m").hex()
    sign = f"802A0080{len(di) // 2:02X}{di}00"
    ok(card, sel_aid(JPKI), sel_ef("0018"), verify(AUTH_PIN), sel_ef("000A"), sel_ef("0006"), sel_ef("0017"))
    assert tx(card, sign)[1] == 0x9000
    ok(card, sel_aid(JPKI), sel_ef("0017"))  # OpenSC's logout
    assert tx(card, sign)[1] == 0x6982
    ok(card, sel_ef("0018"), verify(AUTH_PIN))
    card.reset()
    ok(card, sel_aid(JPKI), sel_ef("0017"))
    assert tx(card, sign)[1] == 0x6982


# §10.9 token info and the input-support AP files ------------------------------------------------


def test_token_info_label_and_layout(card):
    token = ok(card, sel_aid(JPKI), sel_ef("0006"), "00B0000000")
    assert len(token) == 160
    assert token[:32] == b"JPKIAPICCTOKEN2".ljust(32, b" ")
    assert token[96:100] == bytes.fromhex("0000040D")  # flags
    assert int.from_bytes(token[116:120], "big") == 16 and int.from_bytes(token[120:124], "big") == 6


def test_my_number_file_is_17_bytes_behind_the_pin(card):
    ok(card, sel_aid(TEXT), sel_ef("0001"))
    assert tx(card, "00B0000011")[1] == 0x6982
    ok(card, sel_ef("0011"), verify(INPUT_SUPPORT_PIN), sel_ef("0001"))
    data = ok(card, "00B0000011")
    assert data == b"\xff\x10\x0c" + MY_NUMBER.encode() + b"\xff\xff"
    assert tx(card, "00B0000100")[1] == 0x9000  # Le 256: the 17 bytes, no error
    assert tx(card, "00B081030C") == (MY_NUMBER.encode(), 0x9000)  # ext: SFI 1, offset 3


def test_collation_number_a_opens_my_number_only_and_b_basic_info_only(card):
    perso = personalisation()
    ok(card, sel_aid(TEXT), sel_ef("0014"), verify(perso.collation_number_a))
    assert tx(card, "00B0810011")[1] == 0x9000
    assert tx(card, "00B0820007")[1] == 0x6982
    ok(card, sel_aid(TEXT), sel_ef("0015"), verify(perso.collation_number_b))
    assert tx(card, "00B0820007")[1] == 0x9000
    assert tx(card, "00B0810011")[1] == 0x6982
    assert perso.collation_number_b == "020217" + "2031" + "2285"  # Heisei 2, expiry year, code


def test_common_ap_identification_record(card):
    ok(card, sel_aid(COMMON))
    record = ok(card, "00B2010C00")  # myna: record 1 of SFI 1
    assert record == b"\x01\x1c" + b"123456789012345" + b"13101" + b"20310217"
    assert tx(card, "00B2020C00")[1] == 0x6A83


def test_change_reference_data_after_verify_with_format_check(card):
    ok(card, sel_aid(TEXT), sel_ef("0011"))
    assert tx(card, "0024018004" + b"4321".hex())[1] == 0x6982
    ok(card, verify(INPUT_SUPPORT_PIN))
    assert tx(card, "0024018003" + b"432".hex())[1] == 0x6A80
    ok(card, "0024018004" + b"4321".hex())
    ok(card, sel_aid(TEXT), sel_ef("0011"), verify("4321"))
    assert card.pin("input-support", EF_INPUT_SUPPORT_PIN).tries_left == 3


# §10.10 and the CLA byte -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "apdu,sw",
    [
        ("01A4040C0A" + JPKI, 0x6881),  # logical channel 1
        ("0CA4040C0A" + JPKI, 0x6882),  # secure messaging
        ("10A4040C0A" + JPKI, 0x6884),  # chaining
        ("A0A4040C0A" + JPKI, 0x6E00),
        ("00EE000000", 0x6D00),
        ("00C0000010", 0x6D00),  # GET RESPONSE: the card never sends 61xx
        ("00B000", 0x6700),  # too short to be an APDU with Le
    ],
)
def test_class_and_instruction_errors(card, apdu, sw):
    assert tx(card, apdu) == (b"", sw)


def test_atr_and_get_data_5f51(card):
    assert card.getATR() == bytes.fromhex("3BE000FF8131FE4514")
    assert tx(card, "00CA5F5100") == (bytes.fromhex("E000FF8131FE4514"), 0x9000)
    assert tx(card, "00CA004200")[1] == 0x6A88


# §9: whole client sequences ---------------------------------------------------------------------


def test_opensc_bind_sequence_gets_sw1_63_for_both_pin_queries(card):
    ok(card, sel_aid(JPKI), sel_ef("0018"))
    assert tx(card, "00200080")[1] >> 8 == 0x63
    ok(card, sel_ef("001B"))
    assert tx(card, "00200080")[1] >> 8 == 0x63


def test_myna_auth_certificate_read_from_offset_7(card):
    der = personalisation().auth_certificate
    ok(card, sel_aid(JPKI), sel_ef("0006"))
    assert ok(card, "00B0000020").startswith(b"JPKIAPICCTOKEN2")
    got = ok(card, sel_ef("000A"), "00B0000007")
    total = int.from_bytes(got[2:4], "big") + 4
    while len(got) < total:
        n = min(256, total - len(got))
        got += ok(card, f"00B0{len(got):04X}{n % 256:02X}")
    assert got == der


def test_ext_client_signs_without_any_select_ef(card):
    di = digest_info("sha256", b"browser")
    ok(card, sel_aid(JPKI), f"00200098{len(AUTH_PIN):02X}{AUTH_PIN.encode().hex()}")
    sig = ok(card, f"802A0097{len(di):02X}{di.hex()}00")
    _auth_public_key().verify(sig, b"browser", padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize("fid,sfi", [("0017", 0x17), ("001A", 0x1A), ("0018", 0x18), ("001B", 0x1B)])
def test_key_and_pin_files_are_never_readable_even_after_verify(card, fid, sfi):
    ok(card, sel_aid(JPKI), sel_ef("0018"), verify(AUTH_PIN), sel_ef("001B"), verify(SIGN_PASSWORD))
    ok(card, sel_ef(fid))
    assert tx(card, "00B0000000") == (b"", 0x6981)
    assert tx(card, f"00B0{0x80 | sfi:02X}0000") == (b"", 0x6981)
