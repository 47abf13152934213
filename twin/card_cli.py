"""``twin card``: put an emulated My Number card into a reader, and read any card in a reader.

``twin card serve`` attaches an emulated card to pcscd's virtual reader (vpcd), so that OpenSC,
pyscard or a browser's JPKI middleware see it like a real card; ``twin card info`` reads whatever
card is in a reader (emulated or real) through the same JPKI client; ``twin card personalise``
writes a card personalisation file (mode 0600: it holds keys and PINs).

Neither command ever prints a PIN, a private key or a My Number; ``info --my-number`` asks for
the input-support PIN and shows the number masked.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

app = typer.Typer(
    help="The My Number card: serve an emulated card to PC/SC, read a card in a reader.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()

DEMO_NOW = dt.datetime(2026, 4, 1, 0, 0, tzinfo=dt.UTC)  # fixed: same seed, same card


def _fail(message: str, code: int = 2) -> typer.Exit:
    for line in message.splitlines():
        err.print(f"error: {line}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


class _CardKeys:
    """Keys of resident number ``index``: two fixed indices of the seed's key source."""

    def __init__(self, source: Any, index: int) -> None:
        self._source, self._next = source, 1000 + 2 * index

    def generate(self) -> Any:
        self._next += 1
        return self._source.key(self._next - 1)


def _load_personalisation(resident: str | None, file: Path | None, seed: int) -> Any:
    from emulators.personalisation import Personalisation, PersonalisationError

    if (resident is None) == (file is None):
        raise _fail("give exactly one of --resident ID or --file PERSO")
    if file is not None:
        try:
            return Personalisation.load(file)
        except PersonalisationError as e:
            raise _fail(str(e)) from None
    from emulators import demo

    try:
        who = demo.demo_resident(resident)  # type: ignore[arg-type]
    except ValueError as e:
        raise _fail(str(e)) from None
    try:
        from twin.services.jpki import Jpki, KeySource
    except ImportError as e:
        raise _fail(f"--resident needs the JPKI services (twin.services.jpki): {e}", 1) from None
    keys = KeySource(seed)
    jpki = Jpki.bootstrap(DEMO_NOW, keys=keys)
    index = demo.demo_resident_ids().index(who.resident_id)
    # One demo CA (same seed, same CA certificate) issues every demo card, so each card gets the serials
    # that CA gives it when it issues demo-1 .. demo-8 in turn: unique per CA (RFC 5280 4.1.2.2).
    first = jpki.store.next_serial()
    serials = (first + 2 * index, first + 2 * index + 1)
    return demo.personalise(who, jpki, _CardKeys(keys, index), DEMO_NOW, certificate_serials=serials)


@app.command()
def personalise(
    out_file: Annotated[Path, typer.Option("--out", help="Personalisation file to write (0600).")],
    resident: Annotated[str | None, typer.Option(help="Demo resident ID (demo-1 ... demo-8).")] = None,
    seed: Annotated[int, typer.Option(help="Key seed of the CA and the card keys.")] = 0,
    pinless: Annotated[
        bool, typer.Option("--pinless", help="A PIN-less card: auth certificate only, no PINs.")
    ] = False,
    licence: Annotated[
        str | None, typer.Option("--licence", help="Driving-licence number (12 digits) to write as the card's "
                                 "licence application; its 4-digit PIN is read from MYNA_LICENCE_PIN or asked for.")
    ] = None,
    licence_expiry: Annotated[
        str | None, typer.Option("--licence-expiry", help="The licence's expiry, YYYY-MM-DD (with --licence).")
    ] = None,
    licence_conditions: Annotated[
        str, typer.Option("--licence-conditions", help="The licence's conditions, e.g. 眼鏡等 (with --licence).")
    ] = "",
    residence_status: Annotated[
        str | None, typer.Option("--residence-status", help="Make it a combined residence card (特定在留カード) with "
                                 "this status of residence, e.g. 技術・人文知識・国際業務; the card number "
                                 "(12 characters) is read from MYNA_RESIDENCE_CARD_NUMBER or asked for.")
    ] = None,
    residence_period: Annotated[
        str | None, typer.Option("--residence-period", help="Period of stay as on the card, e.g. 3年 (with "
                                 "--residence-status).")
    ] = None,
    residence_expiry: Annotated[
        str | None, typer.Option("--residence-expiry", help="End of the period of stay, YYYY-MM-DD, or 'none' "
                                 "(無期限) (with --residence-status).")
    ] = None,
    residence_work: Annotated[
        str | None, typer.Option("--residence-work", help="Work restriction: none, status_only, designated or "
                                 "not_permitted (with --residence-status).")
    ] = None,
) -> None:
    """Issue a card to a demo resident and write its personalisation file."""
    import os
    from dataclasses import replace

    from emulators.personalisation import LicenceData, PersonalisationError

    lic: LicenceData | None = None
    if licence is None:
        if licence_expiry is not None or licence_conditions:
            raise _fail("--licence-expiry and --licence-conditions need --licence NUMBER")
    else:
        if licence_expiry is None:
            raise _fail("--licence needs --licence-expiry YYYY-MM-DD")
        try:
            expiry = dt.date.fromisoformat(licence_expiry)
        except ValueError:
            raise _fail(f"--licence-expiry: {licence_expiry!r} is not a date YYYY-MM-DD") from None
        pin = os.environ.get("MYNA_LICENCE_PIN")
        if pin is None:
            pin = typer.prompt("Licence PIN (4 digits)", hide_input=True, confirmation_prompt=True, err=True)
        try:
            lic = LicenceData(licence, expiry, licence_conditions, pin)
        except PersonalisationError as e:  # names the field, never the value
            field, _, why = str(e).partition(": ")
            flag = {"licence.number": "--licence", "licence.conditions": "--licence-conditions",
                    "licence.pin": "the licence PIN (MYNA_LICENCE_PIN)"}.get(field, field)  # fmt: skip
            raise _fail(f"{flag}: {why}") from None
    res = _residence_option(residence_status, residence_period, residence_expiry, residence_work)
    perso = _load_personalisation(resident, None, seed)
    if pinless:
        perso = replace(perso, pinless=True)
    if lic is not None:
        perso = replace(perso, licence=lic)
    if res is not None:
        perso = replace(perso, residence=res)
    perso.save(out_file)
    err.print(f"wrote {out_file} (mode 0600): {perso!r}", highlight=False, soft_wrap=True)


