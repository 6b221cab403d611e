"""The ISO 15118-20 and ISO 15118-2 test PKIs on disk: build them, write them, find them again and check them.

:func:`build_pki` makes every certificate of a :class:`~iso15118.security.pkikinds.PkiKind` in memory (the
-20 :data:`~iso15118.security.profiles.PROFILES` by default, the -2
:data:`~iso15118.security.iso2_profiles.ISO2_PROFILES` with ``kind=ISO2_PKI``);
:func:`init_pki` writes it to a directory; :func:`load_pki` returns the :class:`PkiLayout` (paths) of an
existing one and :func:`read_pki` its certificates and keys; :func:`verify_pki_layout` lists every problem of
a PKI directory in plain sentences (``v2g doctor`` calls it).

Directory layout (also written to the PKI's README.md)::

    pki.json                    manifest: format, profile (iso20 | iso2), algorithm, creation time, identities,
                                file list
    roots/<name>.pem|.der       self-signed roots: v2g_root, oem_root, mo_root
    ca/<name>.pem|.der          Sub-CAs
    leaf/<name>.pem|.der        end-entity certificates
    chains/<leaf>_chain.pem     leaf + Sub-CA 2 + Sub-CA 1: what a TLS endpoint or a message carries
    private/<name>.key.pem|.der PKCS#8 private keys, unencrypted (test PKI); directory 0700, files 0600

Existing files are never overwritten: without ``force`` :func:`init_pki` refuses, with ``force`` it first
moves the old files to ``replaced-<UTC time>/`` inside the directory.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from iso15118.errors import ConfigError, V2GError
from iso15118.security.certs import Purpose, load_certificates, validate_chain
from iso15118.security.issuing import Issued, KeyAlgorithm, PrivateKey, issue_certificate, parse_private_key
from iso15118.security.pkicheck import file_problems
from iso15118.security.pkidoc import manifest_text, readme_text
from iso15118.security.pkikinds import ISO20_PKI, PkiKind, pki_kind
from iso15118.security.profiles import (
    DEFAULT_EMAID,
    DEFAULT_EVCCID,
    DEFAULT_OEM,
    DEFAULT_PCID,
    DEFAULT_SECC_ID,
    Entity,
    Identities,
    chain_of,
    spec_for,
)

__all__ = [
    "LEAF_PURPOSES",
    "EntityFiles",
    "Pki",
    "PkiLayout",
    "build_pki",
    "init_pki",
    "load_pki",
    "load_private_key",
    "read_pki",
    "verify_pki_layout",
    "write_identity",
]

FORMAT = "v2gstack-pki/1"
MANIFEST = "pki.json"

LEAF_PURPOSES: dict[Entity, Purpose] = {
    Entity.SECC_LEAF: Purpose.SECC_TLS,
    Entity.VEHICLE_LEAF: Purpose.VEHICLE_TLS,
    Entity.OEM_PROV_LEAF: Purpose.OEM_PROVISIONING,
    Entity.CONTRACT_LEAF: Purpose.CONTRACT,
    Entity.CPS_LEAF: Purpose.CPS,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class EntityFiles:
    """The files of one certificate; ``chain_pem`` only for leafs."""

    entity: Entity
    cert_pem: Path
    cert_der: Path
    key_pem: Path
    key_der: Path
    chain_pem: Path | None

    def all(self) -> list[Path]:
        """Every file of this entity."""
        paths = [self.cert_pem, self.cert_der, self.key_pem, self.key_der]
        return paths + ([self.chain_pem] if self.chain_pem else [])


@dataclass(frozen=True, slots=True, kw_only=True)
class PkiLayout:
    """Where each file of a PKI directory lives."""

    directory: Path
    algorithm: KeyAlgorithm
    readme: Path
    manifest: Path
    entities: Mapping[Entity, EntityFiles]
    kind: PkiKind = ISO20_PKI

    def __getitem__(self, entity: Entity) -> EntityFiles:
        return self.entities[entity]

    def roots(self, *entities: Entity) -> list[Path]:
        """PEM files of the given roots (default: all three)."""
        chosen = entities or (Entity.V2G_ROOT, Entity.OEM_ROOT, Entity.MO_ROOT)
        return [self.entities[e].cert_pem for e in chosen]

    def all_files(self) -> list[Path]:
        """Every file the PKI consists of."""
        return [self.readme, self.manifest, *(p for f in self.entities.values() for p in f.all())]


@dataclass(frozen=True, slots=True, kw_only=True)
class Pki:
    """A whole test PKI in memory."""

    algorithm: KeyAlgorithm
    created: dt.datetime
    identities: Identities
    issued: Mapping[Entity, Issued]
    kind: PkiKind = ISO20_PKI

    def __getitem__(self, entity: Entity) -> Issued:
        return self.issued[entity]

    def chain(self, leaf: Entity) -> list[x509.Certificate]:
        """The certificates a holder of ``leaf`` sends: the leaf and its Sub-CAs, without the root."""
        return [self.issued[e].certificate for e in chain_of(leaf, self.kind.profiles)[:-1]]

    def roots(self) -> list[x509.Certificate]:
        """The self-signed roots of this PKI."""
        return [self.issued[e].certificate for e, p in self.kind.profiles.items() if p.issuer is None]


def _folder(kind: PkiKind, entity: Entity) -> str:
    profile = kind.profiles[entity]
    if profile.issuer is None:
        return "roots"
    return "ca" if profile.ca else "leaf"


def _layout(directory: Path, algorithm: KeyAlgorithm, kind: PkiKind = ISO20_PKI) -> PkiLayout:
    entities = {}
    for entity in kind.entities:
        base = directory / _folder(kind, entity) / entity.value
        key = directory / "private" / entity.value
        chain = directory / "chains" / f"{entity.value}_chain.pem" if not kind.profiles[entity].ca else None
        entities[entity] = EntityFiles(
            entity=entity,
            cert_pem=base.with_suffix(".pem"),
            cert_der=base.with_suffix(".der"),
            key_pem=key.with_suffix(".key.pem"),
            key_der=key.with_suffix(".key.der"),
            chain_pem=chain,
        )
    return PkiLayout(
        directory=directory,
        algorithm=algorithm,
        readme=directory / "README.md",
        manifest=directory / MANIFEST,
        entities=entities,
        kind=kind,
    )


def build_pki(
    *,
    algorithm: KeyAlgorithm | str | None = None,
    now: dt.datetime | None = None,
    identities: Identities | None = None,
    kind: PkiKind | str = ISO20_PKI,
) -> Pki:
    """Issue every certificate of a test PKI in memory (no files): -20 by default, -2 with ``kind="iso2"``.

    ``algorithm`` None takes the kind's default (secp521r1 for -20, secp256r1 for -2); one the kind does
    not allow is a ConfigError.
    """
    kind = pki_kind(kind) if isinstance(kind, str) else kind
    algo = kind.algorithm(algorithm)
    start = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    ids = identities or Identities()
    issued: dict[Entity, Issued] = {}
    for entity, profile in kind.profiles.items():  # table order puts every issuer before what it issues
        issuer = issued[profile.issuer] if profile.issuer is not None else None
        spec = spec_for(
            entity,
            algorithm=algo,
            now=start,
            identities=ids,
            issuer_not_after=issuer.certificate.not_valid_after_utc if issuer else None,
            profiles=kind.profiles,
            hash_name=kind.hash_name,
        )
        issued[entity] = issue_certificate(spec, algorithm=algo, issuer=issuer)
    return Pki(algorithm=algo, created=start, identities=ids, issued=issued, kind=kind)


def _key_bytes(key: PrivateKey, encoding: serialization.Encoding) -> bytes:
    return key.private_bytes(encoding, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _pem(certs: list[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _write_new(path: Path, data: bytes, *, secret: bool = False) -> None:
    """Create ``path`` (never replacing a file); secrets get mode 0600 from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if secret:
        path.parent.chmod(0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    if secret:
        path.chmod(0o600)


def _move_aside(layout: PkiLayout, stamp: dt.datetime) -> Path | None:
    existing = [p for p in layout.all_files() if p.exists()]
    if not existing:
        return None
    backup = layout.directory / f"replaced-{stamp:%Y%m%dT%H%M%S%fZ}"
    for path in existing:
        target = backup / path.relative_to(layout.directory)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.parent.name == "private":
            target.parent.chmod(0o700)
        path.rename(target)
    return backup


def init_pki(
    directory: Path,
    *,
    algorithm: Literal["secp521r1", "ed448", "secp256r1"] | KeyAlgorithm | None = None,
    now: dt.datetime | None = None,
    evccid: str = DEFAULT_EVCCID,
    emaid: str = DEFAULT_EMAID,
    secc_id: str = DEFAULT_SECC_ID,
    pcid: str = DEFAULT_PCID,
    oem: str = DEFAULT_OEM,
    force: bool = False,
    kind: PkiKind | str = ISO20_PKI,
) -> PkiLayout:
    """Build the complete test PKI of ``kind`` (-20 by default, ``"iso2"`` for ISO 15118-2) and write it to
    ``directory`` (PEM, DER, chains, README, manifest).

    Refuses with :class:`~iso15118.errors.ConfigError` when any of its files already exists, unless
    ``force``: then the old files are moved to ``directory/replaced-<time>/`` first, so nothing is lost.
    """
    ids = Identities(evccid=evccid, emaid=emaid, secc_id=secc_id, pcid=pcid, oem=oem)
    pki = build_pki(algorithm=algorithm, now=now, identities=ids, kind=kind)
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory} exists and is not a directory")
    layout = _layout(directory, pki.algorithm, pki.kind)
    clashes = [p for p in layout.all_files() if p.exists()]
    if clashes and not force:
        raise ConfigError(
            f"{directory} already holds PKI files ({clashes[0].relative_to(directory)}, ...); "
            "refusing to overwrite them (use --force: the old files are moved to replaced-<time>/)"
        )
    if clashes:
        _move_aside(layout, dt.datetime.now(dt.UTC))
    for entity, files in layout.entities.items():
        issued = pki[entity]
        _write_new(files.cert_pem, _pem([issued.certificate]))
        _write_new(files.cert_der, issued.certificate.public_bytes(serialization.Encoding.DER))
        _write_new(files.key_pem, _key_bytes(issued.key, serialization.Encoding.PEM), secret=True)
        _write_new(files.key_der, _key_bytes(issued.key, serialization.Encoding.DER), secret=True)
        if files.chain_pem is not None:
            _write_new(files.chain_pem, _pem(pki.chain(entity)))
    _write_new(layout.readme, readme_text(pki, layout).encode())
    _write_new(layout.manifest, manifest_text(pki, layout, FORMAT).encode())
    return layout


