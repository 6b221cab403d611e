"""The tester's certificates and keys, and the TLS contexts of each :class:`~harness.conformance.steps.TlsVariant`.

Everything comes from a v2gstack test PKI directory (``v2g pki init``, the ``--pki`` option): the tester's TLS
identity (the vehicle leaf when it plays the EVCC, the SECC leaf when it plays the SECC), the roots it trusts,
and the contract it signs PnC messages with. Deliberately bad identities (expired, unknown root, P-256 key) are
issued on demand with :func:`~iso15118.security.badcerts.defective_leaf` and written to a private temporary
directory, because :mod:`ssl` loads identities from files only.
"""

from __future__ import annotations

import datetime as dt
import functools
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from harness.conformance.steps import TlsVariant
from iso15118.errors import ConfigError
from iso15118.security.badcerts import defective_leaf
from iso15118.security.certs import Defect
from iso15118.security.credentials import ContractCredentials
from iso15118.security.identity import certificate_identity
from iso15118.security.pki import Pki, PkiLayout, build_pki, load_pki, read_pki, write_identity
from iso15118.security.profiles import Entity
from iso15118.security.tls import TlsConfig, TlsMode, evcc_context, secc_context

__all__ = ["Credentials"]

_TLS12_CIPHERS = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256"
_DEFECTS = {
    TlsVariant.UNKNOWN_ROOT: Defect.UNKNOWN_ISSUER,
    TlsVariant.EXPIRED: Defect.EXPIRED,
    TlsVariant.WRONG_ALGORITHM: Defect.WRONG_ALGORITHM,
}


def _der(certs: list[x509.Certificate]) -> tuple[bytes, ...]:
    return tuple(c.public_bytes(serialization.Encoding.DER) for c in certs)


