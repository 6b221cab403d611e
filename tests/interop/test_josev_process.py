"""The Josev peer fixture itself: a Josev process, JVM included, leaves nothing behind when a test stops it.

Josev's EVCC with no SECC on the link keeps sending SDP requests (and hangs for good once its SDP retries
are exhausted); stopping it must end its whole process group -- Python and the py4j JVM it started -- and the
log must say what it was doing. Josev's EVCC refuses ``lo`` ("no link-local address"), hence the veth pair.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.netns import veth_pair
from tests.interop.josev import JosevPki, JosevProcess, evcc_config, evcc_env, group_members
from tests.support.netns import require_netns

pytestmark = [pytest.mark.interop, pytest.mark.root, pytest.mark.timeout(120)]


def test_stopping_a_searching_josev_evcc_ends_its_jvm_too(
    josev_live: Path, josev_pki: JosevPki, tmp_path: Path
) -> None:
    require_netns()
    with veth_pair("jpr") as veth:
        config = tmp_path / "evcc.json"
        config.write_text(json.dumps(evcc_config(tls=False, loops=1)))
        process = JosevProcess(
            "evcc-alone",
            josev_live,
            "iso15118.evcc.main",
            namespace=veth.ns_b,
            env=evcc_env(veth.if_b, josev_pki, tls13=False),
            workdir=tmp_path,
            args=(str(config),),
        )
        try:
            process.start()
            assert process.wait_for_log(r"Sending SDPRequest", 60), process.text()[-3000:]
            pid = process.pid
            assert pid is not None and os.getpgid(pid) == pid  # a group of its own
            members = group_members(pid)
            assert any(comm == "java" for _, comm in members), members  # the py4j JVM is in the group
        finally:
            process.stop()
    assert process.returncode is not None
    assert group_members(pid) == []
    assert "SDPRequest" in process.text() and "SDPResponse received" not in process.text()
