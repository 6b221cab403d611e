"""`v2g secc` and `v2g evcc` as processes in two network namespaces joined by veth (root), with SDP over the link's
all-nodes group: ISO 15118-2 Plug & Charge over TLS 1.2 (the EV asks for TLS in SDP), ISO 15118-2 DC with EIM
and DIN 70121 DC over plain TCP (the EV asks for none), all against one charger offering every generation with a
-20 and a -2 PKI."""

from __future__ import annotations

import datetime as dt
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.netns import VethPair, ns_command
from iso15118.security.pki import init_pki
from tests.support.netns import veth_or_skip
from tests.transport_session import cli_support as cli
from tests.transport_session.helpers import TestPki

pytestmark = pytest.mark.root

_END = "ended terminated (SessionStop(Terminate))"


@pytest.fixture(scope="module")
def veth() -> Iterator[VethPair]:
    yield from veth_or_skip("g1l")


@pytest.fixture(scope="module")
def pki2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    now = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).replace(microsecond=0)
    return init_pki(tmp_path_factory.mktemp("veth-legacy") / "pki2", kind="iso2", now=now).directory


@pytest.mark.timeout(240)
def test_iso2_over_tls12_and_din_over_tcp_with_sdp_between_namespaces(
    veth: VethPair, pki: TestPki, pki2: Path, tmp_path: Path
) -> None:
    pki20 = str(pki.layout.directory)
    charger = ["--iface", veth.if_a, "--pki", pki20, "--pki", str(pki2), "--auth", "eim", "pnc"]
    keys = tmp_path / "ev.keys"
    ev = ["--iface", veth.if_b, "--loops", "3", "--loop-interval", "0.02"]
    with cli.secc(charger, prefix=ns_command(veth.ns_a, [])) as secc:
        runs = {
            "iso2 pnc": cli.evcc(
                [*ev, "--protocols", "iso2", "--pki", str(pki2), "--auth", "pnc", "--keylog", str(keys)],
                prefix=ns_command(veth.ns_b, []),
            ),
            "iso2 dc": cli.evcc([*ev, "--protocols", "iso2", "--energy", "dc"], prefix=ns_command(veth.ns_b, [])),
            "din": cli.evcc([*ev, "--protocols", "din"], prefix=ns_command(veth.ns_b, [])),
        }
        secc.proc.send_signal(signal.SIGTERM)
        code, out, err = cli.finish(secc)
    assert secc.listening.startswith(f"secc listening on [{veth.lladdr_a}%{veth.if_a}]:")
    assert secc.listening.endswith("(TLS 1.3, TLS 1.2, plain TCP, strict; offers iso20 AC, DC; iso2 AC, DC; din DC)")
    expected = {
        "iso2 pnc": ("ISO 15118-2, AC, PnC, 3 loops", "tls1.2"),
        "iso2 dc": ("ISO 15118-2, DC, EIM, 3 loops", "tcp"),
        "din": ("DIN 70121, DC, EIM, 3 loops", "tcp"),
    }
    lines = out.strip().splitlines()
    assert code == 0, err
    assert len(lines) == 3, lines
    for line, (name, (words, transport)) in zip(lines, expected.items(), strict=True):
        run = runs[name]
        assert run.returncode == 0, (name, run.stdout, run.stderr)
        # SDP over ff02::1 on the veth found the charger; TCP went to its link-local address with the scope id.
        assert run.stdout.startswith(f"evcc [{veth.lladdr_a}%{veth.if_b}]:"), run.stdout
        session = run.stdout.split("session ")[1][:16]
        assert f"session {session}, {words}" in run.stdout and run.stdout.strip().endswith(_END)
        assert f"evcc: SupportedAppProtocol over {transport}: offered " in run.stderr, run.stderr
        assert line.startswith(f"secc [{veth.lladdr_b}]:") and f"session {session}, {words}" in line, line
        assert line.endswith(_END)
    # The -2 PnC session asked for TLS in SDP and ran over TLS 1.2: TLS 1.2 secrets, no TLS 1.3 ones.
    log = keys.read_text()
    assert "CLIENT_RANDOM " in log and "CLIENT_TRAFFIC_SECRET_0" not in log
    assert err.count("SupportedAppProtocol over tls1.2: ") == 1 and err.count("SupportedAppProtocol over tcp: ") == 2
