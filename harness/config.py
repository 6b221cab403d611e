"""TOML configuration of `v2g secc` and `v2g evcc`: a charger or EV persona file -> frozen config objects.

A file has up to five tables; every key is optional and command-line options override file values::

    secc.toml: [runtime] [secc] [evse] [tls] [pnc]     evcc.toml: [runtime] [evcc] [ev] [tls] [pnc]

``[secc]``/``[evcc]`` are the fields of :class:`~iso15118.config.SeccConfig` /
:class:`~iso15118.config.EvccConfig`, ``[evse]``/``[ev]`` those of the simple controllers'
configurations, ``[tls]`` those of :class:`~iso15118.security.tls.TlsConfig` (files; the mode comes from
``tolerant``), ``[runtime]`` says where to listen or connect and how strict to be, ``[pnc]`` names the
Plug & Charge files. With ``pki = DIR`` (a `v2g pki init` directory) the TLS identities, trusted roots,
contract credentials and MO roots come from the PKI; ``[tls]``/``[pnc]`` keys override single files.

Values are type-checked against the dataclass fields; an unknown table or key, or a value of the wrong
type, is a :class:`~iso15118.errors.ConfigError` naming the file (or "command line"), the table and the key.
Relative paths are relative to the file's folder. This module and the CLI are the only readers of files and
of the environment (``SSLKEYLOGFILE`` arrives as the ``environ`` argument).
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509

from harness.config_pki import evcc_contract, iso2_tls, iso20_tls, load_pkis, speaks
from harness.config_tls import TlsFiles, evccid_of, policy, read_certificates, tls_config
from harness.protocols import PROTOCOLS, evcc_protocols, secc_offer
from iso15118.config import EVCC_CHOICES, SECC_CHOICES, EvccConfig, SeccConfig
from iso15118.controller import ChargeDirection
from iso15118.errors import ConfigError
from iso15118.iso20.services import AC, AC_BPT, DC, DC_BPT, FAMILY_SERVICES
from iso15118.security.pki import PkiLayout
from iso15118.security.profiles import CONTRACT_ANCHORS, SECC_ANCHORS, VEHICLE_ANCHORS, Entity
from iso15118.session.connection import Role
from iso15118.session.selection import EnergyFamily
from iso15118.simple import SimpleEVConfig, SimpleEVSEConfig
from iso15118.transport.evcc_client import EvccClientConfig
from iso15118.transport.generations import Standard
from iso15118.transport.secc_server import SeccServerConfig

__all__ = [
    "COMMAND_LINE",
    "EvccSettings",
    "Overrides",
    "SeccSettings",
    "load_evcc_settings",
    "load_secc_settings",
    "read_toml",
]

COMMAND_LINE = "command line"
Overrides = Mapping[str, Mapping[str, object]]
"""Command-line values by table and key, e.g. ``{"runtime": {"port": 50000}}``."""

T = TypeVar("T")


# ---- the [runtime] and [pnc] tables ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class _Common:
    tolerant: bool = False
    tls: bool = True
    """False: plain TCP (tolerant mode only) [V2G20-1264]."""
    timing_scale: float | None = None
    pki: tuple[Path, ...] = ()
    """`v2g pki init` directories, at most one per generation (:mod:`harness.config_pki`)."""
    keylog: Path | None = None
    trace: Path | None = None
    journal: Path | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _SeccRuntime(_Common):
    iface: str | None = None
    listen: str | None = None
    port: int = 0
    sdp: bool = True
    sdp_port: int = 15118
    handshake_timeout_s: float = 10.0
    once: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class _EvccRuntime(_Common):
    iface: str | None = None
    target: str | None = None
    slac: bool = False
    slac_timeout_s: float | None = None
    modem_standin: bool = False
    sdp_tries: int = 50
    sdp_timeout_per_try_s: float = 0.25
    sdp_destination: str = "ff02::1"
    sdp_port: int = 15118
    connect_timeout_s: float = 10.0
    vehicle_certificate: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class _SeccPnc:
    trust_roots: tuple[Path, ...] = ()
    """MO (or V2G) roots that contract chains must chain to; default: the PKI's MO root."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _EvccPnc:
    contract_chain: Path | None = None
    contract_key: Path | None = None


