"""The durable stores' codec: typed JSON that reads back exactly what was written, and never runs code it is told to."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from real_backends.stores import codec
from real_backends.stores.codec import CodecError, decode, decode_key, encode, encode_key
from twin.services.accounts import AccountType, BankAccount
from twin.services.payout import Application, ApplicationRecord, Channel, Decision, Outcome, Reason, Status, Totals
from twin.services.payout.records import HouseholdFile


def test_the_payout_records_read_back_equal_and_typed() -> None:
    account = BankAccount("0001", "123", AccountType.ORDINARY, "0001234", "ヤマダタロウ")
    app = Application(7, 21, Channel.ONLINE, account, (21, 22), True)
    records = [
        ApplicationRecord(3, "k-7", 7, app, dt.date(2020, 5, 11), Outcome.ACCEPTED, account, Status.ENTITLED),
        Decision(Outcome.REJECTED, 7, Reason.DUPLICATE, "household 7: already applied"),
        HouseholdFile(Status.APPLIED, 3, account, -1, None, 0),
        Totals(next_application=4, paid_amount=10**12),
        ("fingerprint", Decision(Outcome.ACCEPTED, 1)),
    ]
    for r in records:
        back = decode(encode(r))
        assert back == r and type(back) is type(r)
    assert type(decode(encode(records[0])).payload.account.account_type) is AccountType  # type: ignore[attr-defined]


def test_the_same_record_always_encodes_to_the_same_text() -> None:
    a = frozenset({Channel.MAIL, Channel.ONLINE, Channel.PUSH})
    b = frozenset({Channel.PUSH, Channel.ONLINE, Channel.MAIL})
    assert encode(a) == encode(b)
    assert encode({"b": 1, "a": 2}) == '{"$o":{"a":2,"b":1}}'


def test_a_stored_class_outside_the_twin_is_refused_not_imported() -> None:
    with pytest.raises(CodecError, match=r"stored type 'os:system': only classes under \('twin.',\) may be decoded"):
        decode('{"$n": "os:system", "v": ["echo hi"]}')
    with pytest.raises(CodecError, match="unknown tag"):
        decode('{"$zz": 1}')
    with pytest.raises(CodecError, match="not JSON"):
        decode("{nope")
    with pytest.raises(CodecError, match="cannot store a value of type builtins.object"):
        encode(object())


def test_arrays_keep_dtype_shape_and_come_back_read_only() -> None:
    a = np.array([[1, 2], [3, 4]], dtype=np.int16)
    b = decode(encode(a))
    assert b.dtype == np.int16 and b.shape == (2, 2) and (b == a).all() and not b.flags.writeable


plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False) | st.dates()
    | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.lists(inner, max_size=3).map(tuple)
    | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=10,
)  # fmt: skip


@given(plain)
def test_any_plain_value_round_trips(value: object) -> None:
    back = decode(encode(value))
    assert back == value and type(back) is type(value)
    assert encode(back) == encode(value)


def reference_text(value: object) -> str:
    """What the codec wrote before its text writer: the tagged dicts through the JSON encoder."""
    return codec._ENCODER.encode(codec._to_json(value))


@given(plain | st.frozensets(st.integers(), max_size=3) | st.datetimes())
def test_the_text_writer_writes_the_bytes_the_json_encoder_wrote(value: object) -> None:
    assert encode(value) == reference_text(value)


def test_the_text_writer_writes_every_payout_record_as_before() -> None:
    """Rows written before the text writer must compare equal to rows written after (no migration)."""
    account = BankAccount("0001", "123", AccountType.ORDINARY, "0001234", 'ヤマダ"タロウ\u2028')
    typed = BankAccount("0001", "123", "普通", "0001234", "ﾔﾏﾀﾞ")
    app = Application(7, 21, Channel.ONLINE, account, (21, 22), True)
    values = [
        ApplicationRecord(3, "k-7", 7, app, dt.date(2020, 5, 11), Outcome.ACCEPTED, account, Status.ENTITLED),
        ApplicationRecord(4, "k-8", 8, Application(8, 9, Channel.MAIL, typed), dt.date(2020, 5, 12),
                          Outcome.RETURNED, typed, Status.RETURNED, Reason.HOLDER_MISMATCH, dt.date(2020, 6, 1)),
        Decision(Outcome.REJECTED, 7, Reason.DUPLICATE, "household 7: already applied"),
        HouseholdFile(Status.APPLIED, 3, account, -1, dt.date(2020, 6, 30), 2),
        HouseholdFile(Status.ENTITLED), Totals(next_application=4, paid_amount=10**12),
        ("fingerprint", Decision(Outcome.ACCEPTED, 1)), (3, 250_000, dt.date(2020, 5, 11)),
        [Status.PAID, None, True, False, -(2**70), 0.5, b"\x00", {"a": (1,)}, {1: "x"}, np.int64(3), np.float32(1.5)],
        np.arange(3, dtype=np.int32), frozenset({Channel.MAIL, Channel.PUSH}), dt.datetime(2020, 5, 11, 9, 30),
    ]  # fmt: skip
    for v in values:
        assert encode(v) == reference_text(v), v
        back, reference = decode(encode(v)), codec._from_json(json.loads(encode(v)))
        assert repr(back) == repr(reference) and type(back) is type(reference), v


class One(NamedTuple):
    a: object


class Empty(NamedTuple):
    pass


@dataclasses.dataclass(frozen=True)
class Bare:
    pass


@dataclasses.dataclass(frozen=True)
class Two:
    x: object
    y: object = dataclasses.field(default=0, init=False)  # not an init field: not stored


def test_the_compiled_writers_cover_odd_record_shapes() -> None:
    for v in [One("x"), One(One(3)), Empty(), One((1, "a", None)), One(True), One(2**80), One("\u2028\\"),
              Bare(), Two(Two(One(1.5))), Two(Status.PAID), Two([dt.date(2020, 5, 1), b"x"])]:  # fmt: skip
        assert encode(v) == reference_text(v)


@given(plain | st.frozensets(st.integers(), max_size=3) | st.datetimes())
def test_the_fast_reader_reads_what_the_tag_walker_reads(value: object) -> None:
    text = encode(value)
    back, reference = decode(text), codec._from_json(json.loads(text))
    assert back == reference and type(back) is type(reference)


def test_the_fast_reader_refuses_what_the_tag_walker_refused() -> None:
    for text, why in [('{"a": 1}', "not a tagged record"), ("[1.5]", "floats are stored tagged"),
                      ('[{"$zz": 1}]', "unknown tag"), ('{"$n": "os:system", "v": []}', "only classes under"),
                      ("[NaN]", "floats are stored tagged")]:  # fmt: skip
        with pytest.raises(CodecError, match=why):
            decode(text)


def test_floats_keep_their_exact_value_including_nan_and_infinity() -> None:
    assert decode(encode(0.1 + 0.2)) == 0.30000000000000004
    assert decode(encode(float("inf"))) == float("inf")
    nan = decode(encode(float("nan")))
    assert nan != nan


@given(st.integers() | st.text() | st.tuples(st.integers(), st.text()) | st.tuples(st.integers(), st.integers())
       | st.tuples() | st.tuples(st.integers(), st.tuples(st.integers())))  # fmt: skip
def test_keys_round_trip(key: object) -> None:
    assert decode_key(encode_key(key)) == key
    assert encode_key(key) == json.dumps(codec._key_json(key), ensure_ascii=False, separators=(",", ":"))


def _parts(v: object) -> list[type]:
    """The types of a value and of everything inside it."""
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return [type(v), *(t for f in dataclasses.fields(v) for t in _parts(getattr(v, f.name)))]
    if isinstance(v, tuple | list | frozenset):
        return [type(v), *(t for x in v for t in _parts(x))]
    if isinstance(v, dict):
        return [dict, *(t for kv in v.items() for x in kv for t in _parts(x))]
    return [type(v)]


int64s = st.integers(-(2**63), 2**63 - 1).map(np.int64)


@given(plain | st.frozensets(st.integers(), max_size=3) | st.datetimes() | int64s)
def test_encode_exact_says_exact_only_when_the_value_reads_back_with_the_same_immutable_types(value: object) -> None:
    text, exact = codec.encode_exact(value)
    assert text == encode(value)
    mutable_or_loose = {list, dict, float, bytes, frozenset, dt.datetime, np.int64, set}
    assert exact == (not mutable_or_loose & set(_parts(value)))
    if exact:
        assert _parts(decode(text)) == _parts(value)


def test_encode_exact_on_the_payout_records_and_on_a_mutable_dataclass() -> None:
    @dataclasses.dataclass
    class Mutable:
        n: int

    account = BankAccount("0001", "123", AccountType.ORDINARY, "0001234", "ヤマダタロウ")
    app = Application(7, 21, Channel.ONLINE, account, (21, 22), True)
    rec = ApplicationRecord(3, "k-7", 7, app, dt.date(2020, 5, 11), Outcome.ACCEPTED, account, Status.ENTITLED)
    assert codec.encode_exact(rec) == (encode(rec), True)
    assert codec.encode_exact(("fp", Decision(Outcome.ACCEPTED, 1)))[1] is True
    assert codec.encode_exact(HouseholdFile(Status.APPLIED, 3, account, -1, None, 0))[1] is True
    assert codec.encode_exact((1, Mutable(2)))[1] is False


def test_values_are_written_as_ascii_and_rows_written_before_in_utf8_read_back_the_same() -> None:
    """SQLite takes an ASCII string as it is and converts any other to UTF-8 (a third more per row)."""
    account = BankAccount("0001", "123", AccountType.ORDINARY, "0001234", "キムラ\u3000ユイ😀\ud800")
    rec = HouseholdFile(Status.APPLIED, 3, account, -1, None, 0)
    text = encode(rec)
    assert text.isascii() and "\\u30ad\\u30e0\\u30e9\\u3000" in text and "\\ud83d\\ude00\\ud800" in text
    assert decode(text) == rec
    before = json.dumps(codec._to_json(rec), ensure_ascii=False, separators=(",", ":"))  # as written before
    assert "キムラ\u3000ユイ😀" in before and decode(before) == rec and type(decode(before)) is HouseholdFile
    assert encode_key("キー") == '"キー"' and encode_key(("キ", 1)) == '["キ",1]'  # keys: unchanged
