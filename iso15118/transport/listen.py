"""A passive listener's dissector: Ethernet frames in, decoded SLAC, SDP and V2GTP records out (sans-I/O).

:class:`Dissector` takes every frame seen on a PLC segment (or a bridge between our virtual EV and charger)
with its capture time and returns :class:`Record` values:

- HomePlug (0x88E1): SLAC messages (:mod:`iso15118.slac.mme`) and Qualcomm vendor messages;
- IPv6 UDP port 15118: SDP requests and responses;
- IPv6 TCP: each connection is reassembled per direction (sequence numbers, retransmissions trimmed); a
  stream that starts with a TLS record is decrypted with :class:`~iso15118.transport.tls13.TlsDecryptor` when
  a key log is given; the plaintext is deframed as V2GTP and every message decoded with the codec. After the
  SupportedAppProtocol exchange, payload type 0x8001 is decoded with the negotiated protocol's schema.

Nothing is dropped silently: what cannot be decoded becomes a record saying why.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Final

from iso15118.codec import decode_as, decode_message, schema_for_namespace, to_json
from iso15118.constants import PayloadType
from iso15118.errors import V2GError
from iso15118.sdp import unpack_request_datagram, unpack_response_datagram
from iso15118.slac.mme import MmeError, format_mac, unpack_frame
from iso15118.slac.vendor_mme import is_vendor_frame, unpack_vendor
from iso15118.transport.tls13 import KeyLog, TlsDecryptor
from iso15118.v2gtp import Deframer

__all__ = ["Dissector", "Record"]

_IPV6: Final = 0x86DD
_HOMEPLUG: Final = 0x88E1
_SDP_PORT: Final = 15118
_SYN, _FIN, _RST = 0x02, 0x01, 0x04


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """One decoded item: ``proto`` (slac, vendor, sdp, v2gtp, tls, tcp), a one-line ``summary``, details."""

    at: float
    proto: str
    summary: str
    src: str = ""
    dst: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The JSON-lines form."""
        return {
            "t": round(self.at, 6),
            "proto": self.proto,
            "src": self.src,
            "dst": self.dst,
            "summary": self.summary,
            **self.details,
        }


@dataclass(slots=True)
class _Flow:
    """One direction of a TCP connection."""

    next_seq: int | None = None
    pending: dict[int, bytes] = field(default_factory=dict)
    deframer: Deframer = field(default_factory=Deframer)


@dataclass(slots=True)
class _Connection:
    client: tuple[str, int]
    flows: dict[bool, _Flow] = field(default_factory=lambda: {True: _Flow(), False: _Flow()})
    kind: str | None = None  # "tls" or "tcp" once the first payload byte is seen
    tls: TlsDecryptor | None = None
    notes_seen: int = 0
    sap_offers: dict[int, str] = field(default_factory=dict)
    schema: str | None = None  # what 0x8001 carries after SupportedAppProtocol


def _ipv6_text(raw: bytes) -> str:
    words = struct.unpack("!8H", raw)
    return ":".join(f"{w:x}" for w in words)


