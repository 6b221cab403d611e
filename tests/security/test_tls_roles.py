"""Real TLS 1.3 handshakes on ::1 with a certificate of the wrong role: the SECC refuses the CPO's SECC leaf, a CPS
leaf and a contract leaf as vehicle certificates, the EVCC refuses a CPS or vehicle leaf as the SECC's, and the
refusal names the peer's subject and the role its certificate belongs to. Also: key logs (and captures that embed
them) are owner-only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.capture import CaptureSession, keys_path_for
from harness.netns import VethPair
from iso15118.errors import ConfigError
from iso15118.security.certs import ChainValidationError, Defect
from iso15118.security.profiles import VEHICLE_ANCHORS, Entity
from iso15118.security.tls import evcc_context, prepare_keylog_file, secc_context
from tests.support.netns import veth_or_skip

from .conftest import PkiFixture
from .tlspair import Side, run_pair

pytestmark = pytest.mark.timeout(60)

OFFERED_AS_VEHICLE = {
    Entity.SECC_LEAF: "its domainComponent CPO marks an SECC (CPO) certificate, while a vehicle certificate has OEM",
    Entity.CPS_LEAF: "its domainComponent CPS marks a CPS certificate, while a vehicle certificate has OEM",
    Entity.CONTRACT_LEAF: "its domainComponent MO marks a contract certificate, while a vehicle certificate has OEM",
}


def _refusal(side: Side) -> ChainValidationError:
    """What the side reports: the translated handshake failure, or check_peer's error after the handshake."""
    refusal = side.failure if side.failure is not None else side.error
    assert isinstance(refusal, ChainValidationError), f"expected a certificate refusal, got {refusal!r}"
    return refusal


@pytest.mark.parametrize("trust", ["vehicle-anchors", "with-v2g-root"])
@pytest.mark.parametrize("entity", list(OFFERED_AS_VEHICLE), ids=lambda e: e.value)
def test_the_secc_refuses_other_roles_as_a_vehicle_certificate(
    test_pki: PkiFixture, entity: Entity, trust: str
) -> None:
    """With only the vehicle anchors trusted OpenSSL refuses, with the V2G root trusted too [V2G20-2331] our role check
    after the handshake does; either way the refusal says whose certificate it was and what it is."""
    roots = (*VEHICLE_ANCHORS, Entity.V2G_ROOT) if trust == "with-v2g-root" else VEHICLE_ANCHORS
    secc = secc_context(test_pki.secc_config(trust_roots=tuple(test_pki.layout.roots(*roots))))
    offered = test_pki.layout[entity]
    evcc = evcc_context(test_pki.evcc_config(certificate_chain=offered.chain_pem, private_key=offered.key_pem))
    server, client = run_pair(secc, evcc, frames=())
    refusal = _refusal(server)
    assert refusal.defect is Defect.WRONG_ROLE
    assert refusal.subject == test_pki.pki[entity].certificate.subject.rfc4514_string()
    assert refusal.reason.startswith(f"wrong role: not a vehicle certificate: {OFFERED_AS_VEHICLE[entity]}")
    assert str(refusal).startswith(f"{refusal.subject}: wrong role: ")
    if trust == "vehicle-anchors":  # OpenSSL's own finding comes along, naming the root it did not trust
        assert (
            "the chain it sent leads to" in refusal.reason and "not one of our vehicle trust anchors" in refusal.reason
        )
    assert server.info is None and server.frames == []
    assert client.error is not None


def test_the_secc_still_accepts_the_vehicle_certificate(test_pki: PkiFixture) -> None:
    server, client = run_pair(secc_context(test_pki.secc_config()), evcc_context(test_pki.evcc_config()))
    assert server.error is None and client.error is None and server.failure is None
    assert server.info is not None and f"CN={test_pki.pki.identities.evccid}" in (server.info.peer_subject or "")


