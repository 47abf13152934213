"""The information-provision network (情報提供ネットワークシステム): query, provide, record.

A caseworker at a town hall needs a claimant's pension. Her business system hands the request to
the town hall's intermediate server, which sends it to the network under the town hall's agency
code. The network checks the lawful table (may this body, for this procedure, ask that body for
this item?), translates the code into the provider's code (only it can), forwards the request to
the provider's intermediate server, which answers from its copy, and files the exchange in the
record the person can read in Myna Portal (情報提供等記録): who asked, whom, what, for which
procedure, when. Trial operation began 2017-07-18, full operation 2017-11-13.

Every message that crosses between bodies is one of the records below (:class:`QueryMessage`,
:class:`ProvideMessage`, :class:`SupplyMessage`, :class:`AnswerMessage`), passed through
:meth:`InformationNetwork.send` to the observers (``taps``) whenever there are any: the tests put a tap on every
message that fails if any field holds a My Number (:func:`my_number_fields`). A query whose code is
a My Number, or a procedure, provider or item outside the table, is refused with a reason and
logged (:class:`RefusalRecord`, and one log line) without the number or the code.

A network built with a ``refresh_schedule`` (the served worlds': :func:`twin.services.linkage.agency.nightly_refresh`)
gives it to every body: before a provider answers at ``at``, the refresh its schedule had due by then runs
(:meth:`twin.services.linkage.agency.Agency.refresh_due`), so a change its business system recorded reaches the answer
from the first scheduled refresh after it, and until then the answer carries the old copy with its age. Without one
(the models'), copies change only when the caller refreshes them.

The network and each body's intermediate server can be down (:meth:`InformationNetwork.add_outage`:
dated windows, kept in the store); a query that needs a component that is down is refused as
``unavailable``.

Records are filed under the person's Myna Portal code, so the portal can list them and nothing
else can join them to another body's files. Clock-free: ``at`` comes in with every call.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from twin.services.linkage.agency import Agency, Copy
from twin.services.linkage.bodies import Body, BodyKind, Directory
from twin.services.linkage.codes import AgencyCode, CodeError, CodeIssuer, ResidentCodes
from twin.services.linkage.table import LawfulTable, Verdict
from twin.services.registry import is_valid_my_number
from twin.services.store import Store

log = logging.getLogger("twin.linkage")

PORTAL = "portal"
RECORDS = "linkage.records"  # id -> ExchangeRecord
BY_PERSON = "linkage.records.person"  # portal code -> tuple of record ids
REFUSALS = "linkage.refusals"  # id -> RefusalRecord
OUTAGES = "linkage.outages"  # (target, start) -> Outage
NETWORK = "network"
META = "linkage.meta"
_DIGITS12 = re.compile(r"(?<!\d)\d{12}(?!\d)")
_CODE_FORM = re.compile(r"[0-9a-f]{32}")  # an agency code as it travels (AgencyCode.hex)
_LONG_DIGITS = re.compile(r"[0-9\uff10-\uff19]{12,}")  # what could be a My Number, put in any field


def _masked(text: str, n: int | None = None) -> str:
    """``text`` (clipped to ``n``) with every run of 12 or more digits starred: a My Number put in the requester,
    procedure, provider or item field must not reach the refusal record, the log or the refusal's sentence."""
    return _LONG_DIGITS.sub(lambda m: "*" * len(m.group()), text[:n] if n else text)


class Refused(StrEnum):
    MY_NUMBER = "my_number_given"  # a My Number where an agency code belongs
    BAD_CODE = "bad_code"  # not a code the issuer gave the requester
    UNKNOWN_BODY = "unknown_body"
    UNKNOWN_PROCEDURE = "unknown_procedure"
    NOT_IN_TABLE = "not_in_table"
    NOT_YET = "not_yet_in_force"
    UNAVAILABLE = "unavailable"  # the network, or the requester's or provider's intermediate server, is down


# -- messages between bodies (every field is checked by the tests' tap) ---------------------------


@dataclass(frozen=True, slots=True)
class QueryMessage:
    """Requester's intermediate server -> network."""

    requester: str
    code: str
    procedure: str
    provider: str
    item: str
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class ProvideMessage:
    """Network -> provider's intermediate server: the provider's own code for the person."""

    exchange: int
    provider: str
    code: str
    item: str


@dataclass(frozen=True, slots=True)
class SupplyMessage:
    """Provider's intermediate server -> network: the copy (or nothing)."""

    exchange: int
    provider: str
    copy: Copy | None


@dataclass(frozen=True, slots=True)
class AnswerMessage:
    """Network -> requester, under the requester's code. ``age``: how old the copy was when asked."""

    exchange: int
    requester: str
    code: str
    procedure: str
    provider: str
    item: str
    found: bool
    value: object
    as_of: dt.date | None
    refreshed_at: dt.datetime | None
    age: dt.timedelta | None


