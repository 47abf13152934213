"""The JPKI side of the agent run: two sites' certificate ledgers and OCSP responders, one active.

The certificate authority (公的個人認証サービス) keeps its ledger of issued and revoked
certificates in the active data centre and ships every change to the standby; each site runs its
own OCSP responder with answers signed ahead (pre-signed) from its own copy of the ledger. After a
takeover the standby's answers must agree with every revocation that was acknowledged, unless the
replication mode lost it (then it is counted). The real :class:`twin.services.jpki.Jpki` does the
work on both sites.

The cards are the real :class:`~twin.services.card_lifecycle.CardLifecycle` (the card management
system), which calls whichever CA site is active: the cards in circulation at the start are
applied for, produced, shipped and handed over through it; during the run new cards are issued,
holders renew their certificates at the counter (電子証明書の更新), report cards lost (紛失届)
and lock their auth PIN, which the counter resets in the next office hour (暗証番号の再設定).
A holder who misses the card phones the 24/365 call centre (個人番号カードコールセンター), which
suspends it (一時停止: its certificates are revoked); some days later the holder is at the counter,
either with the card found, which is resumed (一時停止解除) and, since the lifecycle does not
restore revoked certificates, gets new ones (the old stay revoked), or without it: the card is
declared lost there and a replacement applied for (再交付申請), which J-LIS takes about a month to
make, so the world leaves the replacement applied for and the old card suspended.
Every certificate the world issues or revokes is issued or revoked by those transitions, so a
move the lifecycle forbids raises, and the OCSP status checked is that of the lifecycle's
revocations. PINs set at the counter are synthetic, checked by the lifecycle and never kept.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import numpy as np

from twin.models.failover.params import Params
from twin.models.failover.replication import Clock, LoggedJpkiStore, LogShipper, apply_jpki_change

MUNICIPALITY = 13101  # 千代田区: the counter of the sample
APPLIED_DAYS_BEFORE = 30  # a card handed over in the run was applied for about a month before


def _pin(i: int) -> str:
    """A synthetic 4-digit PIN for holder ``i`` (never stored; the lifecycle only checks its rule)."""
    return f"{(7919 * i + 1234) % 10000:04d}"


class _Site:
    def __init__(self, jpki: Any, logged: LoggedJpkiStore) -> None:
        self.jpki, self.logged = jpki, logged


class JpkiWorld:
    """Two JPKI sites with their own ledgers and OCSP caches; the active one ships its ledger's changes."""

    def __init__(self, p: Params, t0: dt.datetime, clock: Clock, rng: np.random.Generator, res: Any) -> None:
        from twin.services.jpki import Jpki, KeySource
        from twin.services.jpki import MemoryStore as JpkiMemory

        self.res, self.rng, self.clock, self.t0 = res, rng, clock, t0
        self.invalidate = p.agent.standby_cache_invalidation
        rep = p.services["jpki_ca"].replication
        self._rep = (rep.mode, rep.lag_seconds / 3600, rep.backup_interval_hours)
        keys = KeySource(7, pool_size=4)
        self.sites = []
        for _ in range(2):
            logged = LoggedJpkiStore(JpkiMemory(), self._sink)
            self.sites.append(_Site(None, logged))
        self.active = 0
        self.shipper: LogShipper | None = None
        for s in self.sites:  # both sites founded identically (same keys, same time): equal ledgers
            s.jpki = Jpki.bootstrap(t0, keys, store=s.logged)
        a, b = self.sites[0].logged.inner, self.sites[1].logged.inner
        if [a.get(i) for i in range(a.FIRST_SERIAL, a.next_serial())] != [
            b.get(i) for i in range(b.FIRST_SERIAL, b.next_serial())
        ]:
            raise RuntimeError("the two JPKI sites were founded with different ledgers")
        self._new_shipper()
        from twin.services.card_lifecycle import CardLifecycle

        self.keys = keys
        self.cards = CardLifecycle(self.site.jpki)  # the card management system; it calls the active CA site
        self.certs: list[Any] = []  # every holder certificate the world has issued, as relying parties see it
        self.revoked_at: dict[int, float] = {}
        self.lost_serials: set[int] = set()
        self._revoked_view: tuple[int, list[Any]] = (-1, [])  # (version, revoked certificates in issuance order)
        self._version = 0  # bumped whenever certs or revoked_at change
        self.pin_locked: list[str] = []  # card ids whose holders wait for the counter
        # the call centre's calls draw from a stream of their own, so that they move no other flow's draws
        self.calls = rng.spawn(1)[0]
        self.found_share = p.agent.suspended_found_share
        self.suspended_hours = p.agent.suspended_days * 24
        self.suspended: list[tuple[float, str, bool]] = []  # (at the counter from hour, card id, found) in call order
        self._holders = 0
        for _ in range(p.agent.certificates):
            self._new_card(0.0)
        self.issuer = self.site.jpki.auth_ca.certificate
        self.shipper.ship(0.0)

    # ---- the cards, through the lifecycle ------------------------------------------------------
    def _cert(self, serial: int) -> Any:
        from cryptography import x509

        return x509.load_der_x509_certificate(self.site.logged.inner.get(serial).der)

    def _new_card(self, t: float) -> Any:
        """Apply, produce (the CA certifies the chip's auth key), ship and hand over one card."""
        from twin.services.jpki import BasicInfo

        i = self._holders
        self._holders += 1
        born = dt.date(1970 + i % 40, 1 + i % 12, 1 + i % 28)
        info = BasicInfo(f"住民{i}", "東京都千代田区千代田１番", born, "12"[i % 2])
        now = self.when(t)
        applied = max(self.t0, now - dt.timedelta(days=APPLIED_DAYS_BEFORE))
        card = self.cards.apply(f"person-{i}", info, MUNICIPALITY, applied)
        card = self.cards.produce(card.card_id, now, self.keys.generate().public_key())
        self.cards.ship(card.card_id, now)
        card = self.cards.hand_over(card.card_id, now, auth_pin=_pin(i), support_pin=_pin(i + 1))
        self.certs.append(self._cert(card.auth_serial))
        self._version += 1
        return card

    def _active_cards(self) -> list[Any]:
        from twin.services.card_lifecycle import CardState

        return [c for c in self.cards if c.state is CardState.ACTIVE]

    def _revoked_now(self, card: Any, serial: int | None, t: float) -> bool:
        """Did the active ledger just record the revocation of ``card``'s certificate ``serial``?"""
        from twin.services.jpki.profile import aware

        rec = None if serial is None else self.site.logged.inner.get(serial)
        return rec is not None and rec.person_ref == card.person_ref and rec.revoked_at == aware(self.when(t))

    def _random_active(self, rng: np.random.Generator) -> Any | None:
        """One active card drawn with ``rng`` (one draw), or None when no card is active (no draw)."""
        live = self._active_cards()
        return live[int(rng.integers(len(live)))] if live else None

    def issue(self, t: float) -> None:
        """A new card handed over at the counter (its production compressed into the hour)."""
        self._new_card(t)
        self.res.cards_issued += 1

    def renew(self, t: float) -> None:
        """電子証明書の更新 at the counter: the old certificate is revoked (renewal), a new one issued."""
        card = self._random_active(self.rng)
        if card is None:
            return
        old = card.auth_serial
        card = self.cards.renew_certificates(card.card_id, self.when(t), self.keys.generate().public_key())
        if self._revoked_now(card, old, t):
            self.revoked_at[old] = t
        self.certs.append(self._cert(card.auth_serial))
        self._version += 1
        self.res.certificate_renewals += 1

    def lock_pin(self, t: float) -> None:
        """A holder types the wrong auth PIN too often; the card blocks it until the counter resets it."""
        live = [c for c in self._active_cards() if "auth" not in c.locked_pins]
        if not live:
            return
        card = live[int(self.rng.integers(len(live)))]
        self.cards.lock_pin(card.card_id, "auth", self.when(t))
        self.pin_locked.append(card.card_id)
        self.res.pin_locks += 1

    def counter(self, t: float) -> None:
        """An office hour: every holder waiting with a locked PIN has it reset (a card lost since cannot be)."""
        from twin.services.card_lifecycle import CardState

        for card_id in self.pin_locked:
            card = self.cards.card(card_id)
            if card.state is CardState.ACTIVE:
                self.cards.reset_pin(card_id, "auth", _pin(int(card.person_ref.split("-")[1]) + 2), self.when(t))
                self.res.pin_resets += 1
            else:
                self.res.pin_resets_refused += 1
        self.pin_locked = []
        due = [s for s in self.suspended if s[0] <= t]
        self.suspended = [s for s in self.suspended if s[0] > t]
        for _, card_id, found in due:
            if found:
                self._resume(card_id, t)
            else:
                card = self.cards.card(card_id)
                self.cards.apply(card.person_ref, card.info, card.municipality_code, self.when(t), replaces=card_id)
                self.res.suspended_reported_lost += 1

    def suspend(self, t: float) -> None:
        """A call to the call centre: the card is suspended and its certificate revoked until the counter."""
        card = self._random_active(self.calls)
        if card is None:
            return
        found = bool(self.calls.random() < self.found_share)
        card = self.cards.suspend(card.card_id, self.when(t))
        self.suspended.append((t + self.suspended_hours, card.card_id, found))
        self.res.cards_suspended += 1
        self._record_revocation(card, t)

    def _resume(self, card_id: str, t: float) -> None:
        """一時停止解除 with the card found: the card works again with new certificates (the old stay revoked)."""
        self.cards.resume(card_id, self.when(t))
        card = self.cards.renew_certificates(card_id, self.when(t), self.keys.generate().public_key())
        self.certs.append(self._cert(card.auth_serial))
        self._version += 1
        self.res.cards_resumed += 1

    @property
    def site(self) -> _Site:
        return self.sites[self.active]

    @property
    def standby(self) -> _Site:
        return self.sites[1 - self.active]

    def _sink(self, change: tuple) -> None:
        if self.shipper is not None:
            self.shipper.commit(change)

    def _new_shipper(self) -> None:
        standby = self.standby
        on_revoked = standby.jpki.ocsp.invalidate if self.invalidate else None
        mode, lag, backup = self._rep
        old = self.shipper
        self.shipper = LogShipper(mode, self.clock, lambda ch: apply_jpki_change(standby.logged.inner, ch, on_revoked),
                                  lag_hours=lag, backup_hours=backup)  # fmt: skip
        if old is not None:
            self.shipper.takeovers = old.takeovers

    def when(self, t: float) -> dt.datetime:
        return self.t0 + dt.timedelta(hours=t)

    def fail_over(self, t: float) -> None:
        assert self.shipper is not None
        taken = self.shipper.take_over(t)
        for _, ch in taken.lost:
            if ch[0] == "mark_revoked":
                self.lost_serials.add(ch[1])
                self.res.revocations_lost += 1
            elif ch[0] == "add" and ch[1].role.value == "holder":
                self.res.issuances_lost += 1
                # the new active ledger never saw this certificate: its holder's card carries one no
                # site can answer for, and the serial may be handed out again
                self.certs = [c for c in self.certs if c.serial_number != ch[1].serial]
                self.revoked_at.pop(ch[1].serial, None)
                self._version += 1
        self.active = 1 - self.active
        self.cards.jpki = self.site.jpki
        self.shipper.connected = False

    def repaired(self) -> None:
        """The lost site is rebuilt as a copy of the active ledger, with an empty OCSP cache."""
        from twin.services.jpki import ResponseCache

        self.standby.logged.inner = copy.deepcopy(self.site.logged.inner)
        self.standby.jpki.ocsp.cache = ResponseCache()
        self._new_shipper()

    def presign(self, t: float) -> None:
        now = self.when(t)
        for s in self.sites:
            known = [(c, s.logged.inner.get(c.serial_number)) for c in self.certs]
            live = [c for c, rec in known if rec is not None and rec.revoked_at is None]
            s.jpki.ocsp.presign(live, now, hashes=("sha1",))

    def revoke(self, t: float) -> None:
        """紛失届: a holder reports the card lost; the lifecycle suspends it and revokes its certificate."""
        card = self._random_active(self.rng)
        if card is None:
            return
        card = self.cards.report_loss(card.card_id, self.when(t))
        self.res.cards_reported_lost += 1
        self._record_revocation(card, t)

    def _record_revocation(self, card: Any, t: float) -> None:
        """The card's certificate revoked at ``t`` (loss or suspension), or refused when the CA no longer knows
        its issuance (lost in a takeover)."""
        if not self._revoked_now(card, card.auth_serial, t):
            self.res.revocations_refused += 1
            return
        self.revoked_at[card.auth_serial] = t
        self._version += 1
        self.res.revocations_acknowledged += 1

    def check_status(self, cert: Any, t: float) -> None:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.x509 import ocsp

        req = ocsp.OCSPRequestBuilder().add_certificate(cert, self.issuer, hashes.SHA1()).build()
        der = self.site.jpki.ocsp.respond(req.public_bytes(serialization.Encoding.DER), self.when(t))
        status = ocsp.load_der_ocsp_response(der).certificate_status
        self.res.status_checks += 1
        serial = cert.serial_number
        if serial in self.revoked_at and status is ocsp.OCSPCertStatus.GOOD:
            self.res.revoked_reported_good += 1
            if serial not in self.lost_serials:
                self.res.violations.append(
                    f"certificate {serial:#x}: revoked at hour {self.revoked_at[serial]:.2f}, reported good at "
                    f"hour {t:.2f} by the {'west' if self.active else 'east'} site"
                )

    def sample_checks(self, t: float, k: int) -> None:
        if self._revoked_view[0] != self._version:  # hourly checks, rare changes: filter once per change
            self._revoked_view = (self._version, [c for c in self.certs if c.serial_number in self.revoked_at])
        revoked = self._revoked_view[1]
        pool = revoked if revoked and self.rng.random() < 0.5 else self.certs
        for _ in range(k):
            self.check_status(pool[int(self.rng.integers(len(pool)))], t)


