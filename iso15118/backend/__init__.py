"""The charger's backend: what the SECC tells the CSMS over OCPP 2.0.1 / 2.1, and what the CSMS asks of it.

Sans-I/O (no sockets, no event loop; the durable outbox writes SQLite). The layers, bottom up:

* :mod:`~iso15118.backend.rpc` -- OCPP-J frames and the JSON-schema validation of every payload (the schemas of
  the PyPI ``ocpp`` package);
* :mod:`~iso15118.backend.outbox` -- TransactionEvents on disk with their seqNo before they are sent;
* :mod:`~iso15118.backend.transactions`, :mod:`~iso15118.backend.profiles`,
  :mod:`~iso15118.backend.authorization` -- payloads, charging profiles, Authorize and OCSP;
* :mod:`~iso15118.backend.station` and :mod:`~iso15118.backend.requests` -- the station's state and its
  answers to the CSMS;
* :mod:`~iso15118.backend.controller` and :mod:`~iso15118.backend.observer` -- the seam to the SECC's sessions:
  a controller wrapper and a session observer.

The WebSocket link that moves the frames is :mod:`iso15118.transport.ocpp_link`.
"""

from __future__ import annotations

__all__: list[str] = []
