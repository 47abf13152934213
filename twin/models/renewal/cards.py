"""A sample of the wave's renewals played card by card through the real card lifecycle and JPKI.

The wave (:mod:`.wave`) keeps expected counts; it says how many renewals complete each day, not
what they do to the certificate authority's ledger. Here ``n`` holders per class are drawn from
the wave's completed renewals in the fiscal year (the day by the national daily count, the town
hall by its renewals), and each one's card is lived through
:class:`~twin.services.card_lifecycle.CardLifecycle` on a real :class:`~twin.services.jpki.Jpki`:

- **card renewals**: the card was issued ``card_years`` (adults; ``certificate_years`` for the
  ``minor_card_share`` of minors) before its expiry, which falls in the renewal window after the
  day the renewal completes (the wave's delays are not carried per holder); an adult's
  certificates were renewed once, in the months after the 5th birthday. The new card is applied for (30 days
  before), produced (10 days before), shipped and handed over on that day, and the hand-over
  retires the old card and revokes its live certificates (reason: renewal).
- **certificate renewals**: an adult's card from the 2020-21 rush (``certificate_years`` before
  the certificates' expiry); the counter renews the certificates on that day. A share
  ``counters.pin_reset_share`` of the holders come with the auth PIN locked after wrong tries (or
  forgotten): the card reports it locked (``lock_pin``, 1-60 days before) and the counter resets it
  (``reset_pin``) before renewing, the same share the wave adds counter minutes for.
- **trouble before a card renewal**: a share ``due.lost_before_renewal_share`` reported the old card
  lost (``report_loss``) while the new one was being made: the old card is suspended and its
  certificates are revoked for loss, and the hand-over of the new card retires it.

The lifecycle decides the validity dates, the certificates each step issues (no signature
certificate under 15) and the ones it revokes; a move it forbids raises. What the run reports is
counted from the ledger: certificates revoked and issued per renewal, and scaled by the wave's
renewals, the entries the wave adds to the CRLs and the certificates the CA issues in the year.
Ages (20-80 for adults, under 19 for minors, evenly) are assumptions. PINs are synthetic and
never kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from twin.models.renewal.params import Params
from twin.models.renewal.wave import CLASSES, Wave

JST = dt.timezone(dt.timedelta(hours=9))
KEY_SEED = 2025
PINS = {"auth_pin": "1357", "support_pin": "2468", "sign_password": "RENEW2025"}  # synthetic


@dataclass
class ClassSample:
    sampled: int = 0
    lifecycle_renewals: int = 0
    revoked: int = 0  # certificates revoked for renewal by the lifecycle
    revoked_loss: int = 0  # certificates revoked for a loss report before the renewal
    pin_resets: int = 0  # reset_pin events in the sampled cards' lifecycle histories
    losses: int = 0  # report_loss events in the sampled cards' lifecycle histories
    issued: int = 0  # certificates issued by the renewal
    wave_renewed_fy: float = 0.0  # the wave's renewals of this class in the fiscal year
    revoked_each: list[int] = field(default_factory=list, repr=False)  # per sampled holder

    def per_renewal(self, what: str) -> float:
        return getattr(self, what) / self.lifecycle_renewals if self.lifecycle_renewals else float("nan")

    def revoked_half_width(self) -> float:
        """95 % half-width of revoked-per-renewal from the sample (normal approximation)."""
        n = len(self.revoked_each)
        return float(1.96 * np.std(self.revoked_each, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")

    def national(self, what: str) -> float:
        return self.per_renewal(what) * self.wave_renewed_fy


@dataclass
class CardSample:
    classes: dict[str, ClassSample] = field(default_factory=lambda: {k: ClassSample() for k in CLASSES})
    violations: list[str] = field(default_factory=list)
    life: object = field(default=None, repr=False)  # the CardLifecycle the sample ran on (its JPKI at .jpki)


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), JST)


def _years_before(day: dt.date, years: int) -> dt.date:
    return day.replace(year=day.year - years)


def sample(params: Params, wave: Wave, codes: np.ndarray, seed: int, n: int) -> CardSample:
    """Play ``n`` renewals of each class through the lifecycle; ``codes`` are the wave's town halls."""
    from twin.services.card_lifecycle import CardLifecycle, CardState
    from twin.services.jpki import BasicInfo, Jpki, KeySource, RevocationReason

    rng = np.random.default_rng(seed)
    keys = KeySource(KEY_SEED, pool_size=8)  # the same (disk-cached) keys for every option: no RSA key generation
    jpki = Jpki.bootstrap(_at(dt.date(2014, 1, 6)), keys)
    life = CardLifecycle(jpki)
    out = CardSample(life=life)
    dates = wave.dates().astype("datetime64[D]").astype(object)
    fy = np.array([d >= wave.fy_start for d in dates])
    d = params.due
    end = _at(wave.fy_end, 23)

    def key() -> object:
        return keys.generate().public_key()

    def new_card(person: str, info: BasicInfo, code: int, issued: dt.date, **kw: object) -> object:
        card = life.apply(person, info, code, _at(issued - dt.timedelta(days=30)), **kw)
        life.produce(card.card_id, _at(issued - dt.timedelta(days=10)), key(), key())
        life.ship(card.card_id, _at(issued - dt.timedelta(days=5)))
        return life.hand_over(card.card_id, _at(issued), **PINS)

    for k, cls in enumerate(CLASSES):
        cs = out.classes[cls]
        daily = np.where(fy, wave.renewed_daily[:, k, :].sum(axis=0), 0.0)
        cs.wave_renewed_fy = float(daily.sum())
        if cs.wave_renewed_fy <= 0 or n == 0:
            continue
        town_w = wave.renewed[:, k] / wave.renewed[:, k].sum()
        for i in range(n):
            day = dates[int(rng.choice(daily.size, p=daily / daily.sum()))]
            code = int(codes[int(rng.choice(town_w.size, p=town_w))]) // 10  # 6-digit JIS code, check digit off
            expiry = day + dt.timedelta(days=int(rng.integers(0, params.window_days + 1)))
            if (expiry.month, expiry.day) == (2, 29):
                expiry -= dt.timedelta(days=1)
            minor = cls == "card" and rng.random() < d.minor_card_share
            years = d.certificate_years if cls == "certificate" or minor else d.card_years
            # handed over 15 days to a year after the birthday (produced 10 days before): the 1st birthday is a year on
            issued = _years_before(expiry, years) + dt.timedelta(days=int(rng.integers(15, 365)))
            age = int(rng.integers(1, 19)) if minor else int(rng.integers(21, 81))
            born = expiry.replace(year=issued.year - age)
            info = BasicInfo(f"更新{cls}{i}", "東京都千代田区千代田１番", born, "12"[i % 2])
            person = f"{cls}-{i}"
            card = new_card(person, info, code, issued)
            if cls == "card" and card.expires_on != expiry:  # the lifecycle's own validity rule
                raise RuntimeError(f"renewal sample: {person}'s card expires {card.expires_on}, not {expiry}")
            if cls == "card" and not minor:  # the certificates' own renewal at the 5th birthday
                mid = _years_before(expiry, 5) + dt.timedelta(days=int(rng.integers(1, 90)))
                life.renew_certificates(card.card_id, _at(mid), key(), key())
            card = life.card(card.card_id)
            old = {s for s in (card.auth_serial, card.sign_serial) if s is not None}
            cs.sampled += 1
            if cls == "card":
                lost = rng.random() < d.lost_before_renewal_share
                if lost:  # reported lost while the new card was being made (applied 30 days before)
                    life.report_loss(card.card_id, _at(day - dt.timedelta(days=int(rng.integers(1, 30))), 9))
                new = new_card(person, info, code, day, replaces=card.card_id)
            else:
                if rng.random() < params.counters.pin_reset_share:  # locked after wrong tries, reset at the visit
                    life.lock_pin(card.card_id, "auth", _at(day - dt.timedelta(days=int(rng.integers(1, 61)))))
                    life.reset_pin(card.card_id, "auth", "8642", _at(day, 9))  # synthetic, never kept
                new = life.renew_certificates(card.card_id, _at(day), key(), key())
            cs.lifecycle_renewals += 1
            revoked = [s for s in old if jpki.status(s, end).reason is RevocationReason.RENEWAL]
            cs.revoked += len(revoked)
            cs.revoked_loss += sum(jpki.status(s, end).reason is RevocationReason.LOSS for s in old)
            events = [e.action for c in life.cards_of(person) for e in c.history]
            cs.pin_resets += events.count("reset_pin")
            cs.losses += events.count("report_loss")
            cs.revoked_each.append(len(revoked))
            cs.issued += sum(s is not None for s in (new.auth_serial, new.sign_serial))
            live = [c for c in life.cards_of(person) if c.state is CardState.ACTIVE]
            fresh = [s for s in (new.auth_serial, new.sign_serial) if s is not None]
            good = sum(jpki.status(s, end).is_good for s in fresh)
            if len(live) != 1 or live[0].card_id != new.card_id or not fresh or good != len(fresh):
                out.violations.append(f"{person}: after renewal {len(live)} active cards, {good} of "
                                      f"{len(fresh)} new certificates good")
            if any(jpki.status(s, end).is_good for s in old):
                out.violations.append(f"{person}: a certificate of the old card is still good after renewal")
    return out
