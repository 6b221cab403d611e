"""ISO 15118-20 CertificateInstallation: the key encryption, the local CPS, the EV's installation, and every refusal."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from iso15118.certificates import CertificateRequest, CertificateStatus
from iso15118.codec import decode_as, encode_message
from iso15118.constants import NS_ISO2, NS_ISO20_COMMON_MESSAGES
from iso15118.errors import InstallationError
from iso15118.iso20.contract import signed_authorization
from iso15118.iso20.pnc import PncVerifier
from iso15118.messages import iso20 as m
from iso15118.security.iso2_installation import installation_request as iso2_request
from iso15118.security.iso20_cps import Iso20ContractPool
from iso15118.security.iso20_installation import install_contract, installation_request
from iso15118.security.iso20_keywrap import (
    DH_PUBLIC_KEY_SIZE,
    ENCRYPTED_KEY_SIZE,
    WrappedKey,
    additional_data,
    unwrap_contract_key,
    wrap_contract_key,
)
from iso15118.security.pki import Pki, build_pki
from iso15118.security.profiles import Entity
from iso15118.security.provider import LocalCps

from .conftest import PkiFixture

HEADER = m.MessageHeader(session_id=bytes.fromhex("0011223344556677"), time_stamp=1_700_000_000)


@pytest.fixture(scope="module")
def pki(test_pkis: dict[str, PkiFixture]) -> Pki:
    return test_pkis["secp521r1"].pki


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _wire(msg: object, schema: str = "iso20_common") -> object:
    return decode_as(encode_message(msg), schema)


def _request(pki: Pki, roots: tuple[Entity, ...] = (Entity.V2G_ROOT,)) -> m.CertificateInstallationReq:
    oem = pki[Entity.OEM_PROV_LEAF]
    chain = pki.chain(Entity.OEM_PROV_LEAF)
    req = installation_request(HEADER, chain, oem.key, [pki[e].certificate for e in roots])
    decoded = _wire(req)
    assert isinstance(decoded, m.CertificateInstallationReq)
    return decoded


def _install(pki: Pki, res: m.CertificateInstallationRes) -> object:
    return install_contract(
        res,
        pki[Entity.OEM_PROV_LEAF].key,
        pki[Entity.OEM_PROV_LEAF].certificate,
        v2g_roots=[pki[Entity.V2G_ROOT].certificate],
        contract_roots=[pki[Entity.MO_ROOT].certificate],
        now=_now(),
    )


# ---- the key encryption ----------------------------------------------------------------------------------------
def test_key_wrap_round_trip_with_the_sizes_of_the_schema(pki: Pki) -> None:
    contract = ec.generate_private_key(ec.SECP521R1())
    ev = pki[Entity.OEM_PROV_LEAF]
    aad = additional_data("PCID0000000000001", pki[Entity.CONTRACT_LEAF].certificate)
    assert aad.startswith(b"PCID0000000000001") and aad[17:].isupper()
    wrapped = wrap_contract_key(contract, ev.certificate.public_key(), aad)  # type: ignore[arg-type]
    assert len(wrapped.dh_public_key) == DH_PUBLIC_KEY_SIZE == 133 and wrapped.dh_public_key[0] == 0x04
    assert len(wrapped.encrypted_key) == ENCRYPTED_KEY_SIZE == 94
    key = unwrap_contract_key(wrapped, ev.key, aad, expected_public=contract.public_key())  # type: ignore[arg-type]
    assert key.private_numbers().private_value == contract.private_numbers().private_value


@pytest.mark.parametrize("what", ["aad", "ciphertext", "tag", "iv", "dh key", "own key"])
def test_key_wrap_refuses_anything_changed(pki: Pki, what: str) -> None:
    contract = ec.generate_private_key(ec.SECP521R1())
    ev = pki[Entity.OEM_PROV_LEAF]
    aad = b"PCID0000000000001ABCDEF"
    wrapped = wrap_contract_key(contract, ev.certificate.public_key(), aad)  # type: ignore[arg-type]
    own = ev.key
    data = bytearray(wrapped.encrypted_key)
    if what == "aad":
        aad = b"PCID0000000000002ABCDEF"
    elif what in ("ciphertext", "tag", "iv"):
        data[{"iv": 3, "ciphertext": 40, "tag": 90}[what]] ^= 1
    elif what == "dh key":
        other = ec.generate_private_key(ec.SECP521R1()).public_key()
        wrapped = dataclasses.replace(
            wrapped,
            dh_public_key=other.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint),
        )
    else:
        own = ec.generate_private_key(ec.SECP521R1())
    tampered = dataclasses.replace(wrapped, encrypted_key=bytes(data))
    with pytest.raises(InstallationError, match="does not decrypt"):
        unwrap_contract_key(tampered, own, aad)  # type: ignore[arg-type]


def test_key_wrap_checks_the_sizes_and_the_curve(pki: Pki) -> None:
    ev = pki[Entity.OEM_PROV_LEAF]
    with pytest.raises(InstallationError, match="133"):
        unwrap_contract_key(WrappedKey(dh_public_key=b"\x04" * 65, encrypted_key=bytes(94)), ev.key, b"")  # type: ignore[arg-type]
    with pytest.raises(InstallationError, match="94"):
        unwrap_contract_key(WrappedKey(dh_public_key=b"\x04" * 133, encrypted_key=bytes(48)), ev.key, b"")  # type: ignore[arg-type]
    p256 = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(InstallationError, match="secp521r1"):
        wrap_contract_key(p256, ev.certificate.public_key(), b"")  # type: ignore[arg-type]


# ---- the CPS and the EV --------------------------------------------------------------------------------------
def test_installation_round_trip_over_exi_and_pnc_with_the_new_contract(pki: Pki) -> None:
    res = _wire(Iso20ContractPool.from_pki(pki).answer(_request(pki), now=_now()))
    assert isinstance(res, m.CertificateInstallationRes)
    assert res.response_code is m.ResponseCode.OK and res.signed_installation_data.ecdh_curve is m.EcdhCurve.SECP521
    creds = _install(pki, res)
    # The installed contract signs a PnC authorization the SECC verifies against the MO root.
    signed = _wire(signed_authorization(HEADER, b"c" * 16, creds))  # type: ignore[arg-type]
    outcome = PncVerifier([pki[Entity.MO_ROOT].certificate]).verify_authorization(signed, _now().timestamp())
    assert outcome.code is None and outcome.emaid == pki.identities.emaid.replace("-", "")


def test_a_tampered_cps_signature_is_refused_by_the_ev_and_by_the_secc(pki: Pki) -> None:
    res = Iso20ContractPool.from_pki(pki).answer(_request(pki), now=_now())
    data = res.signed_installation_data
    forged = bytearray(data.dh_public_key)
    forged[-1] ^= 1
    tampered = dataclasses.replace(res, signed_installation_data=dataclasses.replace(data, dh_public_key=bytes(forged)))
    with pytest.raises(InstallationError, match="CPS signature"):
        _install(pki, tampered)  # type: ignore[arg-type]
    verifier = PncVerifier([pki[Entity.MO_ROOT].certificate], cps_roots=[pki[Entity.V2G_ROOT].certificate])
    assert verifier.verify_installation(tampered, _now().timestamp()).code is m.ResponseCode.FAILED_SignatureError
    assert verifier.verify_installation(res, _now().timestamp()).code is None


def test_the_cps_refuses_with_the_response_code_of_each_problem(pki: Pki, test_pkis: dict[str, PkiFixture]) -> None:
    pool = Iso20ContractPool.from_pki(pki)
    req = _request(pki)
    chain = req.oem_provisioning_certificate_chain
    forged = dataclasses.replace(req, oem_provisioning_certificate_chain=dataclasses.replace(chain, id="id9"))
    with pytest.raises(InstallationError) as bad_signature:
        pool.answer(forged, now=_now())
    assert bad_signature.value.response_code == "FAILED_SignatureError"
    stranger = build_pki(algorithm="secp521r1")
    with pytest.raises(InstallationError) as foreign:
        pool.answer(_request(stranger), now=_now())
    assert foreign.value.response_code == "WARNING_CertificateValidationError"
    with pytest.raises(InstallationError) as unlisted:
        pool.answer(_request(pki, roots=(Entity.MO_ROOT,)), now=_now())
    assert unlisted.value.response_code == "WARNING_NoCertificateAvailable"
    ed448 = test_pkis["ed448"].pki
    with pytest.raises(InstallationError) as x448:
        Iso20ContractPool.from_pki(ed448).answer(_request(ed448), now=_now())
    assert x448.value.response_code == "WARNING_NoCertificateAvailable"


def test_the_ev_refuses_a_key_for_another_pcid(pki: Pki) -> None:
    res = Iso20ContractPool.from_pki(pki).answer(_request(pki), now=_now())
    other = build_pki(algorithm="secp521r1")
    with pytest.raises(InstallationError):
        install_contract(
            res,
            other[Entity.OEM_PROV_LEAF].key,
            other[Entity.OEM_PROV_LEAF].certificate,
            v2g_roots=[pki[Entity.V2G_ROOT].certificate],
            contract_roots=[pki[Entity.MO_ROOT].certificate],
            now=_now(),
        )


# ---- the generation-neutral provider ---------------------------------------------------------------------------
def test_the_local_cps_answers_both_generations_by_namespace(pki: Pki) -> None:
    iso2 = build_pki(kind="iso2")
    cps = LocalCps.from_pkis(pki, iso2)
    now = _now().timestamp()
    req20 = CertificateRequest(namespace=NS_ISO20_COMMON_MESSAGES, exi=encode_message(_request(pki)))
    got = asyncio.run(cps.provide_certificate(req20, now))
    assert got.status is CertificateStatus.PROVIDED and got.exi is not None
    assert isinstance(decode_as(got.exi, "iso20_common"), m.CertificateInstallationRes)
    oem = iso2[Entity.OEM_PROV_LEAF]
    msg2 = iso2_request(HEADER.session_id, oem.certificate, oem.key, [iso2[Entity.V2G_ROOT].certificate])
    got2 = cps.answer(CertificateRequest(namespace=NS_ISO2, exi=encode_message(msg2)), now)
    assert got2.status is CertificateStatus.PROVIDED and got2.exi is not None
    assert type(decode_as(got2.exi, "iso2").body.certificate_installation_res).__name__ == "CertificateInstallationRes"
    unknown = cps.answer(CertificateRequest(namespace="urn:din:70121:2012:MsgDef", exi=b""), now)
    assert unknown.status is CertificateStatus.UNAVAILABLE
    garbage = cps.answer(CertificateRequest(namespace=NS_ISO20_COMMON_MESSAGES, exi=b"\x80\x00"), now)
    assert garbage.status is CertificateStatus.FAILED
    refused = LocalCps.from_pkis(pki).answer(
        CertificateRequest(namespace=NS_ISO20_COMMON_MESSAGES, exi=encode_message(_request(build_pki()))), now
    )
    assert refused.status is CertificateStatus.FAILED
    assert refused.response_code == "WARNING_CertificateValidationError"
