# mypy: ignore-errors
"""Re-record ``josev_failed_responses.json``: run inside Josev's virtual environment (``python -I``, empty cwd).

``iso15118`` here is Josev's package (PyPI iso15118 0.31.2, as ``scripts/install-josev`` installs it). Its SECC answers
a failing request with the entry of ``init_failed_responses_iso_v20()``, after setting the session's SessionID and the
response code (``secc_state.stop_state_machine``), and encodes it with ``EXI().to_exi``: this does the same for every
entry, with SessionID 3D30D3AD4C3B83DF and FAILED_SequenceError, and prints one JSON line per response.
"""

from __future__ import annotations

import json

from iso15118.secc.failed_responses import init_failed_responses_iso_v20
from iso15118.shared.exi_codec import EXI
from iso15118.shared.messages.iso15118_20.common_types import ResponseCode
from iso15118.shared.settings import load_shared_settings


def main() -> None:
    load_shared_settings()
    exi = EXI()
    exi.set_exi_codec(exi.get_exi_codec())
    for _request, (response, namespace, payload_type) in init_failed_responses_iso_v20().items():
        response.header.session_id = "3D30D3AD4C3B83DF"
        response.response_code = ResponseCode.FAILED_SEQUENCE_ERROR
        data = exi.to_exi(response, namespace)
        print(json.dumps({"res": type(response).__name__, "payload_type": int(payload_type), "hex": data.hex()}))


if __name__ == "__main__":
    main()
