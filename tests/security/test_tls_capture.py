"""A captured TLS 1.3 session decrypts with its key log in tshark, byte for byte, and the cleartext
handshake offers exactly the -20 parameters (independent check of what the contexts put on the wire)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from iso15118.security.tls import evcc_context, secc_context
from tests.support.netns import free_port

from .conftest import PkiFixture
from .livecapture import LiveCapture, require_dumpcap
from .tlspair import run_pair

pytestmark = pytest.mark.timeout(120)

FRAMES = [
    bytes.fromhex("01fe8002") + len(payload).to_bytes(4, "big") + payload
    for payload in (b"\x80\x00\xdb\xab\x93\x71\xd3\x23\x4b\x71\xd1\xb9\x81\x89\x91\x89", bytes(range(256)) * 3, b"")
]


def _tshark(pcap: Path, keylog: Path, port: int, *args: str) -> str:
    argv = ["tshark", "-n", "-r", str(pcap), "-o", f"tls.keylog_file:{keylog}", "-d", f"tcp.port=={port},tls", *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def captured(test_pkis: dict[str, PkiFixture], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    """One recorded mutual-auth session (secp521r1) on loopback: (pcapng, key log, port)."""
    require_dumpcap()
    test_pki = test_pkis["secp521r1"]
    directory = tmp_path_factory.mktemp("capture")
    keylog, pcap, port = directory / "keys.log", directory / "session.pcapng", free_port()
    with LiveCapture(pcap, interface="lo", tcp_port=port):
        server, client = run_pair(
            secc_context(test_pki.secc_config(keylog_filename=keylog)),
            evcc_context(test_pki.evcc_config()),
            frames=FRAMES,
            port=port,
        )
    assert server.error is None and client.error is None
    assert server.frames == FRAMES
    return pcap, keylog, port


def test_tshark_decrypts_exactly_the_frames_sent(captured: tuple[Path, Path, int]) -> None:
    pcap, keylog, port = captured
    rows = _tshark(
        pcap,
        keylog,
        port,
        "-Y",
        "tls and data",
        "-T",
        "fields",
        "-e",
        "tcp.dstport",
        "-e",
        "data.data",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=;",
    ).splitlines()
    to_server = b"".join(
        bytes.fromhex(part) for row in rows if row.split("\t")[0] == str(port) for part in row.split("\t")[1].split(";")
    )
    to_client = b"".join(
        bytes.fromhex(part) for row in rows if row.split("\t")[0] != str(port) for part in row.split("\t")[1].split(";")
    )
    assert to_server == b"".join(FRAMES)
    assert to_client == b"".join(FRAMES)  # the server echoes every frame
    assert to_server.startswith(b"\x01\xfe\x80\x02\x00\x00\x00\x10")
    # Without the key log nothing decrypts.
    blind = subprocess.run(
        [
            "tshark",
            "-n",
            "-r",
            str(pcap),
            "-d",
            f"tcp.port=={port},tls",
            "-Y",
            "tcp and data",
            "-T",
            "fields",
            "-e",
            "data.data",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert blind.stdout.strip() == ""


def test_client_hello_offers_only_the_20_parameters(captured: tuple[Path, Path, int]) -> None:
    pcap, keylog, port = captured
    fields = [
        "tls.handshake.extensions.supported_version",
        "tls.handshake.ciphersuite",
        "tls.handshake.extensions_supported_group",
        "tls.handshake.extensions_key_share_group",
        "tls.handshake.sig_hash_alg",
        "x509sat.uTF8String",
    ]
    args = [arg for field in fields for arg in ("-e", field)]
    row = _tshark(pcap, keylog, port, "-Y", "tls.handshake.type == 1", "-T", "fields", *args).strip()
    versions, suites, groups, key_shares, sigalgs, ca_names = row.split("\t")
    assert versions == "0x0304"
    assert [s for s in suites.split(",") if s != "0x00ff"] == ["0x1302", "0x1303"]  # 0x00ff: SCSV marker
    assert groups.split(",") == ["0x0019", "0x001e"]  # secp521r1, x448
    assert key_shares == "25"  # secp521r1 key share
    assert sigalgs.split(",") == ["0x0603", "0x0808"]  # ecdsa_secp521r1_sha512, ed448
    assert ca_names == "V2GRootCA,v2gstack test V2G"  # certificate_authorities [V2G20-1006]


def test_server_hello_and_certificate_request(captured: tuple[Path, Path, int]) -> None:
    pcap, keylog, port = captured
    row = _tshark(
        pcap,
        keylog,
        port,
        "-Y",
        "tls.handshake.type == 2",
        "-T",
        "fields",
        "-e",
        "tls.handshake.ciphersuite",
        "-e",
        "tls.handshake.extensions_key_share_group",
    ).strip()
    assert row.split("\t") == ["0x1302", "25"]
    text = _tshark(pcap, keylog, port, "-Y", "tls.handshake.type == 13", "-V")
    request = text[text.index("Handshake Type: Certificate Request") :]
    request = request[: request.index("Handshake Protocol: Certificate\n")]
    names = re.findall(r"Distinguished Name: \((.*)\)", request)
    # certificate_authorities [V2G20-2401]: the roots the SECC trusts for vehicles -- the OEM root, not the V2G
    # root of its own chain.
    assert len(names) == 1 and "commonName=OEMRootCA" in names[0]
    assert "Signature Algorithm: ecdsa_secp521r1_sha512 (0x0603)" in request
    assert "Signature Algorithm: ed448 (0x0808)" in request
