"""The seeded key source: same seed and index, same key, on every machine and from the disk cache."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from twin.services.jpki import KeySource
from twin.services.jpki import keys as keys_module
from twin.services.jpki.keys import derive_key

# 1024-bit keys keep these tests fast; the derivation is the same for every size.


def _numbers(key):
    return key.private_numbers()


def test_a_derived_key_is_a_working_rsa_key_with_e_65537_and_exact_size():
    key = derive_key(11, 0, 1024)
    assert key.key_size == 1024
    assert key.public_key().public_numbers().e == 65537
    signature = key.sign(b"message", padding.PKCS1v15(), hashes.SHA256())
    key.public_key().verify(signature, b"message", padding.PKCS1v15(), hashes.SHA256())


def test_same_seed_and_index_give_the_same_key_and_others_differ():
    assert _numbers(derive_key(11, 0, 1024)) == _numbers(derive_key(11, 0, 1024))
    assert (
        derive_key(11, 1, 1024).public_key().public_numbers().n
        != derive_key(11, 0, 1024).public_key().public_numbers().n
    )
    assert (
        derive_key(12, 0, 1024).public_key().public_numbers().n
        != derive_key(11, 0, 1024).public_key().public_numbers().n
    )


def test_the_disk_cache_returns_exactly_the_derived_key(tmp_path, monkeypatch):
    source = KeySource(13, cache_dir=tmp_path, bits=1024)
    first = source.key(0)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].stat().st_mode & 0o777 == 0o600
    monkeypatch.setattr(keys_module, "_MEMORY", {})  # forget the in-process copy: read the file back
    again = KeySource(13, cache_dir=tmp_path, bits=1024).key(0)
    assert _numbers(again) == _numbers(first) == _numbers(derive_key(13, 0, 1024))


def test_a_damaged_cache_file_is_derived_again(tmp_path, monkeypatch):
    KeySource(14, cache_dir=tmp_path, bits=1024).key(0)
    (path,) = tmp_path.iterdir()
    path.write_bytes(b"not a key")
    monkeypatch.setattr(keys_module, "_MEMORY", {})
    assert _numbers(KeySource(14, cache_dir=tmp_path, bits=1024).key(0)) == _numbers(derive_key(14, 0, 1024))


def test_generate_walks_the_indices_and_a_pool_cycles():
    plain = KeySource(15, cache_dir=None, bits=1024)
    assert [_numbers(plain.generate()) for _ in range(2)] == [_numbers(plain.key(0)), _numbers(plain.key(1))]
    pool = KeySource(15, cache_dir=None, bits=1024, pool_size=2)
    got = [pool.generate().public_key().public_numbers().n for _ in range(4)]
    assert got[0] == got[2] and got[1] == got[3] and got[0] != got[1]


def test_named_keys_are_outside_the_numbered_sequence():
    source = KeySource(16, cache_dir=None, bits=1024)
    named = source.named("auth-ca").public_key().public_numbers().n
    assert named != source.key(0).public_key().public_numbers().n
    assert named == KeySource(16, cache_dir=None, bits=1024).named("auth-ca").public_key().public_numbers().n


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": -1}, "seed: -1 is not allowed"),
        ({"seed": "x"}, "seed: 'x' is not allowed"),
        ({"seed": 1, "pool_size": 0}, "pool_size: 0 is not allowed"),
        ({"seed": 1, "bits": 1000}, "bits: 1000 is not allowed"),
    ],
)
def test_bad_key_source_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        KeySource(**kwargs)


def test_the_key_source_never_shows_key_material():
    source = KeySource(17, cache_dir=None, bits=1024)
    source.generate()
    assert repr(source) == "KeySource(seed=17, bits=1024, pool_size=None, next=1)"


def test_named_keys_have_their_own_cache_files_and_safe_labels(tmp_path):
    source = KeySource(18, cache_dir=tmp_path, bits=1024)
    source.named("auth-ca")
    source.key(0)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "v1-rsa1024-seed18-0.der",
        "v1-rsa1024-seed18-named-auth-ca.der",
    ]
    for label in ("7", "../x", "Auth", ""):
        with pytest.raises(ValueError, match="key label: .* is not allowed"):
            source.named(label)
