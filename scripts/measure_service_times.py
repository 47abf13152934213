"""Measure the service times of the real code paths the capacity scenario's server pools run.

One server of each pool is one Python worker running the service code, so the time one request
takes on one core is the pool's mean service time. This script times, on this machine:

- ``ocsp_fresh``: the OCSP responder signs a new answer (request with a nonce, never cached);
- ``ocsp_cached``: the answer comes from the pre-signed cache;
- ``crl_download``: a municipality's CRL partition is signed and serialised;
- ``eligibility_card_pin``: check by card with the PIN path (signature over a challenge verified,
  chain and time, OCSP status through the responder, person, qualification);
- ``eligibility_card_face``: the same after a face match (no signature to verify);
- ``eligibility_number``: check by insured number and birth date;
- ``portal_login``: Myna Portal login: the signature over a challenge, chain and time, OCSP;
- ``certificate_issue``: a renewal at the counter (auth and signature certificate issued).

in process (``seconds``), and then over loopback HTTP (``seconds_http``): the CPU one uvicorn worker
of the real server (:mod:`real_backends`) spends per request under ``wrk``, HTTP parsing and the
framework included. It writes both with the machine and date to
twin/models/capacity/service_times.json; the scenario's ``Params`` default to the HTTP figures.
Run: ``.venv/bin/python scripts/measure_service_times.py`` (``--code-only`` skips the servers).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "twin" / "models" / "capacity" / "service_times.json"
HOLDER_PIN = "1234"  # the deployment cards' user-authentication PIN


def _time(fn: Callable[[], object], repeats: int) -> float:
    """Median CPU seconds per call over ``repeats`` rounds of a short burst (warm caches, no GC noise).

    CPU time of this process, not wall time: what one core spends on the call, the same quantity the
    HTTP figures measure on the server, and unaffected by other processes competing for the cores.
    """
    fn()
    rounds = []
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(5):
            fn()
        rounds.append((time.process_time() - t0) / 5)
    return statistics.median(rounds)


def measure(repeats: int = 15) -> dict[str, float]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509 import ocsp

    from emulators.demo import DEMO_AUTH_PIN, demo_resident
    from emulators.jpki_client import JpkiClient
    from twin.models.capacity.cards import issue_card
    from twin.services.eligibility import (
        Consent,
        EligibilityService,
        InsurerKind,
        PersonFacts,
        Qualification,
        QualificationBook,
    )
    from twin.services.jpki import Jpki, KeySource
    from twin.services.store import MemoryStore

    now = dt.datetime(2026, 4, 1, 0, 30, tzinfo=dt.UTC)
    jpki = Jpki.bootstrap(now, KeySource(20260401))
    holder_keys = KeySource(20260401, pool_size=2)
    book = QualificationBook(MemoryStore())
    svc = EligibilityService(book, jpki)
    r = demo_resident("demo-1")
    q = Qualification(
        "06130012", "12340", "00", InsurerKind.SOCIETY,
        PersonFacts(r.info.name, r.info.birth_date, r.info.sex), dt.date(2020, 4, 1),
    )
    book.register(q)
    book.link(q.key, "p-1")
    book.register_card_use("p-1", dt.date(2021, 10, 20), key="measure")  # the card answers as the insurance card
    card = issue_card(jpki, holder_keys, r, "p-1", now)
    challenge = b"measure-challenge-0000000000000000"
    with card.reader() as reader:
        cert_der, sig = JpkiClient(reader).authenticate(DEMO_AUTH_PIN, challenge)
    from cryptography import x509

    cert = x509.load_der_x509_certificate(cert_der)
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, jpki.auth_ca.certificate, hashes.SHA1())
    plain = builder.build().public_bytes(Encoding.DER)
    with_nonce = builder.add_extension(x509.OCSPNonce(os.urandom(16)), critical=False).build().public_bytes(
        Encoding.DER
    )
    jpki.ocsp.presign([cert], now)

    def portal_login() -> None:
        cert = x509.load_der_x509_certificate(cert_der)
        from cryptography.hazmat.primitives.asymmetric import padding

        cert.public_key().verify(sig, challenge, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg,arg-type]
        if not jpki.validate(cert, now, kind="auth").ok or svc.ocsp_status(cert, now) != ocsp.OCSPCertStatus.GOOD:
            raise RuntimeError("portal login refused a good card")

    key = holder_keys.key(0)

    def issue() -> None:
        jpki.issue_auth_certificate(key.public_key(), r.info.birth_date, now, 13101, person_ref="p-1")
        from twin.services.jpki import BasicInfo

        info = BasicInfo(r.info.name, r.info.address, r.info.birth_date, r.info.sex)
        jpki.issue_sign_certificate(key.public_key(), info, now, 13101, person_ref="p-1")

    paths: dict[str, Callable[[], object]] = {
        "ocsp_fresh": lambda: jpki.ocsp.respond(with_nonce, now),
        "ocsp_cached": lambda: jpki.ocsp.respond(plain, now),
        "crl_download": lambda: jpki.crl("auth", now, 13101).public_bytes(Encoding.DER),
        "eligibility_card_pin": lambda: svc.check_by_card(
            cert_der, now, challenge=challenge, signature=sig, consent=Consent(True, True)
        ),
        "eligibility_card_face": lambda: svc.check_by_card(cert_der, now, face_verified=True),
        "eligibility_number": lambda: svc.check_by_number(*q.key, r.info.birth_date, now),
        "portal_login": portal_login,
        "certificate_issue": issue,
    }
    return {name: _time(fn, repeats) for name, fn in paths.items()}


def _group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of every live process in group ``pgid`` (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def measure_http(seconds: int = 3, card_bodies: int | None = None) -> dict[str, float]:
    """Server CPU per request over loopback HTTP: one uvicorn worker of the real server, driven by wrk.

    What one server of a pool spends per request in production terms: HTTP parsing, the framework,
    the fast path and the code. The worker's CPU time (from /proc) is divided by the requests wrk
    completed, so the load generator's own CPU is not counted. A card check or a portal login is
    two requests (GET a challenge, POST the signed answer): both are counted. ``card_bodies`` signed
    answers are prepared per card path (default: about what one worker answers in ``seconds``); each is
    sent once at most, and the run of that path ends when they are used up.
    """
    import shutil
    import subprocess

    from real_backends.eligibility_book import INSURER, insured_number, is_qualified, is_registered
    from real_backends.load.deployment import Deployment, DeploymentSpec
    from real_backends.load.driver import _ocsp_der
    from real_backends.load.server import serve
    from real_backends.portal_api import CardAuthenticator, card_answer

    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (make sysdeps installs it); --code-only skips the HTTP figures")
    spec = DeploymentSpec(holders=64, revoked_every=0)
    deployment = Deployment.build(spec)
    secret = os.urandom(32)
    holders = [h for h in deployment.holders if is_qualified(h) and is_registered(h)]  # cards that answer
    # The bodies are signed ahead of the run (the card emulator signs a few hundred a second, slower on
    # a busy machine), so their challenges live for an hour rather than the service's two minutes;
    # the server checks the MAC, the expiry and single use exactly as for a challenge it handed out.
    minter = CardAuthenticator(deployment.jpki, secret, challenge_ttl_s=3600.0)
    readers = [h.reader() for h in holders]
    scratch = Path(tempfile.mkdtemp(prefix="myna-measure-"))

    def script(name: str, method: str, path: str, bodies: list[bytes] | None, ctype: str, *,
               single_use: bool = False) -> Path:
        data = scratch / f"{name}.bin"
        lua = scratch / f"{name}.lua"
        if bodies is None:
            lua.write_text(f'wrk.method = "{method}"\nwrk.path = "{path}"\n')
            return lua
        data.write_bytes(b"".join(len(b).to_bytes(4, "big") + b for b in bodies))
        # Single-use bodies (signed challenges) are sent once at most: when they run out the wrk thread
        # stops, however fast or slow the machine is. A request written after the stop (another
        # connection in the same event-loop turn) is never read back, so it is not counted either way.
        # Reusable bodies (OCSP requests, insured numbers) go round in turn for the whole run.
        on_last = "wrk.thread:stop(); " if single_use else ""
        pick = "i = math.min(i + 1, #bodies)" if single_use else "i = i % #bodies + 1"
        lua.write_text(
            f'local f = io.open("{data}", "rb"); local raw = f:read("*a"); f:close()\n'
            "local bodies, i, pos = {}, 0, 1\n"
            "while pos <= #raw do local n = raw:byte(pos) * 16777216 + raw:byte(pos + 1) * 65536"
            " + raw:byte(pos + 2) * 256 + raw:byte(pos + 3); bodies[#bodies + 1] = raw:sub(pos + 4, pos + 3 + n);"
            " pos = pos + 4 + n end\n"
            f'wrk.headers["Content-Type"] = "{ctype}"\n'
            f"request = function() {pick}; if i == #bodies then {on_last}end\n"
            f'  return wrk.format("{method}", "{path}", nil, bodies[i]) end\n'
        )
        return lua

    def cpu_per_request(url: str, lua: Path) -> float:
        pgid = url.pid  # type: ignore[attr-defined]  # the server's own process group
        before = _group_cpu_seconds(pgid)
        out = subprocess.run([wrk, "-t1", "-c8", f"-d{seconds}s", "-s", str(lua), url], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
        spent = _group_cpu_seconds(pgid) - before
        done = int(out.split(" requests in ")[0].split()[-1])
        non2xx = int(out.split("Non-2xx or 3xx responses: ")[1].split()[0]) if "Non-2xx" in out else 0
        if non2xx:
            raise RuntimeError(f"{lua.stem}: {non2xx} of {done} answers were not 2xx")
        return spent / done

    def minted(n: int) -> list[bytes]:
        return [json.dumps(card_answer(minter.challenge().token, readers[i % len(readers)], HOLDER_PIN)).encode()
                for i in range(n)]  # fmt: skip

    n = card_bodies or 4_000 * seconds + 1_000  # about what one worker answers; the run stops early if it is faster
    cert = deployment.holders[0].auth_certificate
    out: dict[str, float] = {}
    env = {"MYNA_PORTAL_SECRET": secret.hex()}
    with serve("ocsp", spec, workers=1, env=env) as url:
        cached = [_ocsp_der(deployment, cert)]
        out["ocsp_cached"] = cpu_per_request(url, script("ocsp_cached", "POST", "/ocsp/auth", cached,
                                                         "application/ocsp-request"))  # fmt: skip
        nonced = [_ocsp_der(deployment, cert, os.urandom(16)) for _ in range(50)]
        out["ocsp_fresh"] = cpu_per_request(url, script("ocsp_fresh", "POST", "/ocsp/auth", nonced,
                                                        "application/ocsp-request"))  # fmt: skip
        out["crl_download"] = cpu_per_request(url, script("crl", "GET", "/crl/auth/13101.crl", None, ""))
    with serve("eligibility", spec, workers=1, env=env) as url:
        challenge = cpu_per_request(url, script("challenge", "GET", "/eligibility/challenge", None, ""))
        card = cpu_per_request(url, script("card", "POST", "/eligibility/card", minted(n),
                                           "application/json", single_use=True))  # fmt: skip
        out["eligibility_card_pin"] = challenge + card
        numbers = [json.dumps({"insurer_number": INSURER, "insured_number": insured_number(h), "branch": "00",
                               "birth_date": h.perso.basic_info.birth_date.isoformat()}).encode() for h in holders]
        out["eligibility_number"] = cpu_per_request(url, script("number", "POST", "/eligibility/number", numbers,
                                                                "application/json"))  # fmt: skip
    with serve("portal", spec, workers=1, env=env) as url:
        challenge = cpu_per_request(url, script("pchallenge", "GET", "/portal/challenge", None, ""))
        out["portal_login"] = challenge + cpu_per_request(
            url, script("login", "POST", "/portal/login", minted(n), "application/json", single_use=True))
    shutil.rmtree(scratch, ignore_errors=True)
    return out


def summarise(samples: list[float] | object) -> dict[str, float]:
    """A measured distribution: count, mean, cv, quantiles and the lognormal with the same log moments."""
    import numpy as np

    x = np.asarray(samples, dtype=float)
    if x.ndim != 1 or len(x) < 2 or not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise ValueError(f"samples: need 2 or more finite times > 0, got {len(np.atleast_1d(x))}")
    lx = np.log(x)
    q = np.quantile(x, [0.5, 0.9, 0.95, 0.99])
    return {"n": int(len(x)), "mean": float(x.mean()), "cv": float(x.std(ddof=1) / x.mean()),
            "p50": float(q[0]), "p90": float(q[1]), "p95": float(q[2]), "p99": float(q[3]),
            "lognormal_mu": float(lx.mean()), "lognormal_sigma": float(lx.std(ddof=1))}


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A P-256 server certificate for 127.0.0.1, valid for a day (loopback measurement only)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def measure_http_distributions(n: int = 2000) -> dict[str, dict[str, float]]:
    """End-to-end times of single requests, one at a time from one client over loopback, to one
    uvicorn worker of the real eligibility server, plain HTTP and HTTPS (uvicorn terminating TLS with
    a self-signed P-256 certificate), on a kept-alive connection and with a new connection (TLS
    handshake) per request. Also the worker's CPU per request (/proc), whose HTTPS - HTTP difference
    is the worker time TLS adds. The times include the client's own share (httpx), so they are an
    upper bound on the server's service time; with no other request in flight there is no queueing."""
    import httpx

    from real_backends.eligibility_book import INSURER, insured_number, is_qualified
    from real_backends.load.deployment import Deployment, DeploymentSpec
    from real_backends.load.server import serve

    spec = DeploymentSpec(holders=64, revoked_every=0)
    holders = [h for h in Deployment.build(spec).holders if is_qualified(h)]
    bodies = [{"insurer_number": INSURER, "insured_number": insured_number(h), "branch": "00",
               "birth_date": h.perso.basic_info.birth_date.isoformat()} for h in holders]
    scratch = Path(tempfile.mkdtemp(prefix="myna-measure-tls-"))
    out: dict[str, dict[str, float]] = {}
    try:
        tls = self_signed(scratch)
        for label, files in (("http", None), ("https", tls)):
            with serve("eligibility", spec, workers=1, tls=files) as url:
                pgid = url.pid  # type: ignore[attr-defined]
                for conn, keep in (("keepalive", True), ("new_connection", False)):
                    if not keep and files is None:
                        continue  # a new TCP connection on loopback costs little; TLS's handshake is the question
                    limits = httpx.Limits(max_keepalive_connections=1 if keep else 0)
                    times: list[float] = []
                    with httpx.Client(verify=str(files[0]) if files else True, limits=limits, timeout=10.0) as c:
                        for b in bodies[:8]:  # warm-up
                            c.post(url + "/eligibility/number", json=b).raise_for_status()
                        cpu0 = _group_cpu_seconds(pgid)
                        for i in range(n):
                            t0 = time.perf_counter()
                            r = c.post(url + "/eligibility/number", json=bodies[i % len(bodies)])
                            times.append(time.perf_counter() - t0)
                            r.raise_for_status()
                        cpu = (_group_cpu_seconds(pgid) - cpu0) / n
                    out[f"{label}_{conn}"] = {**summarise(times), "server_cpu_per_request": cpu}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out


