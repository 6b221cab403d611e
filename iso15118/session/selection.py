"""What the session has agreed so far, as the sequence table's guards see it.

Both roles learn it the same way, from the exchanges themselves (the profile's ``note``): the negotiated
namespace fixes the energy family for the whole connection (-20: AC or DC namespace; DIN: DC), ServiceSelection
picks the service (plain or bidirectional), and the first charge-loop exchange starts the loop (side streams may
only run beside it [V2G20-1045]). Guards are pure functions of this value.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["EnergyFamily", "EnergyMode", "Selection"]


class EnergyFamily(StrEnum):
    """Conductive AC or DC (-20 fixes it by the SupportedAppProtocol namespace)."""

    AC = "AC"
    DC = "DC"


class EnergyMode(StrEnum):
    """The energy transfer modes a session can run: a family, charging only or bidirectional (BPT)."""

    AC = "AC"
    AC_BPT = "AC_BPT"
    DC = "DC"
    DC_BPT = "DC_BPT"

    @property
    def family(self) -> EnergyFamily:
        """AC or DC."""
        return EnergyFamily.DC if self.value.startswith("DC") else EnergyFamily.AC

    @property
    def bidirectional(self) -> bool:
        """True for the BPT modes."""
        return self.value.endswith("BPT")

    @classmethod
    def of(cls, family: EnergyFamily, bidirectional: bool) -> EnergyMode:
        """The mode of a family, plain or BPT."""
        return cls(f"{family.value}_BPT" if bidirectional else family.value)


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection:
    """The session's agreed parameters that decide which table rows apply."""

    namespace: str | None = None
    family: EnergyFamily | None = None
    service_id: int | None = None
    bidirectional: bool = False
    dynamic: bool | None = None
    """Control mode: True Dynamic, False Scheduled, None not selected (or not a -20 notion)."""
    loop_started: bool = False

    @property
    def mode(self) -> EnergyMode | None:
        """The energy mode once the family is known."""
        return None if self.family is None else EnergyMode.of(self.family, self.bidirectional)