def _residence_option(status: str | None, period: str | None, expiry: str | None, work: str | None) -> Any:
    """The ``--residence-*`` options as :class:`emulators.personalisation.ResidenceData` (None without them);
    a bad value is named by its option, the card number never shown."""
    import os

    from emulators.personalisation import PersonalisationError, ResidenceData

    if status is None:
        if (period, expiry, work) != (None, None, None):
            raise _fail("--residence-period, --residence-expiry and --residence-work need --residence-status")
        return None
    for flag, v in (("--residence-period", period), ("--residence-expiry", expiry), ("--residence-work", work)):
        if v is None:
            raise _fail(f"--residence-status needs {flag}")
    until: dt.date | None = None
    if expiry != "none":
        try:
            until = dt.date.fromisoformat(expiry)  # type: ignore[arg-type]
        except ValueError:
            raise _fail(f"--residence-expiry: {expiry!r} is not a date YYYY-MM-DD or 'none'") from None
    number = os.environ.get("MYNA_RESIDENCE_CARD_NUMBER")
    if number is None:
        number = typer.prompt("Residence card number (12 characters)", hide_input=True, err=True)
    try:
        return ResidenceData(number, status, period, until, work)  # type: ignore[arg-type]
    except PersonalisationError as e:  # names the field, never the card number
        field, _, why = str(e).partition(": ")
        flag = {"residence.card_number": "the residence card number (MYNA_RESIDENCE_CARD_NUMBER)",
                "residence.status": "--residence-status", "residence.period": "--residence-period",
                "residence.work": "--residence-work"}.get(field, field)  # fmt: skip
        raise _fail(f"{flag}: {why}") from None


@app.command()
def serve(
    resident: Annotated[str | None, typer.Option(help="Demo resident ID (demo-1 ... demo-8).")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Personalisation file (JSON).")] = None,
    port: Annotated[int, typer.Option(help="vpcd port (see /etc/reader.conf.d/vpcd).")] = 35963,
    host: Annotated[str, typer.Option(help="Host where pcscd runs the vpcd driver.")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="Key seed for --resident.")] = 0,
    atr: Annotated[
        str | None, typer.Option(help="Answer-to-reset in hex (default 3BE000FF8131FE4514).")
    ] = None,
    contact_timeout: Annotated[
        float, typer.Option(help="Seconds to wait for vpcd to talk to the card (fails if another card holds the slot).")
    ] = 10.0,
) -> None:
    """Attach an emulated card to the vpcd virtual reader and serve it until pcscd stops."""
    import dataclasses

    from emulators.card_os import MynaCardOS
    from emulators.personalisation import PersonalisationError
    from emulators.vpcd import attach

    if not contact_timeout > 0 or contact_timeout == float("inf"):
        raise _fail(f"--contact-timeout: {contact_timeout!r} is not allowed; use a positive number of seconds")
    perso = _load_personalisation(resident, file, seed)
    if atr is not None:
        try:
            perso = dataclasses.replace(perso, atr=bytes.fromhex(atr))
        except ValueError as e:
            if isinstance(e, PersonalisationError):
                message = str(e).removeprefix("atr: ")
            else:
                message = f"{atr!r} is not hexadecimal"
            raise _fail(f"--atr: {message}") from None
    card = MynaCardOS(perso)
    try:
        icc = attach(card, host, port, contact_timeout)
    except ConnectionError as e:
        raise _fail(str(e), 1) from None
    err.print(f"card {perso!r} is in vpcd at {host}:{port}; Ctrl-C to remove it", highlight=False)
    try:
        icc.run()  # type: ignore[attr-defined]
    except (OSError, SystemExit, KeyboardInterrupt):
        pass
    finally:
        icc.stop()  # type: ignore[attr-defined]


