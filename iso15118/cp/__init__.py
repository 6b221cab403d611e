"""The Control Pilot (IEC 61851-1 Annex A), sans-I/O: states A-F, duty cycle and current, both roles.

Modules: :mod:`~iso15118.cp.states` (the states, their voltages and the transition table),
:mod:`~iso15118.cp.duty` (duty cycle <-> allowed current, 5 % = high-level communication),
:mod:`~iso15118.cp.pilot` (the EV's and the EVSE's pilot state machines and their events) and
:mod:`~iso15118.cp.wire` (the small text protocol a serial board or an MQTT bridge speaks). The backends that
drive a real pilot line (simulated, serial, GPIO, MQTT) live in :mod:`iso15118.transport.cp_line`.
"""