# ---- results ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class SeccSettings:
    """Everything `v2g secc` needs."""

    server: SeccServerConfig
    secc: SeccConfig
    evse: SimpleEVSEConfig
    pnc_roots: tuple[Path, ...]
    """MO roots for the -20 PncVerifier (empty: -20 PnC not offered)."""
    iso2_pki: PkiLayout | None = None
    """The -2 PKI when -2 is offered: TLS 1.2, and its MO root and contract pool for -2 PnC."""
    notes: tuple[str, ...] = ()
    """What was left out of the offer, and why."""
    once: bool = False
    trace: Path | None = None
    journal: Path | None = None

    def pnc_certificates(self) -> list[x509.Certificate]:
        """The MO root certificates named by ``pnc_roots``."""
        return [cert for path in self.pnc_roots for cert in read_certificates(path)]


@dataclass(frozen=True, slots=True, kw_only=True)
class EvccSettings:
    """Everything `v2g evcc` needs (contract credentials are already loaded into ``evcc``)."""

    client: EvccClientConfig
    evcc: EvccConfig
    ev: SimpleEVConfig
    notes: tuple[str, ...] = ()
    """What was left out of the offer, and why."""
    trace: Path | None = None
    journal: Path | None = None


# ---- reading and checking values -------------------------------------------------------------------------
class _Values:
    """One table's raw values with their origins (file or command line) and the folder for relative paths."""

    def __init__(self, table: str, data: Mapping[str, Any], *, source: str, base: Path) -> None:
        self.table = table
        self.data = dict(data)
        self.origin = dict.fromkeys(data, source)
        self.bases = dict.fromkeys(data, base)

    def override(self, values: Mapping[str, object]) -> None:
        for key, value in values.items():
            if value is None:
                continue
            self.data[key] = value
            self.origin[key] = COMMAND_LINE
            self.bases[key] = Path.cwd()

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.origin.get(key, COMMAND_LINE)}: [{self.table}] {key}: {message}")


def _type_name(tp: Any) -> str:
    if isinstance(tp, type) and issubclass(tp, Enum):
        return "one of " + ", ".join(repr(m.value) for m in tp)
    names = {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        Path: "a path",
        bytes: "a hex string",
    }
    if tp in names:
        return names[tp]
    return str(tp).replace("typing.", "")


