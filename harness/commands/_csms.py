"""`v2g secc --csms URL`: the SECC's OCPP backend, its command-line options and how it joins the SECC server.

With ``--csms`` the SECC is a charging station of that CSMS (security profile 1 with ``--csms-auth`` over
``ws://``, profile 2 over ``wss://``, the CSMS's certificate checked against ``--csms-ca`` or the system's
CAs): every session's controller consults the CSMS (:mod:`iso15118.backend.controller`), an observer reads the
EV's needs, and the transaction messages wait in ``--csms-state``'s SQLite outbox until the CSMS acknowledges
them -- across outages and restarts. ``--cps DIR`` answers certificate requests from the test CPS of a
``v2g pki`` directory (when no CSMS provides them); either offers CertificateInstallation to the EVs.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from harness.config_pki import load_pkis
from harness.config_tls import read_certificates
from iso15118.backend.controller import Backend
from iso15118.backend.outbox import Outbox
from iso15118.backend.rpc import OcppVersion
from iso15118.backend.station import Station, StationConfig
from iso15118.certificates import CertificateProvider
from iso15118.config import SeccConfig
from iso15118.controller import EVSEController
from iso15118.errors import ConfigError
from iso15118.iso20.pnc import PncVerifier
from iso15118.security.pki import load_pki, read_pki
from iso15118.security.profiles import Entity
from iso15118.security.provider import LocalCps
from iso15118.transport.driver import Observer
from iso15118.transport.ocpp_link import CsmsConfig, OcppLink

__all__ = ["CsmsHooks", "CsmsOptions", "add_options", "backend", "options"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CsmsOptions:
    """The SECC's backend options."""

    url: str | None = None
    version: OcppVersion = OcppVersion.V201
    auth: tuple[str, str] | None = None
    ca: Path | None = None
    state: Path = Path(".")
    cps: tuple[Path, ...] = ()
    """Test PKIs whose CPS answers certificate requests (-20 and/or -2: each for its generation)."""
    sample_interval_s: float = 60.0
    pki: Path | None = None
    """The SECC's own PKI (--pki): its V2G root checks the CPS signature of relayed certificate responses."""


def _auth(text: str) -> tuple[str, str]:
    kind, _, rest = text.partition(":")
    user, sep, password = rest.partition(":")
    if kind != "basic" or not sep or not user:
        raise argparse.ArgumentTypeError("expected basic:USER:PASSWORD")
    return user, password


def add_options(parser: argparse.ArgumentParser) -> None:
    """Add the backend options to `v2g secc`."""
    group = parser.add_argument_group("OCPP backend")
    group.add_argument("--csms", metavar="URL", help="connect to this CSMS: ws[s]://HOST:PORT/PATH/STATION_ID")
    group.add_argument("--ocpp", choices=[v.value for v in OcppVersion], default="2.0.1", help="OCPP version")
    group.add_argument(
        "--csms-auth", type=_auth, metavar="basic:USER:PASS", help="HTTP Basic authentication (security profile 1/2)"
    )
    group.add_argument("--csms-ca", type=Path, metavar="FILE.pem", help="trust these CAs for wss:// (default: system)")
    group.add_argument(
        "--csms-state", type=Path, default=Path("."), metavar="DIR", help="where the OCPP outbox lives (default: .)"
    )
    group.add_argument(
        "--sample-interval", type=float, default=60.0, metavar="S", help="seconds between transaction meter values"
    )
    group.add_argument(
        "--cps",
        type=Path,
        action="append",
        metavar="DIR",
        help="answer certificate requests from this test PKI's CPS (once per generation: a -20 and a -2 PKI)",
    )


def _iso20_directory(directories: list[Path] | None) -> Path | None:
    """The -20 PKI among the ``--pki`` directories: its V2G root checks the CPS signature of relayed -20 answers."""
    layout = load_pkis(directories or ()).iso20
    return layout.directory if layout is not None else None


def options(args: argparse.Namespace) -> CsmsOptions:
    """The backend options given on the command line."""
    return CsmsOptions(
        url=args.csms,
        version=OcppVersion(args.ocpp),
        auth=args.csms_auth,
        ca=args.csms_ca,
        state=args.csms_state,
        cps=tuple(args.cps or ()),
        sample_interval_s=args.sample_interval,
        pki=_iso20_directory(args.pki),
    )


@dataclass
class CsmsHooks:
    """How the backend joins the SECC server (everything passes through unchanged without a backend)."""

    backend: Backend | None = None
    link: OcppLink | None = None
    certificates: CertificateProvider | None = None
    v2g_roots: tuple[Path, ...] = ()

    def controllers(self, make: Callable[[], EVSEController]) -> Callable[[], EVSEController]:
        """The per-connection controller factory, wrapped to consult the CSMS."""
        backend = self.backend
        if backend is None:
            return make
        return lambda: backend.controller(make())

    def observers(self, others: list[Observer]) -> list[Observer]:
        """The SECC's observers plus the backend's."""
        return [*others, self.backend.observer] if self.backend is not None else others

    def secc(self, config: SeccConfig) -> SeccConfig:
        """The SECC's configuration: CertificateInstallation offered when someone provides certificates."""
        if self.backend is None and self.certificates is None:
            return config
        return dataclasses.replace(config, certificate_installation=True)

    def pnc(self, verifier: PncVerifier | None) -> PncVerifier | None:
        """The PnC verifier, also checking relayed CPS signatures against the V2G root when it is known."""
        if verifier is None or not self.v2g_roots:
            return verifier
        roots = [cert for path in self.v2g_roots for cert in read_certificates(path)]
        return PncVerifier(verifier.roots, profile=verifier.profile, policy=verifier.policy, cps_roots=roots)

    def describe(self) -> str:
        """For the listening line."""
        if self.link is None:
            return ""
        return f"; CSMS {self.link.config.url} (OCPP {self.link.version})"


def _tls(ca: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca is not None:
        context.load_verify_locations(cafile=str(ca))
    return context


@contextlib.asynccontextmanager
async def backend(opts: CsmsOptions) -> AsyncIterator[CsmsHooks]:
    """The backend for these options (none without ``--csms``/``--cps``), its link running meanwhile."""
    cps = LocalCps.from_pkis(*(read_pki(load_pki(d)) for d in opts.cps)) if opts.cps else None
    roots: tuple[Path, ...] = ()
    if opts.pki is not None:
        roots = tuple(load_pki(opts.pki).roots(Entity.V2G_ROOT))
    if opts.url is None:
        yield CsmsHooks(certificates=cps, v2g_roots=roots)
        return
    tls = _tls(opts.ca) if opts.url.startswith("wss") else None
    where = CsmsConfig(url=opts.url, basic_auth=opts.auth, ssl_context=tls)
    if opts.auth is not None and opts.auth[0] != where.station_id:
        who = f"{where.station_id!r}, not {opts.auth[0]!r}"
        raise ConfigError(f"the Basic-auth user must be the station's identity {who}")
    outbox = Outbox(opts.state / f"ocpp-{where.station_id}.sqlite")
    station = Station(StationConfig(version=opts.version, sample_interval_s=opts.sample_interval_s), outbox)
    link = OcppLink(where, station)
    station.recover(time.time())  # transactions a crash left open end now, with their next seqNo
    hooks = CsmsHooks(backend=Backend(station, link, time.time, certificates=cps), link=link, v2g_roots=roots)
    await link.start()
    try:
        yield hooks
        await link.drain(5.0)  # what the sessions left in the outbox goes now if it can (else at the next start)
    finally:
        await link.stop()
        outbox.close()
