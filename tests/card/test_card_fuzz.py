"""Fuzzing the card OS with random and mutated APDUs (hypothesis): whatever a terminal sends,
the card answers a valid status word, never raises, never raises a retry counter except by a
right VERIFY, and never hands out private-key material (invariants in fuzzing.py)."""

from __future__ import annotations

import numpy as np
import pytest
from card_helpers import personalisation
from fuzzing import InvariantChecker, corpus, mutate
from hypothesis import given, settings
from hypothesis import strategies as st

from emulators.card_os import MynaCardOS

PERSO = personalisation()
CORPUS = corpus(PERSO)


def fresh_checker() -> InvariantChecker:
    card = MynaCardOS(PERSO)
    card.powerUp()
    return InvariantChecker(card, PERSO)


def _flip(data: st.DataObject, apdu: bytes) -> bytes:
    if not apdu or not data.draw(st.booleans()):
        return apdu
    i = data.draw(st.integers(0, len(apdu) - 1))
    return apdu[:i] + bytes((data.draw(st.integers(0, 255)),)) + apdu[i + 1 :]


apdus = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(CORPUS),
    st.builds(lambda head, body: head + body, st.binary(min_size=4, max_size=4), st.binary(max_size=12)),
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(apdus, min_size=1, max_size=40), st.data())
def test_sequences_of_random_and_client_apdus_keep_the_invariants(sequence, data):
    checker = fresh_checker()
    for apdu in sequence:
        checker.run(_flip(data, apdu))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(CORPUS), st.integers(0, 2**32 - 1)), min_size=1, max_size=30))
def test_mutated_client_apdus_keep_the_invariants(steps):
    checker = fresh_checker()
    for apdu, seed in steps:
        checker.run(mutate(apdu, np.random.default_rng(seed)))


def test_checker_catches_a_card_that_leaks_or_raises_a_counter():
    """The invariants are not vacuous: a broken card fails them."""
    checker = fresh_checker()

    class Leaky(MynaCardOS):
        def execute(self, apdu: bytes) -> bytes:
            n = PERSO.auth_key.private_numbers().p
            return n.to_bytes(128, "big") + b"\x90\x00"

    leaky = Leaky(PERSO)
    with pytest.raises(AssertionError, match="private key material"):
        InvariantChecker(leaky, PERSO).run(bytes.fromhex("00B0000000"))

    pin = checker.pins[0]
    pin.tries_left -= 1
    real_execute = checker.card.execute

    def raise_counter(apdu: bytes) -> bytes:
        pin.tries_left = pin.max_tries  # a counter reset by a non-VERIFY command
        return real_execute(apdu)

    checker.card.execute = raise_counter  # type: ignore[method-assign]
    with pytest.raises(AssertionError, match="counter rose"):
        checker.run(bytes.fromhex("00B0000004"))
