"""An insurer's change reaches the network's copy at the next refresh, and not before.

Specification: when the insurer ends a qualification (資格喪失, ``twin.services.linkage.end_insurance``), the insurers'
book holds the end at once, so a clinic's eligibility check is refused from the day after the last day; the insurer's
business system records the qualification again (``record_insurance``) and the intermediate server's copy follows at
the body's next refresh. Until then a linkage answer is the old copy ("insured", no last day) with its age: the stale
copy, the modelled failure. After the refresh the copy's last day is the one the book holds, and a clinic's check on
that day answers the same dates. On a network with a refresh schedule (the served worlds': nightly at 02:00 JST) the
refresh is the first scheduled one after the change, run when a query dated at or after it comes; a night with
nothing recorded registers nothing. Every message between bodies is checked for My Numbers.
"""

from __future__ import annotations

import datetime as dt

import pytest
from linkage_world import JST, KYOKAI, TOWN, World, at

from twin.services.eligibility import EligibilityError, EligibilityService, PersonFacts, QualificationBook, worlds
from twin.services.linkage import (
    AnswerMessage,
    InformationNetwork,
    InsuranceQualification,
    end_insurance,
    nightly_refresh,
    record_insurance,
)

SEEDED = at(2026, 4, 1, 2)  # the copies' refresh before the change
LAST_DAY = dt.date(2026, 6, 5)  # the qualification's last day (資格喪失日の前日)
CHANGED = at(2026, 6, 10, 15)  # the insurer records the loss, five days later (the 資格喪失届's days)


@pytest.fixture
def world():
    w = World(households=10)
    yield w
    assert w.leaks == [], f"My Numbers crossed between bodies: {w.leaks}"


def insure(world: World, network: InformationNetwork) -> tuple[QualificationBook, str]:
    """Person 0 insured with 協会けんぽ by the worlds' rule (open-ended), her copy refreshed at SEEDED."""
    book = QualificationBook(world.store)
    facts = PersonFacts("住民\u30000", dt.date(1980, 5, 1), "1")
    book.load_initial([worlds.world_qualification(0, facts, "resident-0")])
    number = world.numbers[0]
    record_insurance(network, number, book.linked_to("resident-0"))
    network.agency(KYOKAI).refresh(SEEDED)
    return book, number


def ask(world: World, network: InformationNetwork, when: dt.datetime) -> AnswerMessage:
    code = network.agency(TOWN).code_for(world.numbers[0])
    a = network.query(TOWN, code, "public_assistance", KYOKAI, "health_insurance", when)
    assert isinstance(a, AnswerMessage) and a.found, a
    assert isinstance(a.value, InsuranceQualification)
    return a


def clinic(book: QualificationBook, when: dt.datetime) -> tuple[dt.date, dt.date | None] | str:
    """A clinic's check by insured number at ``when``: the dates it answers, or the refusal's code."""
    (q,) = book.linked_to("resident-0")
    try:
        a = EligibilityService(book, None).check_by_number(*q.key, q.holder.birth_date, when)  # type: ignore[arg-type]
    except EligibilityError as e:
        return e.code
    return a.valid_from, a.valid_until


def scheduled(world: World) -> InformationNetwork:
    """The world's network as the served worlds build theirs: every body refreshes nightly (02:00 JST)."""
    net = InformationNetwork(world.store, world.link.directory, world.link.issuer, world.codes,
                             refresh_schedule=nightly_refresh)  # fmt: skip
    net.taps.append(world._check)
    return net


def test_an_ended_qualification_reaches_the_copy_at_the_next_refresh_and_is_stale_until_then(world: World) -> None:
    net = world.network  # the models' network: copies change when the caller refreshes them
    book, number = insure(world, net)
    before = ask(world, net, CHANGED - dt.timedelta(hours=1)).value
    assert before.valid_until is None and clinic(book, CHANGED) == (before.valid_from, None)

    ended = end_insurance(net, book, number, (worlds.INSURER, "70000", "00"), LAST_DAY, CHANGED)
    assert ended.valid_until == LAST_DAY == book.get(ended.key).valid_until
    # the book holds the end at once: the clinic refuses her; the network still answers the old copy, with its age
    later = CHANGED + dt.timedelta(hours=2)
    assert clinic(book, later) == "no_qualification"
    stale = ask(world, net, later)
    assert stale.value == before and stale.value.valid_until is None
    assert stale.refreshed_at == SEEDED and stale.age == later - SEEDED > dt.timedelta(days=70)

    refreshed = at(2026, 6, 11, 2)
    net.agency(KYOKAI).refresh(refreshed)
    fresh = ask(world, net, at(2026, 6, 11, 9))
    assert fresh.value.valid_until == LAST_DAY and fresh.refreshed_at == refreshed
    assert fresh.age == dt.timedelta(hours=7) and fresh.as_of == fresh.value.valid_from
    # the copy and a clinic's check name the same dates: answered on the last day, refused the day after
    last = dt.datetime.combine(LAST_DAY, dt.time(23, 59, 59), JST)
    assert clinic(book, last) == (fresh.value.valid_from, fresh.value.valid_until)
    assert clinic(book, last + dt.timedelta(seconds=1)) == "no_qualification"


