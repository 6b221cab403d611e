"""Which test PKI: ISO 15118-20 (the default) or ISO 15118-2, as data the PKI builder and checker read.

A :class:`PkiKind` bundles what differs between the two generations' PKIs: the certificate table, the key
algorithms and the digest the issuers sign with, the chain policy certificates are validated with, the
DER size limit, and the words of the README. The directory layout and file names are the same for both
(:mod:`iso15118.security.pki`); the manifest records the kind (``"profile": "iso2"``; a manifest without
the key is a -20 PKI, as every PKI written before -2 existed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from iso15118.errors import ConfigError
from iso15118.security.certs import ISO2, STRICT, ChainPolicy
from iso15118.security.iso2_profiles import ISO2_MAX_CERTIFICATE_DER_SIZE, ISO2_PROFILES
from iso15118.security.issuing import HashName, KeyAlgorithm
from iso15118.security.profiles import MAX_CERTIFICATE_DER_SIZE, PROFILES, Entity, Profile

__all__ = ["ISO2_PKI", "ISO20_PKI", "PKI_KINDS", "PkiKind", "pki_kind"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PkiKind:
    """What one generation's test PKI consists of and how it is checked."""

    name: str  # as in the manifest and on the command line: "iso20" | "iso2"
    title: str  # "ISO 15118-20"
    profiles: Mapping[Entity, Profile]
    algorithms: tuple[KeyAlgorithm, ...]  # allowed for the whole PKI; the first is the default
    hash_name: HashName  # what ECDSA issuers sign with
    policy: ChainPolicy  # how verify_pki_layout validates the chains
    max_der_size: int
    trust: str  # README lines: who trusts which root, how TLS uses the files ({evccid} is filled in)

    @property
    def entities(self) -> tuple[Entity, ...]:
        """The certificates of this PKI, issuers first."""
        return tuple(self.profiles)

    def algorithm(self, value: KeyAlgorithm | str | None) -> KeyAlgorithm:
        """``value`` as a :class:`KeyAlgorithm` this PKI allows (None: the default); ConfigError otherwise."""
        if value is None:
            return self.algorithms[0]
        allowed = " or ".join(a.value for a in self.algorithms)
        rule = " [V2G20-2320]" if self.name == "iso20" else ""
        try:
            algorithm = KeyAlgorithm(value)
        except ValueError:
            raise ConfigError(f"the {self.title} PKI uses {allowed}, not {value!r}{rule}") from None
        if algorithm not in self.algorithms:
            raise ConfigError(f"the {self.title} PKI uses {allowed}, not {algorithm.value!r}{rule}")
        return algorithm


ISO20_PKI: Final = PkiKind(
    name="iso20",
    title="ISO 15118-20",
    profiles=PROFILES,
    algorithms=(KeyAlgorithm.SECP521R1, KeyAlgorithm.ED448),
    hash_name=HashName.SHA512,
    policy=STRICT,
    max_der_size=MAX_CERTIFICATE_DER_SIZE,
    trust=(
        "Trust: an EVCC trusts `roots/v2g_root.pem` (server side); an SECC trusts `roots/oem_root.pem` for "
        "vehicle certificates (not the V2G root, which also anchors the SECC and CPS leafs) and "
        "`roots/mo_root.pem` for contracts.\n"
        "Roles: the leafs' domainComponent says whose they are (CPO = SECC, CPS, OEM = vehicle and OEM "
        "provisioning, MO = contract); the SECC leaf has extendedKeyUsage serverAuth, the vehicle leaf "
        "clientAuth. `v2g pki verify --as vehicle|secc|cps|contract CERT --roots DIR` says whether a "
        "certificate fits a role, and why not.\n"
        "EVCCID: the vehicle leaf's CN `{evccid}` is the EVCCID the EV sends in SessionSetupReq "
        "(`v2g evcc --pki DIR` takes it from the certificate unless `[evcc] evcc_id` is set).\n"
        "TLS: the SECC sends `chains/secc_leaf_chain.pem` with `private/secc_leaf.key.pem`; the EVCC sends "
        "`chains/vehicle_leaf_chain.pem` with `private/vehicle_leaf.key.pem`."
    ),
)

ISO2_PKI: Final = PkiKind(
    name="iso2",
    title="ISO 15118-2",
    profiles=ISO2_PROFILES,
    algorithms=(KeyAlgorithm.SECP256R1,),
    hash_name=HashName.SHA256,
    policy=ISO2,
    max_der_size=ISO2_MAX_CERTIFICATE_DER_SIZE,
    trust=(
        "Trust: an EVCC trusts `roots/v2g_root.pem` for the SECC (TLS 1.2, server authentication only: -2 has "
        "no vehicle certificate) and for the CPS that signs CertificateInstallationRes/UpdateRes; an SECC "
        "trusts `roots/mo_root.pem` (and the V2G root) for contract certificates, the CPS "
        "`roots/oem_root.pem` for OEM provisioning certificates.\n"
        "Roles: the leafs' domainComponent says whose they are (CPO = SECC, CPS, OEM = OEM provisioning, "
        "MO = contract). `v2g pki verify --profile iso2 --as secc|cps|contract|oem-provisioning CERT --roots "
        "DIR` says whether a certificate fits a role, and why not.\n"
        "TLS: the SECC sends `chains/secc_leaf_chain.pem` with `private/secc_leaf.key.pem` "
        "(TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 on secp256r1).\n"
        "Contract: an EV that already has its contract uses `chains/contract_leaf_chain.pem` with "
        "`private/contract_leaf.key.pem`; one that installs it uses `leaf/oem_prov_leaf.pem` with "
        "`private/oem_prov_leaf.key.pem`."
    ),
)

PKI_KINDS: Final[dict[str, PkiKind]] = {kind.name: kind for kind in (ISO20_PKI, ISO2_PKI)}


def pki_kind(name: str) -> PkiKind:
    """The :class:`PkiKind` called ``name`` ("iso20", "iso2"); ConfigError naming the choices otherwise."""
    try:
        return PKI_KINDS[name]
    except KeyError:
        raise ConfigError(f"unknown PKI profile {name!r} (choose one of {', '.join(PKI_KINDS)})") from None