def _convert(value: object, tp: Any, values: _Values, key: str) -> object:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        arms = [a for a in args if a is not type(None)]
        return _convert(value, arms[0], values, key)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise values.error(key, f"expected an array, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], values, key) for v in value)
        if len(value) != len(args):
            raise values.error(key, f"expected an array of {len(args)} values, got {value!r}")
        return tuple(_convert(v, a, values, key) for v, a in zip(value, args, strict=True))
    if isinstance(tp, type) and issubclass(tp, Enum):
        # Enum values in any case ("dc", "Dynamic"): command-line and file spellings differ.
        spelled = value.lower() if isinstance(value, str) else value
        found = [m for m in tp if m.value == value or str(m.value).lower() == spelled]
        if not found:
            raise values.error(key, f"expected {_type_name(tp)}, got {value!r}")
        return found[0]
    if tp is bool and isinstance(value, bool):
        return value
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp is str and isinstance(value, str):
        return value
    if tp is Path and isinstance(value, str | Path):
        path = Path(value).expanduser()
        return path if path.is_absolute() else values.bases.get(key, Path.cwd()) / path
    if tp is bytes and isinstance(value, str):
        try:
            return bytes.fromhex(value)
        except ValueError:
            raise values.error(key, f"expected a hex string, got {value!r}") from None
    raise values.error(key, f"expected {_type_name(tp)}, got {value!r}")


_FROM_PKI: dict[tuple[type, str], str] = {(EvccConfig, "credentials"): "comes from the PKI or the [pnc] table"}
_CHOICES: dict[tuple[type, str], tuple[str, ...]] = {
    **{(EvccConfig, key): allowed for key, allowed in EVCC_CHOICES.items()},
    **{(SeccConfig, key): allowed for key, allowed in SECC_CHOICES.items()},
}
_SIGNED = {(SimpleEVSEConfig, "setpoint_w")}
"""Numbers that may be negative (everything else is a magnitude, a count or a time)."""
_PERCENT = {(SimpleEVConfig, "soc"), (SimpleEVConfig, "target_soc"), (SimpleEVConfig, "min_soc")}
_CONTROL_MODES = {"scheduled": 1, "dynamic": 2}
_SERVICES = {"ac": AC, "ac_bpt": AC_BPT, "dc": DC, "dc_bpt": DC_BPT}


def _special(cls: type, key: str, value: object, values: _Values) -> tuple[bool, object]:
    """Fields with friendlier spellings than their types: control modes and services by name."""
    spellings: dict[tuple[type, str], dict[str, int]] = {
        (SeccConfig, "control_modes"): _CONTROL_MODES,
        (SeccConfig, "services"): _SERVICES,
    }
    named = spellings.get((cls, key))
    if named is None:
        return False, None
    if not isinstance(value, list | tuple) or not value:
        raise values.error(key, f"expected a non-empty array of {', '.join(map(repr, named))}, got {value!r}")
    out = []
    for item in value:
        if isinstance(item, str) and item.lower() in named:
            out.append(named[item.lower()])
        elif isinstance(item, int) and not isinstance(item, bool) and item in named.values():
            out.append(item)
        else:
            raise values.error(key, f"expected {', '.join(map(repr, named))}, got {item!r}")
    return True, tuple(out)


def _check_range(cls: type, key: str, value: object, values: _Values) -> None:
    numbers = value if isinstance(value, tuple) else (value,)
    for number in numbers:
        if isinstance(number, bool) or not isinstance(number, int | float):
            continue
        if number < 0 and (cls, key) not in _SIGNED:
            raise values.error(key, f"must be >= 0, got {number!r}")
        if (cls, key) in _PERCENT and number > 100:
            raise values.error(key, f"is a percentage, got {number!r}")


def _build(cls: type[T], values: _Values) -> T:
    """An instance of the dataclass ``cls`` from ``values``; unknown keys and bad values are refused."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values.data) - set(fields))
    if unknown:
        raise values.error(unknown[0], f"unknown key (known: {', '.join(sorted(fields))})")
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, object] = {}
    for key, value in values.data.items():
        if (cls, key) in _FROM_PKI:
            raise values.error(key, _FROM_PKI[(cls, key)])
        handled, converted = _special(cls, key, value, values)
        if not handled:
            converted = _convert(value, hints[key], values, key)
        _check_range(cls, key, converted, values)
        choices = _CHOICES.get((cls, key))
        if choices is not None:
            items = converted if isinstance(converted, tuple) else (converted,)
            bad = [v for v in items if v not in choices]
            if bad:
                raise values.error(key, f"expected one of {', '.join(choices)}, got {bad[0]!r}")
        kwargs[key] = converted
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[{values.table}]: {exc}") from None


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a missing file or a syntax error is a ConfigError naming the file."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _tables(path: Path | None, known: tuple[str, ...], overrides: Overrides) -> dict[str, _Values]:
    data = read_toml(path) if path is not None else {}
    source = str(path) if path is not None else COMMAND_LINE
    base = path.resolve().parent if path is not None else Path.cwd()
    for name, value in data.items():
        if name not in known:
            raise ConfigError(f"{source}: unknown table [{name}] (known: {', '.join(f'[{k}]' for k in known)})")
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {name} must be a table [{name}], got {value!r}")
    tables = {name: _Values(name, data.get(name, {}), source=source, base=base) for name in known}
    for name, values in overrides.items():
        if name not in tables:
            raise ConfigError(f"{COMMAND_LINE}: unknown table [{name}]")
        tables[name].override(values)
    return tables


def _tls_options(runtime: _Common, environ: Mapping[str, str] | None) -> dict[str, Any]:
    return {"enabled": runtime.tls, "keylog": runtime.keylog, "environ": environ or {}}


# ---- the two loaders -------------------------------------------------------------------------------------
def _listed(values: _Values, key: str) -> None:
    """A single value where an array is allowed (``pki = "pki"``) as a one-item array."""
    if isinstance(values.data.get(key), str | Path):
        values.data[key] = [values.data[key]]


def load_secc_settings(
    path: Path | None,
    overrides: Overrides | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    protocols: Sequence[str] | None = None,
    energy: Sequence[EnergyFamily] | None = None,
) -> SeccSettings:
    """The SECC's settings from a TOML file (or none) and command-line ``overrides``; ``protocols`` and
    ``energy`` (command-line names) replace the offered generations (default: the file's, else all three) and
    narrow the services."""
    tables = _tables(path, ("runtime", "secc", "evse", "tls", "pnc"), overrides or {})
    _listed(tables["runtime"], "pki")
    runtime = _build(_SeccRuntime, tables["runtime"])
    default = protocols is None and "protocols" not in tables["secc"].data
    protocols = PROTOCOLS if default else protocols
    secc, notes = secc_offer(_build(SeccConfig, tables["secc"]), protocols, energy, default=default)
    evse = _build(SimpleEVSEConfig, tables["evse"])
    pnc = _build(_SeccPnc, tables["pnc"])
    files = _build(TlsFiles, tables["tls"])
    pkis = load_pkis(runtime.pki)
    pki = pkis.iso20
    tls = None
    if speaks(secc.protocols, Standard.ISO20):
        # The SECC presents its chain and trusts only the vehicle trust anchors for client certificates
        # [V2G20-1264]: the OEM root of a PKI. The V2G root also anchors the CPO and CPS chains, so trusting it
        # for vehicles would let a charger's SECC leaf pass as a car; [tls] trust_roots may name other anchors.
        options = _tls_options(runtime, environ)
        tls = iso20_tls(
            lambda: tls_config(files, **options, leaf=Entity.SECC_LEAF, roots=VEHICLE_ANCHORS, pki=pki), pkis
        )
        if tls is not None and (tls.certificate_chain is None or tls.private_key is None):
            raise ConfigError("the SECC needs its certificate chain and key: a PKI (--pki) or [tls] files")
    iso2 = pkis.iso2 if speaks(secc.protocols, Standard.ISO2) else None
    pnc_roots = pnc.trust_roots
    if "PnC" in secc.authorization and not pnc_roots:
        if pki is None and iso2 is None:
            raise ConfigError("PnC needs MO roots to verify contracts: a PKI (--pki) or [pnc] trust_roots")
        pnc_roots = tuple(pki.roots(*CONTRACT_ANCHORS)) if pki is not None else ()
    tls_iso2 = iso2_tls(pkis, server=True, enabled=runtime.tls, keylog=runtime.keylog, environ=environ or {})
    made = policy(
        tls,
        tolerant=runtime.tolerant,
        timing_scale=runtime.timing_scale,
        role=Role.SECC,
        protocols=secc.protocols,
        tls_iso2=tls_iso2 if iso2 is not None else None,
    )
    server = SeccServerConfig(
        policy=made,
        iface=runtime.iface,
        listen=runtime.listen,
        port=runtime.port,
        sdp=runtime.sdp,
        sdp_port=runtime.sdp_port,
        handshake_timeout_s=runtime.handshake_timeout_s,
    )
    return SeccSettings(
        server=server,
        secc=secc,
        evse=evse,
        pnc_roots=pnc_roots,
        iso2_pki=iso2,
        notes=notes,
        once=runtime.once,
        trace=runtime.trace,
        journal=runtime.journal,
    )


def load_evcc_settings(
    path: Path | None,
    overrides: Overrides | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    protocols: Sequence[str] | None = None,
) -> EvccSettings:
    """The EVCC's settings from a TOML file (or none) and command-line ``overrides``; ``protocols``
    (command-line names, priority order; default: the file's, else iso20,iso2,din) replace the offered
    namespaces."""
    tables = _tables(path, ("runtime", "evcc", "ev", "tls", "pnc"), overrides or {})
    _listed(tables["runtime"], "pki")
    runtime = _build(_EvccRuntime, tables["runtime"])
    ev = _build(SimpleEVConfig, tables["ev"])
    default = protocols is None and "protocols" not in tables["evcc"].data
    protocols = PROTOCOLS if default else protocols
    if protocols is not None and set(protocols) == {"din"} and "energy" not in tables["evcc"].data:
        tables["evcc"].override({"energy": "DC"})  # a DIN 70121 EV is a DC one
    discharge = ev.direction is ChargeDirection.DISCHARGE
    config = _build(EvccConfig, tables["evcc"])
    evcc, notes = evcc_protocols(config, protocols, discharge=discharge, default=default)
    pnc = _build(_EvccPnc, tables["pnc"])
    files = _build(TlsFiles, tables["tls"])
    pkis = load_pkis(runtime.pki)
    pki = pkis.iso20
    tls = None
    if speaks(evcc.offered_protocols, Standard.ISO20):
        # The EVCC trusts the V2G root and presents the vehicle certificate [V2G20-1264].
        leaf = Entity.VEHICLE_LEAF if runtime.vehicle_certificate else None
        options = _tls_options(runtime, environ)
        tls = iso20_tls(lambda: tls_config(files, **options, leaf=leaf, roots=SECC_ANCHORS, pki=pki), pkis)
    if "evcc_id" not in tables["evcc"].data and tls is not None and tls.certificate_chain is not None:
        # The EVCCID is the vehicle certificate's CN [V2G20-2598], unless one is configured.
        evcc = dataclasses.replace(evcc, evcc_id=evccid_of(tls.certificate_chain, evcc.evcc_id))
    if evcc.resume_session_id is not None:
        if len(evcc.resume_session_id) != 8:
            raise ConfigError(f"[evcc] resume_session_id: a SessionID has 8 bytes, got {len(evcc.resume_session_id)}")
        if evcc.resume_service_id is None:
            # The EV resumes the service it had selected [V2G20-2539]: the BPT one when it is bidirectional.
            plain, bpt = FAMILY_SERVICES[evcc.energy]
            service = bpt if evcc.bidirectional and ev.bidirectional else plain
            evcc = dataclasses.replace(evcc, resume_service_id=service)
    if evcc.authorization == "PnC":
        contract = evcc_contract(evcc.offered_protocols, pnc.contract_chain, pnc.contract_key, pkis)
        evcc = dataclasses.replace(evcc, credentials=contract)
    iso2 = speaks(evcc.offered_protocols, Standard.ISO2)
    tls_iso2 = iso2_tls(pkis, server=False, enabled=runtime.tls, keylog=runtime.keylog, environ=environ or {})
    made = policy(
        tls,
        tolerant=runtime.tolerant,
        timing_scale=runtime.timing_scale,
        role=Role.EVCC,
        protocols=evcc.offered_protocols,
        tls_iso2=tls_iso2 if iso2 else None,
    )
    client = EvccClientConfig(
        policy=made,
        iface=runtime.iface,
        target=runtime.target,
        slac=runtime.slac,
        slac_timeout_s=runtime.slac_timeout_s,
        modem_standin=runtime.modem_standin,
        sdp_tries=runtime.sdp_tries,
        sdp_timeout_per_try_s=runtime.sdp_timeout_per_try_s,
        sdp_destination=runtime.sdp_destination,
        sdp_port=runtime.sdp_port,
        connect_timeout_s=runtime.connect_timeout_s,
    )
    if client.target is None and client.iface is None:
        raise ConfigError("the EVCC needs an interface (--iface) or a target ([runtime] target, --target)")
    return EvccSettings(client=client, evcc=evcc, ev=ev, notes=notes, trace=runtime.trace, journal=runtime.journal)
