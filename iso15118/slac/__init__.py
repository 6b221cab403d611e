"""SLAC (ISO 15118-3): HomePlug Green PHY management messages and sans-I/O matching state machines.

Modules: :mod:`~iso15118.slac.messages` (the MMEs as frozen dataclasses), :mod:`~iso15118.slac.mme`
(their wire layouts, ``pack_frame``/``unpack_frame``), :mod:`~iso15118.slac.keys` (NID/NMK derivation),
:mod:`~iso15118.slac.timers` (Table A.1 timers, ``SlacConfig``), :mod:`~iso15118.slac.events`,
:mod:`~iso15118.slac.machine` (shared core), :mod:`~iso15118.slac.ev` and :mod:`~iso15118.slac.evse` (the
two roles) and :mod:`~iso15118.slac.modem` (a stand-in for the PLC modems of a virtual link). The asyncio
runners over raw Ethernet live in :mod:`iso15118.transport.slac_link`.
"""
