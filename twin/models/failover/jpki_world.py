"""The JPKI side of the agent run: two sites' certificate ledgers and OCSP responders, one active.

The certificate authority (公的個人認証サービス) keeps its ledger of issued and revoked
certificates in the active data centre and ships every change to the standby; each site runs its
own OCSP responder with answers signed ahead (pre-signed) from its own copy of the ledger. Holders
report lost cards (revocation), relying parties ask for status. After a takeover the standby's
answers must agree with every revocation that was acknowledged, unless the replication mode lost
it (then it is counted). The real :class:`twin.services.jpki.Jpki` does the work on both sites.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import numpy as np

from twin.models.failover.params import Params
from twin.models.failover.replication import Clock, LoggedJpkiStore, LogShipper, apply_jpki_change


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
        self.certs: list[Any] = []
        for i in range(p.agent.certificates):
            cert = self.site.jpki.issue_auth_certificate(
                keys.generate().public_key(), dt.date(1970 + i % 40, 1 + i % 12, 1 + i % 28), t0, 13101,
                person_ref=f"person-{i}",
            )  # fmt: skip
            self.certs.append(cert)
        self.issuer = self.site.jpki.auth_ca.certificate
        self.revoked_at: dict[int, float] = {}
        self.lost_serials: set[int] = set()
        self.shipper.ship(0.0)

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
        self.active = 1 - self.active
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
        live = [c for c in self.certs if c.serial_number not in self.revoked_at]
        if not live:
            return
        from twin.services.jpki import UnknownCertificateError

        cert = live[int(self.rng.integers(len(live)))]
        try:
            self.site.jpki.revoke(cert, "loss", self.when(t))
        except UnknownCertificateError:  # its issuance was lost in a takeover: this site never issued it
            self.res.revocations_refused += 1
            return
        self.revoked_at[cert.serial_number] = t
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
        revoked = [c for c in self.certs if c.serial_number in self.revoked_at]
        pool = revoked if revoked and self.rng.random() < 0.5 else self.certs
        for _ in range(k):
            self.check_status(pool[int(self.rng.integers(len(pool)))], t)


