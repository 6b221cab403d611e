"""Hypothesis strategies for every SLAC message (shared by the codec and differential tests)."""

from __future__ import annotations

from hypothesis import strategies as st

from iso15118.slac.mme import (
    AmpMapCnf,
    AmpMapReq,
    AttenCharInd,
    AttenCharRsp,
    AttenProfileInd,
    Mme,
    MnbcSoundInd,
    SetKeyCnf,
    SetKeyReq,
    SlacMatchCnf,
    SlacMatchReq,
    SlacParmCnf,
    SlacParmReq,
    StartAttenCharInd,
    ValidateCnf,
    ValidateReq,
)

u8 = st.integers(0, 255)
u16 = st.integers(0, 0xFFFF)


def blob(n: int) -> st.SearchStrategy[bytes]:
    """Exactly ``n`` arbitrary bytes."""
    return st.binary(min_size=n, max_size=n)


mac = blob(6)
ident = blob(17)
run_id = blob(8)
groups = st.lists(u8, min_size=0, max_size=255).map(tuple)

_common = {"application_type": u8}
_app_sec = {"security_type": u8, **_common}
_not_public_key = st.integers(0, 255).filter(lambda v: v != 1)
_nonces = {"my_nonce": blob(4), "your_nonce": blob(4), "pid": u8, "prn": blob(2), "pmn": u8, "cco_capability": u8}
_atten_char = {"source_address": mac, "run_id": run_id, "source_id": ident, "resp_id": ident, **_app_sec}
_match = {"pev_mac": mac, "evse_mac": mac, "run_id": run_id, "pev_id": ident, "evse_id": ident, **_app_sec}

set_key_req = st.builds(SetKeyReq, nid=blob(7), new_key=blob(16), key_type=u8, new_eks=u8, **_nonces)
set_key_cnf = st.builds(SetKeyCnf, result=u8, **_nonces)
slac_parm_req = st.one_of(
    st.builds(SlacParmReq, run_id=run_id, security_type=_not_public_key, **_common),
    st.builds(
        SlacParmReq,
        run_id=run_id,
        security_type=st.just(1),
        cipher_suites=st.lists(u16, max_size=20).map(tuple),
        **_common,
    ),
)
slac_parm_cnf = st.one_of(
    st.builds(
        SlacParmCnf,
        forwarding_sta=mac,
        run_id=run_id,
        m_sound_target=mac,
        num_sounds=u8,
        time_out=u8,
        resp_type=u8,
        security_type=_not_public_key,
        **_common,
    ),
    st.builds(SlacParmCnf, forwarding_sta=mac, run_id=run_id, security_type=st.just(1), cipher_suite=u16, **_common),
)
start_atten_char = st.builds(
    StartAttenCharInd, forwarding_sta=mac, run_id=run_id, num_sounds=u8, time_out=u8, resp_type=u8, **_app_sec
)
mnbc_sound = st.builds(MnbcSoundInd, run_id=run_id, count=u8, sender_id=ident, random=blob(16), **_app_sec)
atten_profile = st.builds(AttenProfileInd, pev_mac=mac, aag=groups)
atten_char_ind = st.builds(AttenCharInd, num_sounds=u8, aag=groups, **_atten_char)
atten_char_rsp = st.builds(AttenCharRsp, result=u8, **_atten_char)
validate_req = st.builds(ValidateReq, signal_type=u8, timer=u8, result=u8)
validate_cnf = st.builds(ValidateCnf, signal_type=u8, toggle_num=u8, result=u8)
match_req = st.builds(SlacMatchReq, **_match)
match_cnf = st.builds(SlacMatchCnf, nid=blob(7), nmk=blob(16), **_match)
amp_map_req = st.builds(AmpMapReq, amplitudes=st.lists(st.integers(0, 15), max_size=1200).map(tuple))
amp_map_cnf = st.builds(AmpMapCnf, res_type=u8)

ALL: dict[type[Mme], st.SearchStrategy[Mme]] = {
    SetKeyReq: set_key_req,
    SetKeyCnf: set_key_cnf,
    SlacParmReq: slac_parm_req,
    SlacParmCnf: slac_parm_cnf,
    StartAttenCharInd: start_atten_char,
    MnbcSoundInd: mnbc_sound,
    AttenProfileInd: atten_profile,
    AttenCharInd: atten_char_ind,
    AttenCharRsp: atten_char_rsp,
    ValidateReq: validate_req,
    ValidateCnf: validate_cnf,
    SlacMatchReq: match_req,
    SlacMatchCnf: match_cnf,
    AmpMapReq: amp_map_req,
    AmpMapCnf: amp_map_cnf,
}
any_message: st.SearchStrategy[Mme] = st.one_of(*ALL.values())