def measure_postgres(rows: int = 1_000_000, n: int = 5000, seed: int = 1) -> dict[str, object]:
    """Round trips of the eligibility book's lookup against PostgreSQL holding ``rows`` insured.

    A throwaway PostgreSQL 15 cluster on loopback (:class:`real_backends.stores.pgserver.
    PostgresServer`), the services' own table (:data:`real_backends.stores.postgres.SCHEMA`) filled
    with ``rows`` qualification records by the server (generate_series), then ``n`` lookups of
    random insured by primary key, one at a time from one connection (psycopg, prepared): the same
    ``SELECT v FROM records WHERE tbl = .. AND k = ..`` the store runs for a qualification."""
    import numpy as np
    import psycopg

    from real_backends.stores.pgserver import PostgresServer
    from real_backends.stores.postgres import SCHEMA

    rng = np.random.default_rng(seed)
    with PostgresServer() as pg, psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(SCHEMA)
        t0 = time.perf_counter()
        conn.execute(
            "INSERT INTO records (tbl, k, kind, ik, sk, v) SELECT 'qualification', "
            "'01130012|' || lpad(i::text, 8, '0') || '|00', 0, i, '', "
            "'{\"insurer\":\"01130012\",\"number\":\"' || lpad(i::text, 8, '0') || '\",\"branch\":\"00\","
            "\"kind\":\"association\",\"birth\":\"1970-01-01\",\"from\":\"2020-04-01\",\"person\":\"p-' || i || '\"}' "
            "FROM generate_series(1, %s) AS i", (rows,))
        conn.execute("VACUUM ANALYZE records")
        build = time.perf_counter() - t0
        keys = [f"01130012|{int(i):08d}|00" for i in rng.integers(1, rows + 1, n + 50)]
        q = "SELECT v FROM records WHERE tbl = %s AND k = %s"
        for k in keys[:50]:
            conn.execute(q, ("qualification", k), prepare=True).fetchone()
        times = []
        for k in keys[50:]:
            t = time.perf_counter()
            row = conn.execute(q, ("qualification", k), prepare=True).fetchone()
            times.append(time.perf_counter() - t)
            if row is None:
                raise RuntimeError(f"{k}: not in the book")
        count = conn.execute("SELECT count(*) FROM records").fetchone()[0]
        size = conn.execute("SELECT pg_total_relation_size('records')").fetchone()[0]
    return {"lookup": summarise(times), "rows": int(count), "build_seconds": build, "table_bytes": int(size)}