class Dissector:
    """Decodes frames into records; ``keylog`` (NSS format) lets it decrypt TLS 1.3."""

    def __init__(self, keylog: KeyLog | None = None) -> None:
        self.keylog = keylog
        self._conns: dict[tuple[tuple[str, int], tuple[str, int]], _Connection] = {}

    def feed(self, frame: bytes, at: float) -> list[Record]:
        """Records for one Ethernet frame captured at ``at`` (seconds)."""
        if len(frame) < 14:
            return []
        ethertype = int.from_bytes(frame[12:14], "big")
        if ethertype == _HOMEPLUG:
            return [self._homeplug(frame, at)]
        if ethertype == _IPV6 and len(frame) >= 54:
            return self._ipv6(frame[14:], at)
        return []

    def finish(self, at: float) -> list[Record]:
        """At the end of the capture: records for what stayed undecrypted (a secret missing from the key log)."""
        out = []
        for (src, dst), conn in self._conns.items():
            if conn.tls is not None:
                for note in conn.tls.finish()[conn.notes_seen :]:
                    out.append(
                        Record(at=at, proto="tls", summary=note, src=f"[{src[0]}]:{src[1]}", dst=f"[{dst[0]}]:{dst[1]}")
                    )
                conn.notes_seen = len(conn.tls.notes)
        return out

    def _homeplug(self, frame: bytes, at: float) -> Record:
        src, dst = format_mac(frame[6:12]), format_mac(frame[0:6])
        try:
            if is_vendor_frame(frame):
                _, vendor = unpack_vendor(frame)
                return Record(at=at, proto="vendor", summary=vendor.name, src=src, dst=dst)
            _, msg = unpack_frame(frame)
        except MmeError as exc:
            return Record(at=at, proto="homeplug", summary=f"undecoded: {exc}", src=src, dst=dst)
        details = {"run_id": msg.run_id.hex()} if hasattr(msg, "run_id") else {}
        return Record(at=at, proto="slac", summary=msg.name, src=src, dst=dst, details=details)

    def _ipv6(self, packet: bytes, at: float) -> list[Record]:
        next_header = packet[6]
        src, dst = _ipv6_text(packet[8:24]), _ipv6_text(packet[24:40])
        payload = packet[40 : 40 + int.from_bytes(packet[4:6], "big")]
        if next_header == 17 and len(payload) >= 8:
            sport, dport = struct.unpack_from("!HH", payload)
            if _SDP_PORT in (sport, dport):
                return [self._sdp(payload[8:], at, f"[{src}]:{sport}", f"[{dst}]:{dport}")]
        if next_header == 6 and len(payload) >= 20:
            return self._tcp(
                payload, at, (src, struct.unpack_from("!H", payload)[0]), (dst, struct.unpack_from("!H", payload, 2)[0])
            )
        return []

    def _sdp(self, datagram: bytes, at: float, src: str, dst: str) -> Record:
        try:
            kind = int.from_bytes(datagram[2:4], "big")
            if kind == PayloadType.SDP_REQUEST:
                req = unpack_request_datagram(datagram)
                summary = f"SDP request security={req.security.name} transport={req.transport.name}"
            else:
                res = unpack_response_datagram(datagram)
                summary = f"SDP response [{res.address}]:{res.port} security={res.security.name}"
        except V2GError as exc:
            summary = f"undecoded SDP: {exc}"
        return Record(at=at, proto="sdp", summary=summary, src=src, dst=dst)

    def _tcp(self, seg: bytes, at: float, src: tuple[str, int], dst: tuple[str, int]) -> list[Record]:
        seq = int.from_bytes(seg[4:8], "big")
        flags = seg[13]
        data = seg[(seg[12] >> 4) * 4 :]
        key = (src, dst) if (src, dst) in self._conns else (dst, src)
        conn = self._conns.get(key)
        if conn is None:
            if not flags & _SYN:
                return []  # a connection that started before we listened: nothing to align with
            key = (src, dst)
            conn = self._conns[key] = _Connection(client=src)
        from_client = src == conn.client
        flow = conn.flows[from_client]
        if flags & _SYN:
            flow.next_seq = (seq + 1) & 0xFFFFFFFF
            return []
        if flow.next_seq is None or not data:
            return []
        flow.pending[seq] = data
        stream = b""
        progress = True
        while progress:
            progress = False
            for start, chunk in list(flow.pending.items()):
                offset = (flow.next_seq - start) & 0xFFFFFFFF
                if offset < len(chunk):  # covers the next byte: take what is new
                    stream += chunk[offset:]
                    flow.next_seq = (flow.next_seq + len(chunk) - offset) & 0xFFFFFFFF
                    del flow.pending[start]
                    progress = True
                elif offset < 2**31:  # wholly before the next byte: a retransmission
                    del flow.pending[start]
        return self._stream(conn, from_client, stream, at, src, dst) if stream else []

    def _stream(
        self, conn: _Connection, from_client: bool, data: bytes, at: float, src: tuple[str, int], dst: tuple[str, int]
    ) -> list[Record]:
        where = (f"[{src[0]}]:{src[1]}", f"[{dst[0]}]:{dst[1]}")
        if conn.kind is None:
            conn.kind = "tls" if data[0] == 0x16 else "tcp"
            if conn.kind == "tls":
                conn.tls = TlsDecryptor(self.keylog or KeyLog())
        records: list[Record] = []
        chunks = [data]
        if conn.tls is not None:
            chunks = [p.data for p in conn.tls.feed(data, client=from_client)]
            for note in conn.tls.notes[conn.notes_seen :]:
                records.append(Record(at=at, proto="tls", summary=note, src=where[0], dst=where[1]))
            conn.notes_seen = len(conn.tls.notes)
        for chunk in chunks:
            try:
                frames = conn.flows[from_client].deframer.feed(chunk)
            except V2GError as exc:
                records.append(Record(at=at, proto="tcp", summary=f"not V2GTP: {exc}", src=where[0], dst=where[1]))
                continue
            for frame in frames:
                records.append(self._message(conn, frame.payload_type, frame.payload, at, where))
        return records

    def _message(
        self, conn: _Connection, payload_type: int, payload: bytes, at: float, where: tuple[str, str]
    ) -> Record:
        try:
            if payload_type == PayloadType.SAP and conn.schema is not None:
                msg = decode_as(payload, conn.schema)
            else:
                msg = decode_message(payload, payload_type)
        except V2GError as exc:
            return Record(
                at=at, proto="v2gtp", summary=f"0x{payload_type:04x} undecoded: {exc}", src=where[0], dst=where[1]
            )
        name = type(msg).__name__
        self._learn_protocol(conn, msg)
        try:
            view = to_json(msg)
        except (V2GError, KeyError, TypeError):
            view = {}
        details = {"payload_type": f"0x{payload_type:04x}", "message": view}
        return Record(at=at, proto="v2gtp", summary=name, src=where[0], dst=where[1], details=details)

    def _learn_protocol(self, conn: _Connection, msg: Any) -> None:
        """Follow SupportedAppProtocol: remember the offers, then the namespace the SECC chose."""
        offers = getattr(msg, "app_protocol", None)
        if offers:
            conn.sap_offers = {int(p.schema_id): str(p.protocol_namespace) for p in offers}
        chosen = getattr(msg, "schema_id", None)
        if type(msg).__name__ == "SupportedAppProtocolRes" and chosen is not None:
            namespace = conn.sap_offers.get(int(chosen))
            conn.schema = schema_for_namespace(namespace) if namespace else None
