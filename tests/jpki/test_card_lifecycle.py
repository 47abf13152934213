"""The card's life as a state machine: allowed moves, PIN rules, and the certificates each move ends."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.services.card_lifecycle import (
    TRANSITIONS,
    CardError,
    CardLifecycle,
    CardState,
    ForbiddenTransitionError,
    InvalidPinError,
    UnknownCardError,
    card_expiry,
    check_auth_pin,
    check_sign_password,
    check_support_pin,
)
from twin.services.jpki import BasicInfo, CertState, Jpki, RevocationReason

DAY = timedelta(days=1)
PINS = {"auth_pin": "1234", "support_pin": "5678", "sign_password": "ABC123"}


@pytest.fixture
def life(jpki) -> CardLifecycle:
    return CardLifecycle(jpki)


def issue(life, info, now, key, person="p-1", **kwargs):
    card = life.apply(person, info, 13101, now, **kwargs)
    life.produce(card.card_id, now + DAY, key.public_key(), key.public_key())
    life.ship(card.card_id, now + 2 * DAY)
    return life.hand_over(card.card_id, now + 10 * DAY, **PINS)


def states(life, card, now):
    c = life.card(card.card_id)
    return [life.jpki.status(s, now).state for s in (c.auth_serial, c.sign_serial)]


def test_the_happy_path_issues_two_certificates_and_records_every_step(life, info, now, holder_key):
    card = issue(life, info, now, holder_key)
    assert card.state is CardState.ACTIVE
    assert [e.action for e in card.history] == ["produce", "ship", "hand_over"]
    assert states(life, card, now + 10 * DAY) == [CertState.GOOD, CertState.GOOD]
    assert card.issued_on == date(2026, 4, 2) and card.expires_on == date(2036, 2, 17)  # adult: 10th birthday


def test_minors_get_a_five_year_card_and_no_signature_certificate_under_15(life, now, holder_key):
    child = BasicInfo("山田花子", "東京都", date(2015, 6, 1), "2")
    card = life.apply("kid", child, 13101, now)
    card = life.produce(card.card_id, now, holder_key.public_key(), holder_key.public_key())
    assert card.sign_serial is None and card.expires_on == date(2030, 6, 1)  # 5th birthday after
    life.ship(card.card_id, now)
    card = life.hand_over(card.card_id, now, auth_pin="1234", support_pin="1234")  # no signature password
    assert card.state is CardState.ACTIVE
    with pytest.raises(CardError, match="has no signature certificate"):
        life.reset_pin(card.card_id, "sign", "ABC123", now)


@pytest.mark.parametrize(
    ("birth", "issued", "expires"),
    [
        (date(2006, 4, 2), date(2026, 4, 1), date(2030, 4, 2)),  # 19 on the issue day: minor, 5 birthdays
        (date(2006, 4, 1), date(2026, 4, 1), date(2036, 4, 1)),  # 20 that day: 10 birthdays
    ],
)
def test_card_validity_depends_on_age_twenty_on_the_issue_day(birth, issued, expires):
    assert card_expiry(birth, issued) == expires


def test_forbidden_moves_are_refused_naming_the_state_and_the_allowed_ones(life, info, now, holder_key):
    card = life.apply("p-1", info, 13101, now)
    with pytest.raises(ForbiddenTransitionError, match=f"card {card.card_id}: cannot ship a card that is applied; "
                                                       "allowed from: produced"):  # fmt: skip
        life.ship(card.card_id, now)
    with pytest.raises(ForbiddenTransitionError, match="cannot report loss a card that is applied"):
        life.report_loss(card.card_id, now)
    active = issue(life, info, now, holder_key, person="p-2")
    life.return_card(active.card_id, now + 20 * DAY)
    with pytest.raises(ForbiddenTransitionError, match="that is retired"):
        life.resume(active.card_id, now + 21 * DAY)
    with pytest.raises(UnknownCardError, match="card 'nope': no such card"):
        life.card("nope")


def test_loss_suspends_the_card_and_revokes_both_certificates(life, info, now, holder_key):
    card = issue(life, info, now, holder_key)
    at = now + 30 * DAY
    card = life.report_loss(card.card_id, at)
    assert card.state is CardState.SUSPENDED
    assert states(life, card, at) == [CertState.REVOKED, CertState.REVOKED]
    assert life.jpki.status(card.auth_serial, at).reason is RevocationReason.LOSS
    card = life.resume(card.card_id, at + DAY)  # found again: works, but needs new certificates
    assert card.state is CardState.ACTIVE
    card = life.renew_certificates(card.card_id, at + DAY, holder_key.public_key(), holder_key.public_key())
    assert states(life, card, at + DAY) == [CertState.GOOD, CertState.GOOD]


def test_a_change_of_basic_items_ends_only_the_signature_certificate(life, info, now, holder_key):
    card = issue(life, info, now, holder_key)
    moved = BasicInfo(info.name, "大阪府大阪市中央区大手前１丁目", info.birth_date, info.sex)
    at = now + 40 * DAY
    card = life.change_basic_info(card.card_id, moved, at)
    assert card.info.address.startswith("大阪府") and card.sign_serial is None and card.state is CardState.ACTIVE
    assert life.jpki.status(card.auth_serial, at).is_good
    old_sign = life.jpki.certificates_of("p-1")[1]
    assert (
        old_sign.ca.value == "sign"
        and life.jpki.status(old_sign.serial, at).reason is RevocationReason.BASIC_INFO_CHANGED
    )


def test_a_replacement_card_retires_the_old_one_at_handover(life, info, now, holder_key):
    old = issue(life, info, now, holder_key)
    new = issue(life, info, now + 100 * DAY, holder_key, replaces=old.card_id)
    old = life.card(old.card_id)
    assert old.state is CardState.RETIRED and old.retired_because == "replaced"
    assert life.jpki.status(old.sign_serial, now + 110 * DAY).reason is RevocationReason.RENEWAL
    assert states(life, new, now + 110 * DAY) == [CertState.GOOD, CertState.GOOD]
    with pytest.raises(CardError, match="belongs to someone else"):
        life.apply("p-9", info, 13101, now, replaces=new.card_id)


def test_death_retires_every_card_and_revokes_every_certificate(life, info, now, holder_key):
    card = issue(life, info, now, holder_key)
    pending = life.apply("p-1", info, 13101, now + 50 * DAY)
    done = life.record_death("p-1", now + 60 * DAY)
    assert {c.card_id for c in done} == {card.card_id, pending.card_id}
    assert all(life.card(c.card_id).retired_because == "death" for c in done)
    assert states(life, card, now + 60 * DAY) == [CertState.REVOKED, CertState.REVOKED]


def test_cards_past_their_expiry_retire(life, info, now, holder_key):
    card = issue(life, info, now, holder_key)
    assert life.expire_due(now + 365 * DAY) == []
    (expired,) = life.expire_due(now + 3700 * DAY)
    assert expired.card_id == card.card_id and expired.retired_because == "expired"


def test_a_locked_pin_is_reset_at_the_counter(life, info, now, holder_key):
    card = issue(life, info, now, holder_key)
    card = life.lock_pin(card.card_id, "auth", now + 20 * DAY)
    assert card.locked_pins == {"auth"}
    with pytest.raises(InvalidPinError):
        life.reset_pin(card.card_id, "auth", "12a4", now + 21 * DAY)
    card = life.reset_pin(card.card_id, "auth", "9876", now + 21 * DAY)
    assert card.locked_pins == frozenset()
    with pytest.raises(CardError, match="PIN kind: 'pin' is not allowed"):
        life.reset_pin(card.card_id, "pin", "9876", now)


def test_a_ledger_that_lost_the_cards_issuance_never_has_someone_elses_certificate_revoked(
    infra_keys, info, now, holder_key
):
    """After a takeover that lost the card's certificate, its serial may be reissued to another holder."""
    life = CardLifecycle(Jpki.bootstrap(now, infra_keys))
    card = issue(life, info, now, holder_key)
    survivor = Jpki.bootstrap(now, infra_keys)  # the standby's ledger never received the card's certificate
    other = survivor.issue_auth_certificate(holder_key.public_key(), info.birth_date, now + 11 * DAY, 13101,
                                            person_ref="p-2")  # fmt: skip
    assert other.serial_number == card.auth_serial  # the serial was handed out again
    life.jpki = survivor
    card = life.report_loss(card.card_id, now + 12 * DAY)
    assert card.state is CardState.SUSPENDED
    assert survivor.status(other.serial_number, now + 12 * DAY).is_good