def test_on_a_nightly_schedule_the_copy_follows_at_the_first_02_00_after_the_change(world: World) -> None:
    net = scheduled(world)
    book, number = insure(world, net)
    end_insurance(net, book, number, (worlds.INSURER, "70000", "00"), LAST_DAY, CHANGED)
    kyokai = net.agency(KYOKAI)
    assert kyokai.pending_since() == CHANGED
    night = at(2026, 6, 11, 2)
    stale = ask(world, net, night - dt.timedelta(seconds=1))
    assert stale.value.valid_until is None and stale.refreshed_at == SEEDED
    assert stale.age == night - dt.timedelta(seconds=1) - SEEDED
    fresh = ask(world, net, night)  # the night's refresh was due: run as at 02:00, so the copy's age is 0
    assert fresh.value.valid_until == LAST_DAY and fresh.refreshed_at == night and fresh.age == dt.timedelta(0)
    assert kyokai.pending_since() is None
    # a night with nothing recorded registers nothing: the copy keeps its time
    assert ask(world, net, at(2026, 6, 13, 9)).refreshed_at == night
    # the same end again (a retry) is no change; another last day is, and waits for the next night
    end_insurance(net, book, number, (worlds.INSURER, "70000", "00"), LAST_DAY, at(2026, 6, 13, 10))
    assert kyokai.pending_since() is None
    corrected = dt.date(2026, 6, 7)
    end_insurance(net, book, number, (worlds.INSURER, "70000", "00"), corrected, at(2026, 6, 13, 11))
    assert ask(world, net, at(2026, 6, 13, 12)).value.valid_until == LAST_DAY
    again = ask(world, net, at(2026, 6, 14, 2))
    assert again.value.valid_until == corrected and again.refreshed_at == at(2026, 6, 14, 2)
    last = dt.datetime.combine(corrected, dt.time(23, 59, 59), JST)
    assert clinic(book, last) == (again.value.valid_from, corrected)


def test_an_end_the_book_refuses_records_nothing(world: World) -> None:
    net = scheduled(world)
    book, number = insure(world, net)
    for key, day, code in [((worlds.INSURER, "79999", "00"), LAST_DAY, "unknown_insured"),
                           ((worlds.INSURER, "70000", "00"), dt.date(2020, 3, 31), "bad_period")]:  # fmt: skip
        with pytest.raises(EligibilityError) as e:
            end_insurance(net, book, number, key, day, CHANGED)
        assert e.value.code == code
    assert net.agency(KYOKAI).pending_since() is None and book.get((worlds.INSURER, "70000", "00")).valid_until is None
    assert ask(world, net, at(2026, 6, 12)).value.valid_until is None


def test_the_nightly_refresh_is_the_first_02_00_jst_after_the_change() -> None:
    assert nightly_refresh(at(2026, 6, 10, 1)) == at(2026, 6, 10, 2)
    assert nightly_refresh(at(2026, 6, 10, 2)) == at(2026, 6, 11, 2)  # the night's batch has begun: the next one
    assert nightly_refresh(dt.datetime(2026, 6, 10, 17, 30, tzinfo=dt.UTC)) == at(2026, 6, 12, 2)  # 02:30 JST


def test_the_nightly_refresh_registers_the_changes_only(world: World) -> None:
    """差分登録: the night's batch registers what changed since the last one; another resident's copy at the same
    body keeps its refresh time (a whole-table refresh would stamp every copy with the night)."""
    net = scheduled(world)
    book, number = insure(world, net)
    other = worlds.world_qualification(1, PersonFacts("住民\u30001", dt.date(1985, 1, 1), "2"), "resident-1")
    record_insurance(net, world.numbers[1], [other])
    net.agency(KYOKAI).refresh(SEEDED)
    end_insurance(net, book, number, (worlds.INSURER, "70000", "00"), LAST_DAY, CHANGED)
    night = at(2026, 6, 11, 2)
    assert ask(world, net, night).refreshed_at == night
    code = net.agency(TOWN).code_for(world.numbers[1])
    a = net.query(TOWN, code, "public_assistance", KYOKAI, "health_insurance", night + dt.timedelta(hours=1))
    assert isinstance(a, AnswerMessage) and a.found and a.value.insured_number == "70001"
    assert a.refreshed_at == SEEDED  # not registered again: nothing of hers changed
