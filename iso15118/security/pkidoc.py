"""The human and machine descriptions a test PKI directory carries: README.md and the pki.json manifest."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.x509.oid import NameOID

from iso15118.security.profiles import Entity

if TYPE_CHECKING:
    from iso15118.security.pki import Pki, PkiLayout

__all__ = ["manifest_text", "readme_text"]


def _cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def readme_text(pki: Pki, layout: PkiLayout) -> str:
    """README.md of a PKI directory: the files, who issued what, the identities and whom to trust."""
    rel = layout.directory
    kind = pki.kind
    lines = [
        f"# {kind.title} test PKI",
        "",
        f"Made by v2gstack (`v2g pki init{'' if kind.name == 'iso20' else ' --profile ' + kind.name}`) on "
        f"{pki.created:%Y-%m-%d %H:%M:%S} UTC. Algorithm: "
        f"**{pki.algorithm.value}** for every key and signature. FOR TESTING ONLY: the private keys are "
        "not encrypted.",
        "",
        "| certificate | file | issuer | private key | chain (leaf + Sub-CAs) |",
        "|---|---|---|---|---|",
    ]
    for entity, files in layout.entities.items():
        profile = kind.profiles[entity]
        issuer = profile.issuer.value if profile.issuer else "self-signed"
        chain = files.chain_pem.relative_to(rel).as_posix() if files.chain_pem else ""
        lines.append(
            f"| {profile.description} | `{files.cert_pem.relative_to(rel).as_posix()}` (+ `.der`) "
            f"| {issuer} | `{files.key_pem.relative_to(rel).as_posix()}` (+ `.der`) | {chain} |"
        )
    ids = pki.identities
    evccid = f"EVCCID `{ids.evccid}`, " if Entity.VEHICLE_LEAF in layout.entities else ""
    lines += [
        "",
        f"Identities (leaf common names): SECCID `{_cn(pki[Entity.SECC_LEAF].certificate)}`, "
        f"{evccid}PCID `{ids.pcid}`, eMAID `{_cn(pki[Entity.CONTRACT_LEAF].certificate)}`, "
        f"OEM `{ids.oem}`.",
        "",
        *kind.trust.format(evccid=ids.evccid).split("\n"),
        "",
        "`pki.json` is the manifest `v2g` reads; `v2g pki show DIR` prints the tree, `v2g doctor` checks it.",
        "",
    ]
    return "\n".join(lines)


def manifest_text(pki: Pki, layout: PkiLayout, format_name: str) -> str:
    """pki.json: format, profile, algorithm, creation time, identities and every file, as JSON text."""
    data = {
        "format": format_name,
        "profile": pki.kind.name,
        "algorithm": pki.algorithm.value,
        "created": pki.created.isoformat(),
        "identities": {
            "evccid": pki.identities.evccid,
            "emaid": pki.identities.emaid,
            "secc_id": pki.identities.secc_id,
            "pcid": pki.identities.pcid,
            "oem": pki.identities.oem,
            "country": pki.identities.country,
        },
        "files": {
            e.value: [p.relative_to(layout.directory).as_posix() for p in f.all()] for e, f in layout.entities.items()
        },
    }
    return json.dumps(data, indent=2) + "\n"