@pytest.mark.parametrize("pin", ["123", "12345", "12a4", "１２３４", ""])
def test_auth_and_support_pins_are_exactly_four_digits(pin):
    with pytest.raises(InvalidPinError, match="must be exactly 4 digits"):
        check_auth_pin(pin)
    with pytest.raises(InvalidPinError, match="input-support PIN"):
        check_support_pin(pin)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("AB12", "must be 6-16 characters"),
        ("A1" * 9, "must be 6-16 characters"),
        ("abc123", "only upper-case letters A-Z and digits"),
        ("ABC 123", "only upper-case letters A-Z and digits"),
        ("ABCDEF", "at least one letter and at least one digit"),
        ("123456", "at least one letter and at least one digit"),
    ],
)
def test_the_signature_password_rule(password, message):
    with pytest.raises(InvalidPinError, match=message):
        check_sign_password(password)


@given(st.text(min_size=4, max_size=20))
def test_no_pin_error_ever_repeats_the_pin(secret):
    for check in (check_auth_pin, check_support_pin, check_sign_password):
        try:
            check(secret)
        except InvalidPinError as error:
            message = str(error)
            assert secret not in message or secret in _TEMPLATE_TEXT


_TEMPLATE_TEXT = (
    "auth PIN (利用者証明用暗証番号): must be exactly 4 digits 0-9 (got 20 characters, value not shown) "
    "input-support PIN (券面事項入力補助用暗証番号) signature password (署名用パスワード): must be 6-16 characters "
    "only upper-case letters A-Z and digits 0-9 are allowed needs at least one letter and at least one digit"
)


