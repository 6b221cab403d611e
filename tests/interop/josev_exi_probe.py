# mypy: ignore-errors
"""Runs inside Josev's virtual environment (``python -I``): Josev's decoder and message models judge EXI payloads.

``iso15118`` here is Josev's package, not ours. Reads JSON lines ``{"id": ..., "ns": NAMESPACE, "hex": EXI}``
on stdin and answers each with ``{"id": ..., "ok": bool, "type": NAME, "error": TEXT}``: ``ok`` when Josev's
EXI codec (EXIficient in a JVM) decodes the payload and its pydantic model of the message accepts it, which is
what Josev's SECC and EVCC do with every message they receive (``EXI().from_exi``).
"""

from __future__ import annotations

import json
import sys

from iso15118.shared.exi_codec import EXI
from iso15118.shared.settings import load_shared_settings


def main() -> None:
    load_shared_settings()
    exi = EXI()
    exi.set_exi_codec(exi.get_exi_codec())
    print(json.dumps({"id": None, "ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        item = json.loads(line)
        try:
            msg = exi.from_exi(bytes.fromhex(item["hex"]), item["ns"])
        except Exception as exc:  # the verdict is the answer
            # V2GMessageValidationError keeps its text in ``reason``, not in str().
            text = getattr(exc, "reason", None) or str(exc)
            answer = {"id": item["id"], "ok": False, "type": None, "error": f"{type(exc).__name__}: {text}"[:2000]}
        else:
            answer = {"id": item["id"], "ok": True, "type": type(msg).__name__, "error": None}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