@pytest.mark.parametrize(
    ("entity", "marker"),
    [
        (Entity.CPS_LEAF, "its domainComponent CPS marks a CPS certificate, while an SECC (CPO) certificate has CPO"),
        (Entity.VEHICLE_LEAF, "its domainComponent OEM marks a vehicle or OEM provisioning certificate, while an SECC"),
    ],
    ids=["cps", "vehicle"],
)
def test_the_evcc_refuses_other_roles_as_the_secc_certificate(
    test_pki: PkiFixture, entity: Entity, marker: str
) -> None:
    """The CPS leaf chains to the V2G root the EV trusts (OpenSSL accepts it, check_peer does not); the vehicle leaf
    does not (OpenSSL refuses, and the refusal still says what the certificate is)."""
    offered = test_pki.layout[entity]
    secc = secc_context(test_pki.secc_config(certificate_chain=offered.chain_pem, private_key=offered.key_pem))
    _, client = run_pair(secc, evcc_context(test_pki.evcc_config()))
    refusal = _refusal(client)
    assert refusal.defect is Defect.WRONG_ROLE
    assert refusal.subject == test_pki.pki[entity].certificate.subject.rfc4514_string()
    assert refusal.reason.startswith(f"wrong role: not an SECC (CPO) certificate: {marker}")
    assert client.info is None


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_logs_are_created_owner_only(test_pki: PkiFixture, tmp_path: Path) -> None:
    server_log, client_log = tmp_path / "server.keys", tmp_path / "client.keys"
    secc = secc_context(test_pki.secc_config(keylog_filename=server_log))
    evcc = evcc_context(test_pki.evcc_config(keylog_filename=client_log))
    assert _mode(server_log) == _mode(client_log) == 0o600  # before any secret is written
    server, client = run_pair(secc, evcc)
    assert server.error is None and client.error is None
    for path in (server_log, client_log):
        assert _mode(path) == 0o600 and "CLIENT_TRAFFIC_SECRET_0" in path.read_text()


def test_an_existing_key_log_is_made_owner_only_and_kept(test_pki: PkiFixture, tmp_path: Path) -> None:
    log = tmp_path / "shared.keys"
    log.write_text("# earlier secrets\n")
    log.chmod(0o644)
    server, client = run_pair(
        secc_context(test_pki.secc_config()), evcc_context(test_pki.evcc_config(keylog_filename=log))
    )
    assert server.error is None and client.error is None
    assert _mode(log) == 0o600
    text = log.read_text()
    assert text.startswith("# earlier secrets\n") and "SERVER_HANDSHAKE_TRAFFIC_SECRET" in text


def test_key_log_preparation_leaves_devices_alone_and_fails_clearly(tmp_path: Path) -> None:
    device = tmp_path / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of our own
    except OSError as exc:
        pytest.skip(f"cannot create a device node here: {exc}")
    device.chmod(0o666)  # mknod applied the umask
    prepare_keylog_file(device)
    assert _mode(device) == 0o666
    with pytest.raises(ConfigError, match=r"cannot prepare the TLS key log .*/missing/dir/k\.log"):
        prepare_keylog_file(tmp_path / "missing" / "dir" / "k.log")


@pytest.fixture
def veth() -> Iterator[VethPair]:
    yield from veth_or_skip("kym")


def test_a_capture_with_secrets_and_its_keys_file_are_owner_only(veth: VethPair, tmp_path: Path) -> None:
    """CaptureSession embeds the key log in the pcapng and writes FILE.keys: both hold session secrets."""
    secrets = tmp_path / "tls.keys"
    secrets.write_text("CLIENT_TRAFFIC_SECRET_0 " + "00" * 32 + " " + "11" * 32 + "\n")
    pcap = tmp_path / "run.pcapng"
    with CaptureSession("lo", pcap, secrets, netns=veth.ns_a):
        pass
    assert _mode(pcap) == _mode(keys_path_for(pcap)) == 0o600
    assert keys_path_for(pcap).read_text() == secrets.read_text()
    without = tmp_path / "plain.pcapng"
    with CaptureSession("lo", without, netns=veth.ns_a):
        pass
    assert not keys_path_for(without).exists()
