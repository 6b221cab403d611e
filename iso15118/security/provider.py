"""The local certificate provider: the test CPS of ``v2g pki`` answering certificate requests of either generation.

:class:`LocalCps` implements the generation-neutral :class:`~iso15118.certificates.CertificateProvider` seam:
bytes in (the EV's request document, EXI, with the namespace of its grammar), bytes out (the signed response
document). It decodes the request in the grammar its namespace names and hands it to the pool of that
generation:

* ``urn:iso:std:iso:15118:-20:CommonMessages`` (OCPP's ``iso15118SchemaVersion``): a CertificateInstallationReq,
  answered by :class:`~iso15118.security.iso20_cps.Iso20ContractPool`;
* ``urn:iso:15118:2:2013:MsgDef``: a V2G_Message with CertificateInstallationReq or CertificateUpdateReq,
  answered by :class:`~iso15118.security.iso2_cps.ContractCertificatePool`.

A refusal comes back as ``FAILED`` with the pool's reason and the response code of that generation; a
generation without a pool, or a document that is not a certificate request, as ``UNAVAILABLE`` / ``FAILED``.
The reference CSMS answers Get15118EVCertificate with the same object.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from iso15118.certificates import CertificateAnswer, CertificateRequest, CertificateStatus
from iso15118.codec import decode_as, encode_message, schema_for_namespace
from iso15118.constants import NS_ISO2, NS_ISO20_COMMON_MESSAGES
from iso15118.errors import CodecError, InstallationError
from iso15118.messages import iso20 as m
from iso15118.security.iso2_cps import ContractCertificatePool, Iso2Cps
from iso15118.security.iso20_cps import Iso20ContractPool
from iso15118.security.pki import Pki
from iso15118.security.pkikinds import ISO2_PKI

__all__ = ["LocalCps"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalCps:
    """A certificate provider over the test CPS of one -20 and/or one -2 PKI."""

    iso20: Iso20ContractPool | None = None
    iso2: Iso2Cps | None = None

    @classmethod
    def from_pkis(cls, *pkis: Pki, emaid: str | None = None) -> LocalCps:
        """The provider of the given PKIs (at most one of each generation)."""
        iso20 = iso2 = None
        for pki in pkis:
            if pki.kind == ISO2_PKI:
                iso2 = ContractCertificatePool.from_pki(pki, emaid=emaid)
            else:
                iso20 = Iso20ContractPool.from_pki(pki, emaid=emaid)
        return cls(iso20=iso20, iso2=iso2)

    async def provide_certificate(self, request: CertificateRequest, now: float) -> CertificateAnswer:
        """See :class:`~iso15118.certificates.CertificateProvider`."""
        return self.answer(request, now)

    def answer(self, request: CertificateRequest, now: float) -> CertificateAnswer:
        """The same answer, synchronously (the pools are pure)."""
        when = dt.datetime.fromtimestamp(now, tz=dt.UTC)
        schema = schema_for_namespace(request.namespace)
        if request.namespace == NS_ISO20_COMMON_MESSAGES:
            pool: Any = self.iso20
        elif request.namespace == NS_ISO2:
            pool = self.iso2
        else:
            return CertificateAnswer(status=CertificateStatus.UNAVAILABLE, detail=f"no CPS for {request.namespace}")
        if pool is None or schema is None:
            return CertificateAnswer(status=CertificateStatus.UNAVAILABLE, detail=f"no CPS for {request.namespace}")
        try:
            message = decode_as(request.exi, schema)
        except CodecError as exc:
            return CertificateAnswer(status=CertificateStatus.FAILED, detail=f"the request does not decode: {exc}")
        if request.namespace == NS_ISO20_COMMON_MESSAGES and not isinstance(message, m.CertificateInstallationReq):
            return CertificateAnswer(
                status=CertificateStatus.FAILED, detail=f"{type(message).__name__} is no CertificateInstallationReq"
            )
        try:
            response = pool.answer(message, now=when)
        except InstallationError as exc:
            return CertificateAnswer(
                status=CertificateStatus.FAILED, detail=exc.reason, response_code=exc.response_code
            )
        return CertificateAnswer(status=CertificateStatus.PROVIDED, exi=encode_message(response), remaining=0)
