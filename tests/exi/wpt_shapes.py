"""WPT fine-positioning messages whose LF_SystemSetupData carries the ranged repetitions of issue 15.

``TxSpecData`` / ``RxSpecData`` (``WPT_LF_TransmitterDataType`` / ``WPT_LF_ReceiverDataType``) and
``PulseSequenceOrder`` (``WPT_TxRxPackageSpecDataType``) have minOccurs 2 and maxOccurs 255: after the first item
the grammar offers only the SE of the next one (1 bit), from the second on also what follows (2 bits), and after the
255th nothing but what follows. :func:`shapes` builds one message per shape and count, for the regression test and
for the recorded vectors (``tests/vectors/exi/wpt_lf_setup.json``).
"""

from __future__ import annotations

from iso15118.messages.generated import iso20_types as t
from iso15118.messages.generated import iso20_wpt as w

__all__ = ["COUNTS", "build", "shapes"]

COUNTS = (2, 3, 254, 255)
"""minOccurs, minOccurs + 1, maxOccurs - 1, maxOccurs."""

_HEADER = t.MessageHeader(session_id=bytes.fromhex("3D30D3AD4C3B83DF"), time_stamp=1700000000)


def _spec(i: int) -> w.WPT_TxRxSpecData:
    return w.WPT_TxRxSpecData(
        tx_rx_identifier=i + 1,
        tx_rx_position=w.WPT_CoordinateXYZ(coord_x=i, coord_y=-i, coord_z=300 - i),
        tx_rx_orientation=w.WPT_CoordinateXYZ(coord_x=1, coord_y=-2, coord_z=i * 7),
    )


def _package(pulses: int) -> w.WPT_TxRxPackageSpecData:
    order = tuple(w.WPT_TxRxPulseOrder(index_number=i, tx_rx_identifier=i + 1) for i in range(pulses))
    return w.WPT_TxRxPackageSpecData(
        pulse_sequence_order=order, pulse_separation_time=10, pulse_duration=20, package_separation_time=300
    )


def _setup(kind: str, count: int, pulses: int | None) -> w.WPT_LF_SystemSetupData:
    specs = tuple(_spec(i) for i in range(count))
    if kind == "rx":
        return w.WPT_LF_SystemSetupData(
            lf_receiver_setup_data=w.WPT_LF_ReceiverData(number_of_receivers=count % 256, rx_spec_data=specs)
        )
    data = w.WPT_LF_TransmitterData(
        number_of_transmitters=count % 256,
        signal_frequency=t.RationalNumber(exponent=3, value=125),
        tx_spec_data=specs,
        tx_package_spec_data=None if pulses is None else _package(pulses),
    )
    return w.WPT_LF_SystemSetupData(lf_transmitter_setup_data=data)


def build(message: str, kind: str, count: int, pulses: int | None = None) -> object:
    """``message`` "Req" or "Res"; ``kind`` "tx" or "rx"; ``count`` spec items; ``pulses`` PulseSequenceOrder items."""
    lf = _setup(kind, count, pulses)
    fine = w.WPT_FinePositioningMethodList(wpt_fine_positioning_method=(w.WPT_FinePositioningMethod.LF_TxEV,))
    pairing = w.WPT_PairingMethodList(wpt_pairing_method=tuple(w.WPT_PairingMethod)[:2])
    alignment = w.WPT_AlignmentCheckMethodList(wpt_alignment_check_method=tuple(w.WPT_AlignmentCheckMethod)[:1])
    if message == "Req":
        return w.WPT_FinePositioningSetupReq(
            header=_HEADER,
            ev_processing=t.Processing.Ongoing,
            ev_device_fine_positioning_method_list=fine,
            ev_device_pairing_method_list=pairing,
            ev_device_alignment_check_method_list=alignment,
            natural_offset=17,
            lf_system_setup_data=lf,
        )
    return w.WPT_FinePositioningSetupRes(
        header=_HEADER,
        response_code=t.ResponseCode.OK,
        primary_device_fine_positioning_method_list=fine,
        primary_device_pairing_method_list=pairing,
        primary_device_alignment_check_method_list=alignment,
        natural_offset=17,
        vendor_specific_data_container=(b"\x01\x02",),
        lf_system_setup_data=lf,
    )


def shapes() -> list[tuple[str, dict[str, object]]]:
    """(label, arguments of :func:`build`) for every shape and count."""
    out: list[tuple[str, dict[str, object]]] = []
    for message in ("Req", "Res"):
        for count in COUNTS:
            out.append((f"{message}/TxSpecData={count}", {"message": message, "kind": "tx", "count": count}))
            out.append((f"{message}/RxSpecData={count}", {"message": message, "kind": "rx", "count": count}))
            out.append(
                (
                    f"{message}/TxSpecData=2/PulseSequenceOrder={count}",
                    {"message": message, "kind": "tx", "count": 2, "pulses": count},
                )
            )
        out.append(
            (
                f"{message}/TxSpecData=255/PulseSequenceOrder=255",
                {"message": message, "kind": "tx", "count": 255, "pulses": 255},
            )
        )
    return out
