"""The virtual Cybertruck, Universal Wall Connector and DC charger on the real ISO 15118 stack (``v2g sim``): -20 by
default, -2 or DIN 70121 when configured.

:mod:`~harness.virtual.ev`, :mod:`~harness.virtual.evse` and :mod:`~harness.virtual.dcevse` are the controllers
over the bench's models,
:mod:`~harness.virtual.coupling` the accelerated clock they share, :mod:`~harness.virtual.generations` which
protocols each side speaks and what a scenario can run on them, :mod:`~harness.virtual.links` the memory and
loopback links (and the entry to all three), :mod:`~harness.virtual.transports` each generation's transport on
the network links, :mod:`~harness.virtual.veth` the veth link (SLAC, SDP and TCP/TLS between two network
namespaces), :mod:`~harness.virtual.session` one session and its verdict, :mod:`~harness.virtual.runner` a whole
scenario, :mod:`~harness.virtual.report` its text and JSON, and :mod:`~harness.virtual.progress` the progress bar.
"""
