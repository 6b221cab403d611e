"""docs/api.md stays accurate: every ```python block in it runs as it stands (each in a fresh namespace)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from tests.support.netns import ipv6_loopback

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", DOC.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_the_doc_has_snippets() -> None:
    assert len(BLOCKS) >= 7


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i + 1}" for i in range(len(BLOCKS))])
def test_snippet_runs(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if '"::1"' in code:
        if not ipv6_loopback():
            pytest.skip("IPv6 loopback (::1) is not available")
        from iso15118.security import libssl

        ok, reason = libssl.available()
        if not ok:
            pytest.skip(f"strict TLS needs the libssl bridge: {reason}")
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {"__name__": "__doc_snippet__"})
