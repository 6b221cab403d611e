"""The certificate provider seam: where an SECC gets the answer to an EV's contract-certificate request.

Generation-neutral, bytes in and bytes out: a :class:`CertificateRequest` carries the EV's request document as it
came (EXI) with the namespace of its grammar and who asks; a :class:`CertificateAnswer` carries the provider's
signed response document (EXI, same grammar), or why there is none. The SECC's decisions ask for it as
``Input.CERTIFICATE``; the runner answers from the controller when it is a :class:`CertificateProvider` (the
OCPP backend: Get15118EVCertificate through the CSMS), else from the provider it was given (the local test CPS,
:class:`~iso15118.security.provider.LocalCps`). ISO 15118-20 uses it for CertificateInstallation; ISO 15118-2's
CertificateInstallation and CertificateUpdate take the same path with their own namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

__all__ = ["CertificateAction", "CertificateAnswer", "CertificateProvider", "CertificateRequest", "CertificateStatus"]


class CertificateAction(StrEnum):
    """What an EV asks a certificate provider for (the values are OCPP's ``CertificateActionEnumType``)."""

    INSTALL = "Install"
    UPDATE = "Update"


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateRequest:
    """An EV's contract certificate request as a certificate provider sees it, whatever the protocol generation.

    The request travels as it came from the EV: ``exi`` is its message document (ISO 15118-20: the
    CertificateInstallationReq; ISO 15118-2: the V2G_Message with CertificateInstallationReq or
    CertificateUpdateReq), EXI-encoded in the grammar of ``namespace`` (what OCPP calls the
    ``iso15118SchemaVersion``: ``urn:iso:std:iso:15118:-20:CommonMessages`` or ``urn:iso:15118:2:2013:MsgDef``).
    The rest names the EV for the provider's records and decisions; none of it is needed to answer.
    """

    namespace: str
    exi: bytes
    action: CertificateAction = CertificateAction.INSTALL
    evcc_id: str | None = None
    pcid: str | None = None
    """The provisioning certificate's CN (installation), when the request carries one."""
    emaid: str | None = None
    """The old contract's eMAID (update)."""
    maximum_chains: int | None = None
    prioritized_emaids: tuple[str, ...] = ()
    patience_s: float | None = None
    """How long the SECC can wait for the answer before it must answer the EV; None: the provider's own default.
    ISO 15118-20 answers Ongoing and asks again, so it waits briefly; ISO 15118-2 has no Ongoing for these
    requests and waits for the answer within its response time."""


class CertificateStatus(StrEnum):
    """How a certificate provider answered."""

    PROVIDED = "provided"
    """``exi`` holds the signed response."""
    PENDING = "pending"
    """Not yet: the SECC answers EVSEProcessing Ongoing and the EV repeats its request."""
    UNAVAILABLE = "unavailable"
    """No provider is reachable, or it has no certificate for this EV."""
    FAILED = "failed"
    """The provider refused the request (``detail`` says why, ``response_code`` how the SECC reports it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateAnswer:
    """A certificate provider's answer: the response document (EXI, in the request's grammar) or why not."""

    status: CertificateStatus
    exi: bytes | None = None
    remaining: int | None = None
    """Contract certificate chains still to fetch (the EV loops while > 0)."""
    detail: str = ""
    response_code: str | None = None
    """FAILED: the response code of the request's generation that reports the refusal, when the provider knows."""


@runtime_checkable
class CertificateProvider(Protocol):
    """Where the SECC obtains CertificateInstallation / CertificateUpdate responses: bytes in, bytes out.

    A local contract-certificate pool (:class:`~iso15118.security.provider.LocalCps`), or the CSMS via OCPP
    ``Get15118EVCertificate`` (the backend's controller). A controller that implements this is asked first; the
    runner's own provider (``certificates=``) otherwise.
    """

    async def provide_certificate(self, request: CertificateRequest, now: float) -> CertificateAnswer:
        """The signed response for ``request`` (or why there is none); never raises for a refusal."""
        ...