def load_pki(directory: Path) -> PkiLayout:
    """The layout of the PKI in ``directory``; ConfigError when there is no readable manifest."""
    manifest = directory / MANIFEST
    try:
        data = json.loads(manifest.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"{directory} is not a v2gstack PKI (no {MANIFEST}; create one with `v2g pki init`)"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{manifest} is unreadable: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(f"{manifest} is not a {FORMAT} manifest")
    try:
        kind = pki_kind(str(data.get("profile", "iso20")))  # older manifests: -20
        algorithm = kind.algorithm(str(data.get("algorithm")))
    except ConfigError as exc:
        raise ConfigError(f"{manifest}: {exc}") from None
    return _layout(directory, algorithm, kind)


def load_private_key(path: Path) -> PrivateKey:
    """Read a PEM or DER private key of one of our algorithms."""
    return parse_private_key(path.read_bytes(), source=str(path))


def read_pki(layout: PkiLayout) -> Pki:
    """Load every certificate and key of ``layout`` into memory."""
    issued = {}
    for entity, files in layout.entities.items():
        cert = load_certificates(files.cert_pem.read_bytes(), source=str(files.cert_pem))[0]
        issued[entity] = Issued(certificate=cert, key=load_private_key(files.key_pem))
    data = json.loads(layout.manifest.read_text())
    ids = Identities(**{k: str(v) for k, v in data.get("identities", {}).items()})
    return Pki(
        algorithm=layout.algorithm,
        created=dt.datetime.fromisoformat(data["created"]),
        identities=ids,
        issued=issued,
        kind=layout.kind,
    )


def write_identity(
    directory: Path, name: str, issued: Issued, intermediates: list[x509.Certificate]
) -> tuple[Path, Path]:
    """Write ``issued`` as ``name_chain.pem`` (certificate + intermediates) and ``name.key.pem`` (0600).

    For test fixtures and the conformance harness (e.g. a deliberately bad SECC certificate).
    Returns (chain path, key path); existing files are refused.
    """
    chain = directory / f"{name}_chain.pem"
    key = directory / f"{name}.key.pem"
    _write_new(chain, _pem([issued.certificate, *intermediates]))
    _write_new(key, _key_bytes(issued.key, serialization.Encoding.PEM), secret=True)
    return chain, key


def verify_pki_layout(directory: Path, *, now: dt.datetime | None = None) -> list[str]:
    """Every problem of the PKI in ``directory`` as a sentence; an empty list means complete and valid.

    Checks: manifest, every file present, keys owner-only and matching their certificates, PEM = DER, each
    certificate against its profile (-20 or -2, as the manifest says), each chain file, and every chain
    validating with that generation's policy at ``now``.
    """
    try:
        layout = load_pki(directory)
    except ConfigError as exc:
        return [str(exc)]
    problems: list[str] = []
    for path in (layout.readme,):
        if not path.is_file():
            problems.append(f"missing {path.name}")
    for entity, files in layout.entities.items():
        try:
            problems += file_problems(layout, entity, files)
        except (V2GError, OSError, ValueError) as exc:
            problems.append(f"{entity.value}: {exc}")
    if problems:
        return problems
    pki = read_pki(layout)
    moment = now or dt.datetime.now(dt.UTC)
    roots = pki.roots()
    for entity, files in layout.entities.items():
        purpose = LEAF_PURPOSES.get(entity)
        try:
            validate_chain(
                pki[entity].certificate, pki.chain(entity), roots, now=moment, purpose=purpose, policy=pki.kind.policy
            )
        except V2GError as exc:
            problems.append(f"{entity.value}: {exc}")
        if files.chain_pem is not None:
            chain = load_certificates(files.chain_pem.read_bytes(), source=str(files.chain_pem))
            if chain != pki.chain(entity):
                problems.append(
                    f"{entity.value}: {files.chain_pem.relative_to(directory)} is not leaf + Sub-CA 2 + Sub-CA 1"
                )
    return problems
