"""ISO 15118-2's charge service and energy transfer modes, and the energy family each mode belongs to.

-2 offers one charge service (ServiceID 1, ``AC_DC_Charging``) whose ``SupportedEnergyTransferMode`` lists the
modes the charger can serve; the EV names the one it wants in ChargeParameterDiscoveryReq
(``RequestedEnergyTransferMode``). That request is where a -2 session learns whether it runs AC or DC.
"""

from __future__ import annotations

from typing import Any, Final

from iso15118.messages.generated import iso2 as m
from iso15118.session.selection import EnergyFamily

__all__ = [
    "AC_MODES",
    "CERTIFICATE_SERVICE_ID",
    "CERTIFICATE_SETS",
    "CHARGE_SERVICE_ID",
    "CHARGE_SERVICE_NAME",
    "DC_MODES",
    "family_of",
    "requested_family",
]

CHARGE_SERVICE_ID: Final = 1
"""ServiceID of the charge service (ServiceName ``AC_DC_Charging``)."""
CHARGE_SERVICE_NAME: Final = "AC_DC_Charging"
CERTIFICATE_SERVICE_ID: Final = 2
"""The Certificate value-added service (ServiceCategory ContractCertificate, Table 105)."""
CERTIFICATE_SETS: Final = {1: "Installation", 2: "Update"}
"""The Certificate service's parameter sets: ParameterSetID -> the value of its ``Service`` parameter."""

_E = m.EnergyTransferMode
AC_MODES: Final = (_E.AC_single_phase_core, _E.AC_three_phase_core)
DC_MODES: Final = (_E.DC_core, _E.DC_extended, _E.DC_combo_core, _E.DC_unique)


def family_of(mode: m.EnergyTransferMode | str) -> EnergyFamily:
    """AC for the AC_ modes, DC for the DC_ ones."""
    return EnergyFamily.AC if str(mode).startswith("AC") else EnergyFamily.DC


def requested_family(element: Any) -> EnergyFamily | None:
    """The family a ChargeParameterDiscoveryReq element asks for (None for any other element)."""
    mode = getattr(element, "requested_energy_transfer_mode", None)
    return None if mode is None else family_of(mode)
