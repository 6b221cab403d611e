"""`v2g schemas compile`: regenerate the grammars, binding classes and codecs from the official XSDs."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.schemas_build import REPO_ROOT, check_outputs, write_outputs

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `schemas compile`."""
    schemas = sub.add_parser("schemas", help="compile the official XSDs into grammars and code")
    inner = schemas.add_subparsers(dest="schemas_command", metavar="ACTION", required=True)
    comp = inner.add_parser(
        "compile", help="regenerate schemas/, iso15118/messages/generated and iso15118/codec/generated"
    )
    comp.add_argument("--xsd-dir", type=Path, default=REPO_ROOT.parent / "shared" / "schemas",
                      help="folder with the official XSDs (default: %(default)s, next to the repository)")  # fmt: skip
    comp.add_argument("--out", type=Path, default=REPO_ROOT, help="repository root to write into")
    comp.add_argument("--check", action="store_true", help="only report differences; exit 1 if any")
    comp.set_defaults(func=_compile)


def _compile(args: argparse.Namespace) -> int:
    if args.check:
        problems = check_outputs(args.xsd_dir, args.out)
        for p in problems:
            print(p)
        print("up to date" if not problems else f"{len(problems)} file(s) differ from a fresh compilation")
        return 1 if problems else 0
    changed = write_outputs(args.xsd_dir, args.out)
    for path in changed:
        print(f"wrote {path}")
    print(f"{len(changed)} file(s) changed")
    return 0