@given(st.from_regex(r"[A-Z0-9]{6,16}", fullmatch=True))
def test_every_password_with_a_letter_and_a_digit_is_accepted(password):
    has_both = any(c.isdigit() for c in password) and any(c.isalpha() for c in password)
    try:
        check_sign_password(password)
        assert has_both
    except InvalidPinError:
        assert not has_both


ACTIONS = sorted(TRANSITIONS)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(ACTIONS), max_size=12))
def test_any_sequence_of_actions_keeps_the_certificates_consistent_with_the_card(
    infra_keys, info, now, holder_key, actions
):
    """Invariant: a card that is not active never has a good certificate, and only allowed moves happen."""
    jpki = Jpki.bootstrap(now, infra_keys)
    life = CardLifecycle(jpki)
    card = life.apply("p-x", info, 13101, now)
    at = now
    key = holder_key.public_key()
    calls = {
        "produce": lambda c: life.produce(c, at, key, key),
        "ship": lambda c: life.ship(c, at),
        "hand_over": lambda c: life.hand_over(c, at, **PINS),
        "report_loss": lambda c: life.report_loss(c, at),
        "suspend": lambda c: life.suspend(c, at),
        "resume": lambda c: life.resume(c, at),
        "reset_pin": lambda c: life.reset_pin(c, "auth", "4321", at),
        "lock_pin": lambda c: life.lock_pin(c, "support", at),
        "renew_certificates": lambda c: life.renew_certificates(c, at, key, key),
        "change_basic_info": lambda c: life.change_basic_info(c, info, at),
        "return_card": lambda c: life.return_card(c, at),
        "record_death": lambda c: life.record_death("p-x", at),
        "replace": None,
        "expire": lambda c: life.expire_due(at),
    }
    for action in actions:
        at = at + DAY
        before = life.card(card.card_id).state
        allowed, _ = TRANSITIONS[action]
        if calls[action] is None:
            continue
        try:
            calls[action](card.card_id)
        except ForbiddenTransitionError:
            assert before not in allowed
        else:
            assert action in ("expire", "record_death") or before in allowed  # person-wide, idempotent
        current = life.card(card.card_id)
        good = [s for s in (current.auth_serial, current.sign_serial) if s and jpki.status(s, at).is_good]
        if current.state in (CardState.SUSPENDED, CardState.RETIRED):
            assert good == []