@dataclass
class Credentials:
    """A test PKI on disk and in memory, plus the bad identities made from it."""

    layout: PkiLayout
    pki: Pki
    _scratch: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    @classmethod
    def from_directory(cls, directory: Path) -> Credentials:
        """Load a ``v2g pki init`` directory (ConfigError when it is not one)."""
        layout = load_pki(directory)
        try:
            pki = read_pki(layout)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the PKI in {directory}: {exc}") from None
        return cls(layout=layout, pki=pki)

    def close(self) -> None:
        """Remove the temporary files of the bad identities."""
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def _scratch_dir(self) -> Path:
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="v2g-conformance-")
        return Path(self._scratch.name)

    @property
    def evcc_id(self) -> str:
        """The EVCCID of the tester EV: its vehicle certificate's CN [V2G20-2598]."""
        name = certificate_identity(self.pki[Entity.VEHICLE_LEAF].certificate).common_name
        assert name is not None  # every vehicle leaf of a v2gstack PKI has a CN
        return name

    # ---- PnC ------------------------------------------------------------------------------------------
    def contract(self) -> ContractCredentials:
        """The contract chain (leaf, Sub-CA 2, Sub-CA 1) and key of the PKI."""
        return ContractCredentials(
            chain=_der(self.pki.chain(Entity.CONTRACT_LEAF)), key=self.pki[Entity.CONTRACT_LEAF].key
        )

    @functools.cached_property
    def _foreign(self) -> Pki:
        return build_pki(algorithm=self.pki.algorithm)

    def foreign_contract(self) -> ContractCredentials:
        """A well-formed contract of another PKI, whose MO root the SUT does not trust."""
        return ContractCredentials(
            chain=_der(self._foreign.chain(Entity.CONTRACT_LEAF)), key=self._foreign[Entity.CONTRACT_LEAF].key
        )

    def expired_contract(self) -> ContractCredentials:
        """A contract of this PKI whose leaf has expired."""
        bad = defective_leaf(self.pki, Defect.EXPIRED, entity=Entity.CONTRACT_LEAF)
        return ContractCredentials(chain=_der([bad.issued.certificate, *bad.intermediates]), key=bad.issued.key)

    def mo_roots(self) -> list[x509.Certificate]:
        """The roots a contract chain must end in."""
        return [self.pki[Entity.MO_ROOT].certificate]

    def v2g_roots(self) -> list[x509.Certificate]:
        """The roots an SECC certificate must end in."""
        return [self.pki[Entity.V2G_ROOT].certificate]

    def vehicle_roots(self) -> list[x509.Certificate]:
        """The roots a vehicle certificate may end in [V2G20-2331]."""
        return [self.pki[Entity.OEM_ROOT].certificate, self.pki[Entity.V2G_ROOT].certificate]

    # ---- TLS ------------------------------------------------------------------------------------------
    def _identity(self, entity: Entity, variant: TlsVariant) -> tuple[Path, Path]:
        if variant not in _DEFECTS:
            files = self.layout[entity]
            assert files.chain_pem is not None
            return files.chain_pem, files.key_pem
        bad = defective_leaf(self.pki, _DEFECTS[variant], entity=entity, now=dt.datetime.now(dt.UTC))
        directory = self._scratch_dir()
        name = f"{entity.value}-{variant.value}"
        chain, key = directory / f"{name}_chain.pem", directory / f"{name}.key.pem"
        if not chain.exists():
            chain, key = write_identity(directory, name, bad.issued, list(bad.intermediates))
        return chain, key

    def _mode(self, variant: TlsVariant, tolerant: bool) -> TlsMode:
        # A P-256 identity only loads into a tolerant context; the peer still decides whether to accept it.
        return TlsMode.TOLERANT if tolerant or variant is TlsVariant.WRONG_ALGORITHM else TlsMode.STRICT

    def client_context(self, variant: TlsVariant = TlsVariant.NORMAL, *, tolerant: bool = False) -> ssl.SSLContext:
        """The tester's context as EVCC: the vehicle identity, the V2G root trusted."""
        roots = (self.layout[Entity.V2G_ROOT].cert_pem,)
        if variant is TlsVariant.TLS12_ONLY:
            chain, key = self._identity(Entity.VEHICLE_LEAF, TlsVariant.NORMAL)
            return _tls12_context(ssl.PROTOCOL_TLS_CLIENT, chain, key)
        if variant is TlsVariant.NO_CERTIFICATE:
            return evcc_context(TlsConfig(trust_roots=roots, mode=self._mode(variant, tolerant)))
        chain, key = self._identity(Entity.VEHICLE_LEAF, variant)
        config = TlsConfig(
            certificate_chain=chain, private_key=key, trust_roots=roots, mode=self._mode(variant, tolerant)
        )
        return evcc_context(config)

    def server_context(self, variant: TlsVariant = TlsVariant.NORMAL, *, tolerant: bool = False) -> ssl.SSLContext:
        """The tester's context as SECC: the SECC identity, vehicle certificates required (OEM and V2G roots)."""
        roots = (self.layout[Entity.OEM_ROOT].cert_pem, self.layout[Entity.V2G_ROOT].cert_pem)
        if variant is TlsVariant.NO_CERTIFICATE:
            raise ConfigError("an SECC always presents a certificate")
        if variant is TlsVariant.TLS12_ONLY:
            chain, key = self._identity(Entity.SECC_LEAF, TlsVariant.NORMAL)
            return _tls12_context(ssl.PROTOCOL_TLS_SERVER, chain, key)
        chain, key = self._identity(Entity.SECC_LEAF, variant)
        config = TlsConfig(
            certificate_chain=chain,
            private_key=key,
            trust_roots=roots,
            require_client_certificate=True,
            mode=self._mode(variant, tolerant),
        )
        return secc_context(config)


def _tls12_context(protocol: ssl._SSLMethod, chain: Path, key: Path) -> ssl.SSLContext:
    """A context that speaks TLS 1.2 and nothing else, verifying nothing (the version is what is tested)."""
    context = ssl.SSLContext(protocol)
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
    if protocol is ssl.PROTOCOL_TLS_CLIENT:
        context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers(_TLS12_CIPHERS)
    context.load_cert_chain(chain, key)
    return context
