"""The reference CSMS (``v2g csms``): an OCPP 2.0.1 / 2.1 backend on the PyPI ``ocpp`` package that records what it
receives in SQLite; used by the demos and the backend tests."""

from __future__ import annotations

from harness.csms.grid import GridDispatch, parse_grid_event
from harness.csms.ocsp import OcspResponder
from harness.csms.records import CsmsRecords
from harness.csms.server import CsmsSettings, ReferenceCsms

__all__ = ["CsmsRecords", "CsmsSettings", "GridDispatch", "OcspResponder", "ReferenceCsms", "parse_grid_event"]
