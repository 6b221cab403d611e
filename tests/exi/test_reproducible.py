"""The committed grammars, binding classes and codecs are exactly what our compiler makes from the official XSDs."""

from __future__ import annotations

from pathlib import Path

from harness.schemas_build import REPO_ROOT, check_outputs


def test_generated_files_match_a_fresh_compilation(xsd_dir: Path) -> None:
    problems = check_outputs(xsd_dir, REPO_ROOT)
    assert not problems, "run `v2g schemas compile` and commit: " + "; ".join(problems)


def test_sources_list_every_xsd_used(xsd_dir: Path) -> None:
    text = (REPO_ROOT / "schemas" / "SOURCES.md").read_text()
    for xsd in sorted(xsd_dir.rglob("*.xsd")):
        rel = xsd.relative_to(xsd_dir).as_posix()
        assert rel in text, f"{rel} is not listed in schemas/SOURCES.md"