def read_card_info(client: Any, my_number_pin: str | None = None) -> dict[str, Any]:
    """What ``twin card info`` shows, as a plain dict (the same for every reader)."""
    from dataclasses import asdict

    from emulators.jpki_client import CardError, mask_my_number
    from emulators.licence_app import LICENCE_AID
    from emulators.residence_app import RESIDENCE_AID

    info: dict[str, Any] = {"token_label": client.token_label(), "certificates": {}}
    for kind in ("auth", "auth_ca", "sign_ca", "sign"):
        try:
            info["certificates"][kind] = asdict(client.certificate_summary(kind))
        except CardError as e:
            if e.sw == 0x6A82:  # a PIN-less card has no signature certificate
                info["certificates"][kind] = {"kind": kind, "absent": "not on this card"}
                continue
            if e.sw != 0x6982:
                raise
            need = "the sign password" if kind == "sign" else "the auth PIN"  # a phone guards its auth cert
            info["certificates"][kind] = {"kind": kind, "protected": f"needs {need}"}
    info["retries"] = {}
    for p in ("auth", "sign", "input_support"):
        try:
            info["retries"][p] = client.retries(p)
        except CardError as e:
            if e.sw != 0x6A82:
                raise
            info["retries"][p] = None  # no such PIN on this card (PIN-less)
    try:
        ident = client.read_card_identity()
        info["card"] = {
            "serial": ident.serial, "municipality_code": ident.municipality_code,
            "expiry": ident.expiry.isoformat(),
        }
    except (CardError, ValueError) as e:  # a card generation without the common-AP record
        info["card"] = {"unavailable": str(e)}
    try:  # the licence AP (マイナ免許証) at the twin's assumed AID: present or not; its record needs its PIN
        client.select_ap(LICENCE_AID, force=True)
        info["licence_application"] = "present (record needs the licence PIN)"
    except CardError as e:
        if e.sw not in (0x6A82, 0x6A86, 0x6D00):
            raise
        info["licence_application"] = "absent"
    try:  # the residence AP (特定在留カード) at the twin's assumed AID; its record needs the face's card number
        client.select_ap(RESIDENCE_AID, force=True)
        info["residence_application"] = "present (record needs the card number from the face)"
    except CardError as e:
        if e.sw not in (0x6A82, 0x6A86, 0x6D00):
            raise
        info["residence_application"] = "absent"
    client.forget_selection()
    if my_number_pin is not None:
        info["my_number"] = mask_my_number(client.read_my_number(my_number_pin))
    return info


@app.command()
def info(
    reader: Annotated[str | None, typer.Option(help="PC/SC reader name (or prefix).")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Read an emulated card in-process instead.")
    ] = None,
    my_number: Annotated[
        bool, typer.Option("--my-number", help="Also read the My Number (asks for the PIN; masked).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Read the card in a reader: token label, certificates, PIN tries left, card record."""
    from emulators.jpki_client import CardError, JpkiClient
    from emulators.readers import InProcessReader, ReaderError

    if file is not None:
        from emulators.card_os import MynaCardOS

        rdr: Any = InProcessReader(MynaCardOS(_load_personalisation(None, file, 0)))
    else:
        from real_backends.pcsc import PcscReader

        rdr = PcscReader(reader)
    pin = typer.prompt("input-support PIN", hide_input=True, err=True) if my_number else None
    try:
        rdr.connect()
        try:
            data = read_card_info(JpkiClient(rdr), pin)
        finally:
            rdr.disconnect()
    except (ReaderError, CardError) as e:
        raise _fail(str(e), 1) from None
    data = {"reader": rdr.name, **data}
    if as_json:
        out.print_json(json.dumps(data, ensure_ascii=False))
        return
    out.print(f"reader      {data['reader']}", highlight=False)
    out.print(f"token       {data['token_label']}", highlight=False)
    c = data["card"]
    if "unavailable" in c:
        out.print(f"card        (record unavailable: {c['unavailable']})", highlight=False)
    else:
        out.print(f"card        {c['serial']}  municipality {c['municipality_code']}  expires {c['expiry']}")
    tries = ", ".join(f"{k} {'no PIN' if v is None else v}" for k, v in data["retries"].items())
    out.print(f"tries left  {tries}", highlight=False)
    out.print(f"licence     {data['licence_application']}", highlight=False)
    out.print(f"residence   {data['residence_application']}", highlight=False)
    for kind, cert in data["certificates"].items():
        if "protected" in cert or "absent" in cert:
            out.print(f"cert {kind:8s} ({cert.get('protected') or cert['absent']})", highlight=False)
        else:
            out.print(
                f"cert {kind:8s} {cert['subject']}  serial {cert['serial']}  "
                f"{cert['not_before'][:10]} .. {cert['not_after'][:10]}",
                highlight=False, soft_wrap=True,
            )
    if "my_number" in data:
        out.print(f"My Number   {data['my_number']}", highlight=False)