def distributions_doc(http: dict[str, dict[str, float]], pg: dict[str, object], argv: list[str] | None) -> dict:
    """The distributions block of service_times.json, with what the scenarios take from it:
    ``tls_seconds`` (worker CPU TLS adds per request on a kept-alive connection) and
    ``database_seconds`` (mean PostgreSQL round trip) with ``database_cv``."""
    look = pg["lookup"]  # type: ignore[index]
    dist = {**{f"eligibility_number_{k}": v for k, v in http.items()}, "postgres_lookup": look}
    tls = max(http["https_keepalive"]["server_cpu_per_request"] - http["http_keepalive"]["server_cpu_per_request"],
              0.0)
    return {
        "distributions": {
            "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": " ".join(["scripts/measure_service_times.py", *(argv if argv is not None else sys.argv[1:])]),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                        "postgresql": "15 (Debian binaries, /usr/lib/postgresql/15)"},
            "book_rows": pg["rows"], "book_build_seconds": round(float(pg["build_seconds"]), 1),  # type: ignore[arg-type]
            "book_table_bytes": pg["table_bytes"],
            "tls_seconds": round(tls, 7),
            "tls_handshake_seconds": round(http["https_new_connection"]["server_cpu_per_request"]
                                           - http["https_keepalive"]["server_cpu_per_request"], 7),
            "database_seconds": round(float(look["mean"]), 7),  # type: ignore[index]
            "database_cv": round(float(look["cv"]), 3),  # type: ignore[index]
            "seconds": {k: {kk: (round(vv, 7) if isinstance(vv, float) else vv) for kk, vv in v.items()}
                        for k, v in dist.items()},
        },
        "distributions_method": (
            "end to end, one request at a time from one client over loopback (no queueing): "
            "eligibility_number_*: POST /eligibility/number to one uvicorn worker of the real eligibility server "
            "(httpx client), plain HTTP and HTTPS (uvicorn with a self-signed P-256 certificate), on a kept-alive "
            "connection and with a new connection (TLS handshake) per request; server_cpu_per_request from /proc. "
            "postgres_lookup: the store's SELECT by primary key against a throwaway PostgreSQL 15 cluster holding "
            "book_rows qualification records (psycopg, prepared, one connection). Wall-clock times on a shared "
            "machine: the tails include other processes' scheduling. tls_seconds = HTTPS - HTTP worker CPU per "
            "request (kept alive); database_seconds/cv = the lookup's mean and cv."),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--seconds", type=int, default=3, help="wrk seconds per HTTP path")
    ap.add_argument("--code-only", action="store_true", help="skip the HTTP measurement (no servers, no wrk)")
    ap.add_argument("--distributions", action="store_true",
                    help="also time single requests end to end (HTTP, HTTPS, PostgreSQL) and write distributions")
    ap.add_argument("--distributions-only", action="store_true",
                    help="measure only the distributions; keep the means already in --out")
    ap.add_argument("--requests", type=int, default=2000, help="requests timed per HTTP/HTTPS distribution")
    ap.add_argument("--book-rows", type=int, default=1_000_000, help="insured in the PostgreSQL book")
    ap.add_argument("--lookups", type=int, default=5000, help="PostgreSQL lookups timed")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    for name in ("requests", "book_rows", "lookups"):
        if getattr(args, name) < 10:
            ap.error(f"--{name.replace('_', '-')} {getattr(args, name)}: use 10 or more")
    if args.distributions_only:
        if not args.out.exists():
            ap.error(f"--distributions-only: {args.out} does not exist (run without it first)")
        doc = json.loads(args.out.read_text())
        doc.update(distributions_doc(measure_http_distributions(args.requests),
                                     measure_postgres(args.book_rows, args.lookups), argv))
        args.out.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        print(json.dumps(doc["distributions"], indent=1))
        print(f"written to {args.out}")
        return 0
    if args.repeats < 1:
        ap.error(f"--repeats {args.repeats}: use 1 or more")
    if args.seconds < 1:
        ap.error(f"--seconds {args.seconds}: use 1 or more")
    seconds = measure(args.repeats)
    doc = {
        "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "method": f"CPU time, median of {args.repeats} bursts of 5 calls, one thread, warm",
        "seconds": {k: round(v, 7) for k, v in seconds.items()},
    }
    if not args.code_only:
        http = measure_http(args.seconds)
        # paths no server answers with a card: the card path's HTTP and framework share added to the code time
        http["eligibility_card_face"] = seconds["eligibility_card_face"] + http["eligibility_card_pin"] - seconds[
            "eligibility_card_pin"]  # fmt: skip
        doc["http_method"] = (f"server CPU per request (/proc) of one uvicorn worker of the real server under wrk "
                              f"(1 thread, 8 connections, {args.seconds} s per path), loopback; a card check or "
                              "portal login counts its challenge GET too; card_face = code time + the card "
                              "path's HTTP share; certificate_issue is not served over HTTP (code time)")  # fmt: skip
        doc["seconds_http"] = {k: round(v, 7) for k, v in http.items()}
    if args.distributions:
        doc.update(distributions_doc(measure_http_distributions(args.requests),
                                     measure_postgres(args.book_rows, args.lookups), argv))
    elif args.out.exists():  # keep the distributions of an earlier run when only the means are re-measured
        old = json.loads(args.out.read_text())
        doc.update({k: old[k] for k in ("distributions", "distributions_method") if k in old})
    args.out.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    for k, v in seconds.items():
        over = doc.get("seconds_http", {}).get(k)
        print(f"{k:24s} {v * 1000:9.3f} ms" + (f"   over HTTP {over * 1000:9.3f} ms" if over else ""))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
