"""A stable, typed JSON codec for the records the services keep (no pickle in a durable store).

A ledger written to disk in 2020 must still read in 2030, after the code around it moved on, and
reading it must never run code the file chose. Pickle fails both tests. This codec writes each
record as plain JSON with a small type tag: named tuples and frozen dataclasses by their module
and class name (only classes under ``twin.`` may be named, so a tampered row cannot import
arbitrary modules), enums by value, dates as ISO strings, tuples and frozensets as lists, read-only
numpy arrays as dtype + shape + base64 bytes. ``decode(encode(x)) == x`` for every record the
services store, and the same record always encodes to the same bytes (dict keys and frozenset
members are sorted).

The format is defined by the tag walk (:func:`_to_json` through the JSON encoder, :func:`_from_json`
over ``json.loads``). A batch of the payout ledger writes and reads hundreds of thousands of rows, so
the hot paths are faster equivalents, tested to agree with the walk byte for byte: :func:`encode`
writes text directly with one generated writer per record class, and :func:`decode` lets the JSON
parser hand each tagged object to a hook as it closes. A row holding a str-keyed dict is read by the
walk itself, because any key, a tag's name too, may appear there.

Values are written as ASCII (``ensure_ascii``: a name in katakana is written as ``\\u30ad...``): a
database driver hands an ASCII string to SQLite as it is, where a string holding any other character
is first converted to UTF-8, and a payout row that named its holder cost about a third more to write
and a half more to read (2026-12-05). Rows written before, in UTF-8, read back the same records.
Keys get their own encoding (:func:`encode_key`): ints, strings and tuples of them as canonical
JSON text, not escaped (the SQL key column of rows already written), used as the SQL primary key.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import functools
import importlib
import itertools
import json
import keyword
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

#: modules whose classes a stored record may name; anything else is refused on decode
ALLOWED_PREFIXES = ("twin.",)


class CodecError(ValueError):
    """A value the codec cannot write, or stored text it refuses to read (naming the type or tag)."""


def _class_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


@functools.lru_cache(maxsize=256)  # a few dozen record classes: import and look up each once
def _resolve(name: str) -> type:
    module, _, qual = name.partition(":")
    if not module.startswith(ALLOWED_PREFIXES) or not qual:
        raise CodecError(f"stored type {name!r}: only classes under {ALLOWED_PREFIXES} may be decoded")
    obj: Any = importlib.import_module(module)
    for part in qual.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise CodecError(f"stored type {name!r}: no such class")
    if not isinstance(obj, type):
        raise CodecError(f"stored type {name!r}: not a class")
    return obj


def _to_json_slow(v: object) -> object:
    if isinstance(v, enum.Enum):  # before str/int: StrEnum and IntEnum members are strs and ints too
        return {"$e": _class_name(type(v)), "v": v.value}
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, str):
        return str(v)
    if isinstance(v, int):
        return v if type(v) is int else int(v)
    if isinstance(v, float):
        return {"$f": repr(v)}  # keeps nan/inf and the exact value
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating | np.bool_):
        return _to_json(v.item())
    if isinstance(v, tuple) and hasattr(v, "_fields"):
        return _named(v)
    if isinstance(v, tuple):
        return {"$t": [_to_json(x) for x in v]}
    if isinstance(v, list):
        return [_to_json(x) for x in v]
    if isinstance(v, frozenset | set):
        items = [_to_json(x) for x in v]
        return {"$s": sorted(items, key=lambda x: json.dumps(x, sort_keys=True, ensure_ascii=False))}
    if isinstance(v, dt.datetime):
        return {"$dt": v.isoformat()}
    if isinstance(v, dt.date):
        return {"$d": v.isoformat()}
    if isinstance(v, bytes):
        return {"$b": base64.b64encode(v).decode()}
    if isinstance(v, np.ndarray):
        if v.dtype == object:
            raise CodecError("numpy array of dtype object: only numeric/bool/fixed-width arrays can be stored")
        a = np.ascontiguousarray(v)
        return {"$a": a.dtype.str, "shape": list(a.shape), "v": base64.b64encode(a.tobytes()).decode()}
    if isinstance(v, dict):
        bad = [k for k in v if not isinstance(k, str)]
        if bad:
            return {"$m": [[_to_json(k), _to_json(x)] for k, x in sorted(v.items(), key=lambda kv: repr(kv[0]))]}
        return {"$o": {k: _to_json(x) for k, x in sorted(v.items())}}
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return _dataclass(v)
    raise CodecError(f"cannot store a value of type {type(v).__module__}.{type(v).__qualname__}: not a record type")


#: class -> its stored name (a few dozen record classes)
_NAMES: dict[type, str] = {}


def _name(cls: type) -> str:
    n = _NAMES.get(cls)
    if n is None:
        n = _NAMES[cls] = _class_name(cls)
    return n


def _named(v: tuple) -> object:
    return {"$n": _name(type(v)), "v": [x if type(x) in _PLAIN else _to_json(x) for x in v]}


def _dataclass(v: object) -> object:
    return {"$c": _name(type(v)), "v": {n: _to_json(getattr(v, n)) for n in _init_fields(type(v))}}


def _enum(v: enum.Enum) -> object:
    return {"$e": _name(type(v)), "v": v.value}


def _init_fields(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.init)
    return names


_FIELDS: dict[type, tuple[str, ...]] = {}
_PLAIN = (str, int, bool, type(None))
#: per exact type, the encoder (filled on first sight of a type: the hot path is one dict lookup)
_HANDLERS: dict[type, object] = {}


def _to_json(v: object) -> object:
    t = type(v)
    if t in _PLAIN:
        return v
    h = _HANDLERS.get(t)
    if h is None:
        if issubclass(t, enum.Enum):
            h = _enum
        elif issubclass(t, tuple) and hasattr(t, "_fields"):
            h = _named
        elif dataclasses.is_dataclass(t):
            h = _dataclass
        else:
            h = _to_json_slow
        _HANDLERS[t] = h
    return h(v)  # type: ignore[operator]


_SCALARS = (type(None), bool, int, str)


def _from_json(j: object) -> object:
    t = type(j)
    if t in _SCALARS:
        return j
    if t is list:
        return [x if type(x) in _SCALARS else _from_json(x) for x in j]  # type: ignore[attr-defined]
    if t is not dict or len(j) == 0:  # type: ignore[arg-type]
        raise CodecError(f"stored value {j!r}: not a tagged record")
    if "$n" in j:  # type: ignore[operator]
        return _resolve(j["$n"])(*[x if type(x) in _SCALARS else _from_json(x) for x in j["v"]])  # type: ignore[index]
    if "$c" in j:
        return _resolve(j["$c"])(**{k: _from_json(x) for k, x in j["v"].items()})
    if "$e" in j:
        return _resolve(j["$e"])(j["v"])
    if "$t" in j:
        return tuple(_from_json(x) for x in j["$t"])
    if "$s" in j:
        return frozenset(_from_json(x) for x in j["$s"])
    if "$d" in j:
        return dt.date.fromisoformat(j["$d"])
    if "$dt" in j:
        return dt.datetime.fromisoformat(j["$dt"])
    if "$f" in j:
        return float(j["$f"])
    if "$b" in j:
        return base64.b64decode(j["$b"])
    if "$a" in j:
        a = np.frombuffer(base64.b64decode(j["v"]), dtype=np.dtype(j["$a"])).reshape(j["shape"])
        return a  # frombuffer over bytes: read-only, as the services keep their arrays
    if "$o" in j:
        return {k: _from_json(x) for k, x in j["$o"].items()}
    if "$m" in j:
        return {_from_json(k): _from_json(x) for k, x in j["$m"]}  # type: ignore[misc]
    raise CodecError(f"stored value with tags {sorted(j)}: unknown tag")


#: one encoder for every record (json.dumps with options builds a new one per call)
_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False)


def encode(value: object) -> str:
    """A record as canonical JSON text (same value, same text)."""
    return _text(value)


def encode_exact(value: object) -> tuple[str, bool]:
    """:func:`encode`, and whether :func:`decode` of the text gives back a value of the very same types.

    True when every part of ``value`` went through the exact-type writers (ints, strs, bools, None,
    tuples, dates, enum members, named tuples and dataclasses of them): then ``decode(text)`` equals
    ``value`` and is built of the same immutable types, and a reader of ``text`` may be handed
    ``value`` itself. False when any part went the generic way (a list, a dict, a float, a numpy
    scalar or array, a set, bytes): e.g. an ``np.int64`` reads back as an ``int``. Any generic write,
    in any thread, while this one runs also gives False: never a wrong True.
    """
    n = next(_generic_writes)
    text = _text(value)
    return text, next(_generic_writes) == n + 1


# -- the text writer ---------------------------------------------------------------------------------
# ``encode`` writes the records the services keep straight to text, exactly the bytes that
# ``_ENCODER.encode(_to_json(value))`` writes (a test checks it on every record type and on random
# values): building the tagged dicts and handing them to the JSON encoder walked every record twice
# and was about a third of a SQLite batch. Types it has no writer for (floats, sets, arrays, dicts,
# bytes, datetimes, numpy scalars) go through ``_to_json`` and the JSON encoder, as before.

_esc = json.encoder.encode_basestring_ascii  # what _ENCODER writes for a str (ensure_ascii)
_esc_key = json.encoder.encode_basestring  # a key's text: not escaped (see the module's docstring)


#: counts the parts written the generic way (next() on it is atomic): see encode_exact
_generic_writes = itertools.count()


def _via_json(v: object) -> str:
    next(_generic_writes)
    return _ENCODER.encode(_to_json(v))


def _text_none(v: object) -> str:
    return "null"


def _text_bool(v: object) -> str:
    return "true" if v else "false"


def _text_list(v: list) -> str:
    next(_generic_writes)  # a list reads back as a list: mutable, so never handed out as written
    return "[" + ",".join([_text(x) for x in v]) + "]"


def _text_tuple(v: tuple) -> str:  # a str or int member without the writer lookup (as _compile's writers)
    parts = [_esc(x) if type(x) is str else _int(x) if type(x) is int else _text(x) for x in v]
    return '{"$t":[' + ",".join(parts) + "]}"


_int = int.__repr__


class _Texts(dict):
    """Value -> text, filled on first sight; its ``__getitem__`` is the writer (a C call on a hit).
    Past ``limit`` entries a new value is written but not kept."""

    def __init__(self, write: Callable[[Any], str], limit: int) -> None:
        super().__init__()
        self.write, self.limit = write, limit

    def __missing__(self, v: object) -> str:
        s = self.write(v)
        if len(self) < self.limit:
            self[v] = s
        return s


#: a ledger's dates are a campaign's days
_text_date = _Texts(lambda v: '{"$d":"' + v.isoformat() + '"}', 65_536).__getitem__


def _enum_writer(cls: type) -> object:
    # members are singletons, a few per class (a Flag's combinations are made on first sight); a member
    # reads back as itself, so its text is not a generic write (see encode_exact)
    return _Texts(lambda v: _ENCODER.encode(_to_json(v)), 4096).__getitem__


def _compile(head: str, keys: list[str], unpack: str, tail: str, slow: Callable[[Any], str]) -> Callable[[Any], str]:
    """A writer with its fields written out one after another (as ``dataclasses`` builds ``__init__``):
    no loop, and no writer lookup for a str, int or None field. ``unpack`` binds ``x0, x1, ...`` from ``v``;
    ``keys`` are the texts before each field. Only generated names enter the source; the texts are
    passed in as values. At least one field (the callers write empty records with ``slow``)."""
    ns: dict[str, Any] = {"_e": _esc, "_i": int.__repr__, "_t": _text, "_slow": slow, "H": head, "T": tail}
    ns.update({f"K{i}": k for i, k in enumerate(keys)})
    fields = ", ".join(f"K{i}, (_e(x{i}) if type(x{i}) is str else _i(x{i}) if type(x{i}) is int "
                       f"else 'null' if x{i} is None else _t(x{i}))"
                       for i in range(len(keys)))  # fmt: skip
    exec(compile(f"def write(v):\n{unpack}\n    return ''.join((H, {fields}, T))\n", "<codec writer>", "exec"), ns)  # noqa: S102
    return ns["write"]


def _named_writer(cls: type) -> object:
    head = '{"$n":' + _esc(_name(cls)) + ',"v":['

    def slow(v: tuple) -> str:
        return head + ",".join([_text(x) for x in v]) + "]}"

    n = len(cls._fields)  # type: ignore[attr-defined]
    if n == 0:
        return slow
    names = "".join(f"x{i}, " for i in range(n))
    unpack = f"    if len(v) != {n}:\n        return _slow(v)\n    {names}= v"
    return _compile(head, [""] + [","] * (n - 1), unpack, "]}", slow)


def _dataclass_writer(cls: type) -> object:
    fields = tuple((n, _esc(n) + ":") for n in _init_fields(cls))
    head = '{"$c":' + _esc(_name(cls)) + ',"v":{'

    def slow(v: object) -> str:
        return head + ",".join([k + _text(getattr(v, n)) for n, k in fields]) + "}}"

    if not fields or not all(n.isidentifier() and not keyword.iskeyword(n) for n, _ in fields):
        return slow if cls.__dataclass_params__.frozen else _generic(slow)  # type: ignore[attr-defined]
    unpack = "\n".join(f"    x{i} = v.{n}" for i, (n, _) in enumerate(fields))
    keys = [k if i == 0 else "," + k for i, (_, k) in enumerate(fields)]
    write = _compile(head, keys, unpack, "}}", slow)
    # a mutable dataclass reads back as a new object that can be changed: see encode_exact
    return write if cls.__dataclass_params__.frozen else _generic(write)  # type: ignore[attr-defined]


def _generic(write: Callable[[Any], str]) -> Callable[[Any], str]:
    """``write``, counted as a generic write (see :func:`encode_exact`)."""

    def counted(v: object) -> str:
        next(_generic_writes)
        return write(v)

    return counted


#: per exact type, the text writer (filled on first sight of a type)
_WRITERS: dict[type, object] = {
    str: _esc, int: int.__repr__, bool: _text_bool, type(None): _text_none,
    list: _text_list, tuple: _text_tuple, dt.date: _text_date,
}  # fmt: skip


def _text(v: object) -> str:
    w = _WRITERS.get(type(v))
    if w is None:
        t = type(v)
        if issubclass(t, enum.Enum):  # before the others, as in _to_json
            w = _enum_writer(t)
        elif issubclass(t, tuple) and hasattr(t, "_fields"):
            w = _named_writer(t)
        elif dataclasses.is_dataclass(t):
            w = _dataclass_writer(t)
        else:
            w = _via_json
        _WRITERS[t] = w
    return w(v)  # type: ignore[operator]


def decode(text: str | bytes) -> object:
    """The record :func:`encode` wrote; refuses classes outside :data:`ALLOWED_PREFIXES`."""
    if type(text) is str and '"$o"' not in text and '"$m"' not in text:
        # the common case: the JSON parser hands each object to _hook as it closes, so Python
        # touches the tagged objects only, not every scalar (a third of a SQLite batch's reads)
        try:
            v = _DECODER.decode(text)
        except json.JSONDecodeError as e:
            raise CodecError(f"stored value is not JSON: {e}") from None
        if type(v) is dict:  # an object without a tag, at the top
            raise CodecError(f"stored value {v!r}: not a tagged record")
        return v
    # a dict ("$o": any str key, a tag's name too; "$m": pairs) is read the long way
    try:
        j = json.loads(text)
    except json.JSONDecodeError as e:
        raise CodecError(f"stored value is not JSON: {e}") from None
    return _from_json(j)


def _hook(j: dict) -> object:
    """One JSON object, its members already read: a tagged value becomes its record; an object without
    a tag (the fields of a "$c") is left for the tag around it. Same rules as :func:`_from_json`."""
    if "$n" in j:
        return _resolve(j["$n"])(*j["v"])
    if "$c" in j:
        fields = j["v"]
        if type(fields) is not dict:
            raise CodecError(f"stored value {j!r}: the fields of a record must be an object")
        return _resolve(j["$c"])(**fields)
    if "$e" in j:
        key = (j["$e"], j["v"])
        member = _MEMBERS.get(key)
        if member is None:
            member = _MEMBERS[key] = _resolve(j["$e"])(j["v"])
        return member
    if "$d" in j:
        return _date(j["$d"])
    if "$t" in j:
        return tuple(j["$t"])
    if "$s" in j:
        return frozenset(j["$s"])
    if "$dt" in j or "$f" in j or "$b" in j or "$a" in j:  # their members are plain: as _from_json reads them
        return _from_json(j)
    if j and next(iter(j))[:1] == "$":  # the tag is a tagged object's first key (encode writes it first)
        raise CodecError(f"stored value with tags {sorted(j)}: unknown tag")
    return j


#: (enum class name, value) -> member: a few dozen, looked up without the Enum call
_MEMBERS: dict[tuple[str, object], enum.Enum] = {}
_DATE_TEXT: dict[str, dt.date] = {}


def _date(text: str) -> dt.date:
    d = _DATE_TEXT.get(text)
    if d is None:
        d = dt.date.fromisoformat(text)
        if len(_DATE_TEXT) < 65_536:
            _DATE_TEXT[text] = d
    return d


def _no_float(text: str) -> object:
    raise CodecError(f"stored value {text}: a bare number with a fraction (floats are stored tagged)")


_DECODER = json.JSONDecoder(object_hook=_hook, parse_float=_no_float, parse_constant=_no_float)


def _key_json(key: Hashable) -> object:
    if isinstance(key, bool) or not isinstance(key, int | str | tuple | np.integer):
        raise CodecError(f"key {key!r}: keys must be ints, strings or tuples of them (got {type(key).__name__})")
    if isinstance(key, np.integer):
        return int(key)
    if isinstance(key, tuple):
        return [_key_json(k) for k in key]
    return key


def encode_key(key: Hashable) -> str:
    """A key as canonical JSON text: ``7`` -> ``7``, ``"a"`` -> ``"a"``, ``(1, 2)`` -> ``[1,2]``."""
    if type(key) is int:  # the common case, as json.dumps writes it
        return str(key)
    if type(key) is str:  # what json.dumps(key, ensure_ascii=False) writes, without building an encoder
        return _esc_key(key)
    if type(key) is tuple and all(type(k) is int for k in key):  # e.g. (batch, household): as json.dumps
        return "[" + ",".join([_int(k) for k in key]) + "]"
    return json.dumps(_key_json(key), ensure_ascii=False, separators=(",", ":"))


def _key_back(j: object) -> Hashable:
    return tuple(_key_back(x) for x in j) if isinstance(j, list) else j  # type: ignore[return-value]


def decode_key(text: str) -> Hashable:
    return _key_back(json.loads(text))