@dataclass(frozen=True, slots=True)
class Refusal:
    """What a refused requester gets back: the reason and a sentence (never the code or number)."""

    reason: Refused
    message: str


@dataclass(frozen=True, slots=True)
class ExchangeRecord:
    """情報提供等記録: one exchange, as the person sees it in Myna Portal."""

    id: int
    at: dt.datetime
    requester: str
    provider: str
    procedure: str
    item: str
    found: bool
    copy_as_of: dt.date | None


@dataclass(frozen=True, slots=True)
class RefusalRecord:
    """A refused query: who asked what for which procedure, and why. No code, no number."""

    id: int
    at: dt.datetime
    requester: str
    procedure: str
    provider: str
    item: str
    reason: Refused


@dataclass(frozen=True, slots=True)
class Outage:
    """The network (``target`` ``"network"``) or a body's intermediate server is down over [start, end)."""

    target: str
    start: dt.datetime
    end: dt.datetime


Message = QueryMessage | ProvideMessage | SupplyMessage | AnswerMessage


def my_number_fields(message: object, known: Iterable[str] | set[str] = frozenset()) -> list[str]:
    """Fields of ``message`` (recursively) that hold a My Number: one of ``known``, or any 12 digits
    with a valid check digit (in a value of an agency code's form, 32 hex digits, only ``known``
    numbers count). An empty list means the message is clean."""
    known = known if isinstance(known, set | frozenset) else set(known)
    found: list[str] = []

    def walk(value: object, path: str) -> None:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            for f in dataclasses.fields(value):
                walk(getattr(value, f.name), f"{path}.{f.name}" if path else f.name)
        elif isinstance(value, tuple | list):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(k, f"{path}<key>")
                walk(v, f"{path}[{k!r}]")
        elif isinstance(value, str | int) and not isinstance(value, bool):
            text = str(value)
            if _CODE_FORM.fullmatch(text):
                # a code is 128 random-looking bits: about one in a thousand holds 12 digits between two
                # letters that happen to pass the check digit, so only the known numbers are looked for
                if any(n in text for n in known):
                    found.append(path)
            elif text in known or any(is_valid_my_number(m) for m in _DIGITS12.findall(text)):
                found.append(path)

    walk(message, "")
    return found


