"""A sample of the rollout's cards lived through the real card lifecycle and JPKI.

The rollout keeps counts; it says how many cards are handed over each day, how many PINs the counters
reset and how many holders die, not what that does to the card register and the certificate authority.
Here ``sample`` cards are drawn by the run's daily hand-overs and each one is lived through
:class:`~twin.services.card_lifecycle.CardLifecycle` on a real :class:`~twin.services.jpki.Jpki`:

* **issuance**: applied, produced, shipped and handed over on the days the run's chain gives it: handed
  over on the drawn day, produced ``wait_counter_days`` (that day's mean counter wait) plus
  ``production.shipping_days`` before, applied ``wait_production_days`` (the production day's mean wait)
  before that. The lifecycle issues the certificates and sets the validity;
* **PIN resets at the counter**: after the hand-over a card's PIN locks at the run's daily rate of PIN
  resets served per holder, and the counter resets it (``lock_pin`` then ``reset_pin``);
* **deaths**: the holder dies at the run's daily rate of holder deaths per holder (``record_death``:
  the card retires and its live certificates are revoked; a certificate that had already expired, five
  years after issue, is not: the sample does not renew certificates, and the CA answers about an expired
  one as it stood, so it counts as expired, not as good).

Holders are adults of an assumed age (20-80, evenly: the run's hand-overs are not split by age here).
What is reported is counted from the lifecycle and the CA: certificates issued and revoked per card,
PIN resets and deaths per card, scaled to the run's hand-overs; tests hold the sample's rates to the
run's own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

JST = dt.timezone(dt.timedelta(hours=9))
KEY_SEED = 2016
PINS = {"auth_pin": "1357", "support_pin": "2468", "sign_password": "ROLL2016"}  # synthetic, never kept


@dataclass
class IssuanceSample:
    cards: int = 0
    certificates_issued: int = 0
    revoked_death: int = 0
    expired_before_death: int = 0  # a dead holder's certificates that had lapsed before the death
    pin_resets: int = 0
    deaths: int = 0
    active_at_end: int = 0
    issued_total: float = 0.0  # the run's hand-overs (national)
    expected_pin_resets: float = 0.0  # the run's rates summed over the sampled cards' days in hand
    expected_deaths: float = 0.0
    violations: list[str] = field(default_factory=list)
    life: Any = field(default=None, repr=False)

    def per_card(self, what: str) -> float:
        return getattr(self, what) / self.cards if self.cards else float("nan")

    def national(self, what: str) -> float:
        return self.per_card(what) * self.issued_total


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), JST)


def of_run(r: Any, shipping_days: int, sample: int = 200, seed: int = 0) -> IssuanceSample | None:
    """``sample`` cards of one RolloutResult through the lifecycle (None if the run hands over none)."""
    from twin.services.card_lifecycle import CardLifecycle, CardState
    from twin.services.jpki import BasicInfo, Jpki, KeySource, RevocationReason

    d, scale, day0 = r.daily, r.scale, r.day0
    issued = np.nan_to_num(d["issued"]) / scale
    if sample <= 0 or issued.sum() <= 0:
        return None
    holders = d["holders"] / scale
    with np.errstate(invalid="ignore", divide="ignore"):
        reset_rate = np.where(holders > 0, np.nan_to_num(d["pin_resets_served"]) / scale / holders, 0.0)
        death_rate = np.where(holders > 0, np.nan_to_num(d["holder_deaths"]) / scale / holders, 0.0)
    rng = np.random.default_rng(seed)
    keys = KeySource(KEY_SEED, pool_size=8)  # disk-cached keys: no RSA generation per card
    jpki = Jpki.bootstrap(_at(day0 - dt.timedelta(days=400)), keys)
    life = CardLifecycle(jpki)
    out = IssuanceSample(issued_total=float(issued.sum()), life=life)
    n = issued.size
    end = _at(day0 + dt.timedelta(days=n - 1), 23)
    days = np.sort(rng.choice(n, size=sample, p=issued / issued.sum()))
    for i, k in enumerate(days.tolist()):
        handed = day0 + dt.timedelta(days=k)
        counter = int(round(np.nan_to_num(d["wait_counter_days"][k])))
        produced_k = max(k - counter - shipping_days, 0)
        waited = int(round(np.nan_to_num(d["wait_production_days"][produced_k])))
        produced = day0 + dt.timedelta(days=produced_k)
        applied = produced - dt.timedelta(days=max(waited, 1))
        age = int(rng.integers(20, 81))  # assumed
        born = dt.date(handed.year - age, 1 + int(rng.integers(0, 12)), 1 + int(rng.integers(0, 28)))
        person = f"holder-{i}"
        info = BasicInfo(f"交付{i}", "東京都千代田区千代田１番", born, "12"[i % 2])
        card = life.apply(person, info, 131016, _at(applied))
        life.produce(card.card_id, _at(produced, 9), keys.generate().public_key(), keys.generate().public_key())
        life.ship(card.card_id, _at(produced, 18))
        card = life.hand_over(card.card_id, _at(handed, 11), **PINS)
        out.cards += 1
        serials = [s for s in (card.auth_serial, card.sign_serial) if s is not None]
        out.certificates_issued += len(serials)
        # after the hand-over: deaths and PIN lock-outs day by day at the run's rates
        after = np.arange(k + 1, n)
        out.expected_deaths += float(death_rate[after].sum())
        died = np.flatnonzero(rng.random(after.size) < death_rate[after])
        last = after[died[0]] if died.size else n
        live = np.arange(k + 1, last)
        out.expected_pin_resets += float(reset_rate[live].sum())
        for t in np.flatnonzero(rng.random(live.size) < reset_rate[live]).tolist():
            on = day0 + dt.timedelta(days=int(live[t]))
            life.lock_pin(card.card_id, "auth", _at(on, 8))
            life.reset_pin(card.card_id, "auth", "8642", _at(on, 14))  # synthetic, never kept
        if died.size:
            life.record_death(person, _at(day0 + dt.timedelta(days=int(last)), 12))
        final = life.card(card.card_id)
        events = [e.action for e in final.history]
        out.pin_resets += events.count("reset_pin")
        out.deaths += int(final.state is CardState.RETIRED)
        out.active_at_end += int(final.state is CardState.ACTIVE)
        gone = sum(jpki.status(s, end).reason is RevocationReason.DEATH for s in serials)
        out.revoked_death += gone
        # good at the end: not revoked, and still inside its validity (the CA's status is silent on expiry)
        good = sum(jpki.status(s, end).is_good and jpki.store.get(s).not_after >= end for s in serials)
        if died.size:
            death = _at(day0 + dt.timedelta(days=int(last)), 12)
            out.expired_before_death += sum(jpki.store.get(s).not_after < death for s in serials)
        in_date = sum(jpki.store.get(s).not_after >= end for s in serials)
        if final.state is CardState.ACTIVE and good != in_date:
            out.violations.append(f"{person}: an active card with {good} of its {in_date} unexpired certificates good")
        if final.state is CardState.RETIRED and good:
            out.violations.append(f"{person}: a dead holder's card still has a good certificate")
        given = [e.at.astimezone(JST).date() for e in final.history if e.action == "hand_over"]
        if events[:3] != ["produce", "ship", "hand_over"] or given != [handed]:
            out.violations.append(f"{person}: moves {events[:3]}, handed over {given}, not on {handed}")
    return out


def section(by_option: dict[str, IssuanceSample]) -> Any:
    """The sampled cards beside the run's counts."""
    from twin.report import Paragraph, Section, Table

    rows = []
    for name, s in by_option.items():
        rows.append([name, s.cards, s.certificates_issued, s.per_card("certificates_issued"), s.pin_resets,
                     s.expected_pin_resets, s.deaths, s.expected_deaths, s.revoked_death, s.active_at_end,
                     s.issued_total, s.national("certificates_issued")])
    bad = {n: s.violations for n, s in by_option.items() if s.violations}
    text = Paragraph(
        "A sample of the run's cards, drawn by the daily hand-overs, lived through the real card lifecycle "
        "(twin.services.card_lifecycle) on a real JPKI certificate authority: applied, produced, shipped and handed "
        "over on the days the run's production and counter waits give, then PIN lock-outs reset at the counter and "
        "holders' deaths at the run's daily rates per holder. The lifecycle issues the certificates and revokes a dead "
        "holder's; the counts below are read from the cards' histories and the CA, beside what the run's rates "
        "expect for the same cards. Holders' ages are assumed (adults 20-80). After every card: handed over on its "
        "day, and no good certificate on a dead holder's card: "
        + ("no breaches." if not bad else "breaches: " + "; ".join(f"{n}: {v[0]}" for n, v in bad.items())))
    table = Table(
        "Sampled cards through CardLifecycle and JPKI",
        ["option", "cards (sample)", "certificates issued", "per card", "PIN resets", "PIN resets expected",
         "deaths", "deaths expected", "revoked for death", "active at the end", "cards handed over (run)",
         "certificates issued (national)"],
        rows,
        formats={"per card": "{:.2f}", "PIN resets expected": "{:.1f}", "deaths expected": "{:.1f}",
                 "cards handed over (run)": "{:,.0f}",
                 "certificates issued (national)": "{:,.0f}"},
    )
    return Section("The rollout's cards through the card lifecycle (sample)", [text, table])