class InformationNetwork:
    """情報提供ネットワークシステム with the bodies' intermediate servers behind it (state in ``store``)."""

    def __init__(
        self,
        store: Store,
        directory: Directory,
        issuer: CodeIssuer,
        resident_codes: ResidentCodes,
        table: LawfulTable | None = None,
        refresh_schedule: Callable[[dt.datetime], dt.datetime] | None = None,
    ) -> None:
        """``refresh_schedule``: every body's (:class:`Agency` ``schedule``); None: copies change only on refresh."""
        self.store = store
        self.refresh_schedule = refresh_schedule
        self.directory = directory
        self.issuer = issuer
        self.resident_codes = resident_codes
        self.table = table or LawfulTable()
        self.taps: list[Callable[[Message], None]] = []
        self._agencies: dict[str, Agency] = {}
        self._outages: dict[str, list[Outage]] = {}
        for _, o in store.scan(OUTAGES):
            self._outages.setdefault(o.target, []).append(o)  # type: ignore[attr-defined]

    # -- outages ------------------------------------------------------------------------------------

    def add_outage(self, target: str, start: dt.datetime, end: dt.datetime) -> Outage:
        """Take the network (``"network"``) or a body's intermediate server down over [start, end)."""
        if target != NETWORK and target not in self.directory:
            raise KeyError(f"outage target {target!r}: use 'network' or a body id")
        if not start < end:
            raise ValueError(f"outage of {target}: start {start} must be before end {end}")
        o = Outage(target, start, end)
        with self.store.transaction() as tx:
            tx.put(OUTAGES, (target, start.isoformat()), o)
        self._outages.setdefault(target, []).append(o)
        return o

    def down(self, target: str, at: dt.datetime) -> bool:
        return any(o.start <= at < o.end for o in self._outages.get(target, ()))

    def agency(self, body: str) -> Agency:
        """The body's address book and intermediate server (created on first use)."""
        a = self._agencies.get(body)
        if a is None:
            if body not in self.directory:
                raise KeyError(f"body {body!r}: not in the directory")
            a = self._agencies[body] = Agency(body, self.store, self.issuer, self.resident_codes,
                                              self.refresh_schedule)  # fmt: skip
        return a

    def send(self, message: Message) -> Message:
        """Every message between bodies passes here, where the taps see it."""
        for tap in self.taps:
            tap(message)
        return message

    # -- the one operation ------------------------------------------------------------------------

    def query(
        self, requester: str, code: AgencyCode | str, procedure: str, provider: str, item: str, at: dt.datetime
    ) -> AnswerMessage | Refusal:
        """``requester`` asks ``provider`` for ``item`` about the person it knows as ``code``, for ``procedure``."""
        code_hex = code.hex if isinstance(code, AgencyCode) else str(code)
        item = str(item)
        msg = QueryMessage(requester, code_hex, procedure, provider, item, at)
        if len(code_hex) == 12 and code_hex.isdigit():  # a My Number (valid check digit or not) is never a code
            return self._refuse(msg, Refused.MY_NUMBER, "a My Number was given where the agency code belongs")
        taps = self.taps
        if taps:
            self.send(msg)
        req, prov = self.directory.get(requester), self.directory.get(provider)
        if req is None or prov is None:
            who = requester if req is None else provider
            return self._refuse(msg, Refused.UNKNOWN_BODY, f"body {who!r} is not in the directory")
        verdict = self.table.check(procedure, req.kind, prov.kind, item, at.date())
        if verdict is not Verdict.ALLOWED:
            return self._refuse(msg, Refused(verdict.value), self._why(verdict, req, prov, procedure, item, at))
        if self._outages:
            for target in (NETWORK, requester, provider):
                if self.down(target, at):
                    what = (
                        "the information-provision network" if target == NETWORK else f"{target}'s intermediate server"
                    )
                    return self._refuse(msg, Refused.UNAVAILABLE, f"{what} is down at {at.isoformat()}")
        issuer = self.issuer
        try:
            rrc = issuer.resident_code(requester, AgencyCode(code_hex))
        except CodeError as exc:
            return self._refuse(msg, Refused.BAD_CODE, str(exc))
        provider_code = issuer.issue(provider, rrc)
        agency = self._agencies.get(provider) or self.agency(provider)
        if agency.schedule is not None:  # the provider's scheduled refresh, if one was due by now
            agency.refresh_due(at)
        with self.store.transaction() as tx:
            seq = (tx.get(META, "seq") or 0) + 1  # type: ignore[operator]
            tx.put(META, "seq", seq)
            if taps:
                self.send(ProvideMessage(seq, provider, provider_code.hex, item))
            copy = agency.copy(provider_code, item)
            if taps:
                self.send(SupplyMessage(seq, provider, copy))
            found = copy is not None
            tx.put(RECORDS, seq, ExchangeRecord(seq, at, requester, provider, procedure, item, found,
                                                copy.as_of if found else None))  # fmt: skip
            person = issuer.issue(PORTAL, rrc).hex
            tx.put(BY_PERSON, person, (*(tx.get(BY_PERSON, person) or ()), seq))  # type: ignore[misc]
        answer = AnswerMessage(
            seq, requester, code_hex, procedure, provider, item, found,
            copy.value if found else None, copy.as_of if found else None,
            copy.refreshed_at if found else None, at - copy.refreshed_at if found else None,
        )  # fmt: skip
        if taps:
            self.send(answer)
        return answer

    @staticmethod
    def _why(verdict: Verdict, req: Body, prov: Body, procedure: str, item: str, at: dt.datetime) -> str:
        if verdict is Verdict.UNKNOWN_PROCEDURE:
            return f"procedure {procedure!r} is not in the lawful table"
        if verdict is Verdict.NOT_YET:
            return f"{procedure}: {prov.kind.value} may not be asked for {item!r} before the rule starts ({at.date()})"
        return f"{procedure}: a {req.kind.value} may not ask a {prov.kind.value} for {item!r} (not in the lawful table)"

    def _refuse(self, msg: QueryMessage, reason: Refused, message: str) -> Refusal:
        with self.store.transaction() as tx:
            rid = (tx.get(META, "refusals") or 0) + 1  # type: ignore[operator]
            tx.put(META, "refusals", rid)
            requester, procedure = _masked(msg.requester, 40), _masked(msg.procedure, 60)
            provider, item = _masked(msg.provider, 40), _masked(msg.item, 40)
            tx.put(REFUSALS, rid, RefusalRecord(rid, msg.at, requester, procedure, provider, item, reason))
        log.info("linkage query refused: requester=%s procedure=%s provider=%s item=%s reason=%s",
                 requester, procedure, provider, item, reason.value)  # fmt: skip
        return Refusal(reason, _masked(message))

    # -- what the portal and the auditors read -----------------------------------------------------

    def records_of(self, portal_code: AgencyCode) -> list[ExchangeRecord]:
        """Every exchange about the person Myna Portal knows as ``portal_code``, oldest first."""
        ids: tuple[int, ...] = self.store.get(BY_PERSON, portal_code.hex) or ()  # type: ignore[assignment]
        return [self.store.get(RECORDS, i) for i in ids]  # type: ignore[misc]

    def refusals(self) -> list[RefusalRecord]:
        return [r for _, r in self.store.scan(REFUSALS)]  # type: ignore[misc]

    def exchanges(self) -> int:
        return int(self.store.get(META, "seq") or 0)  # type: ignore[call-overload]

    def bodies_of(self, kind: BodyKind) -> list[Body]:
        return self.directory.of_kind(kind)
