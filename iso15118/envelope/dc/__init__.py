"""The DC steps DIN 70121 and ISO 15118-2 share, as pure decisions for both roles, parametrized by the generation.

The seam
--------
DIN 70121 and ISO 15118-2 carry the same DC messages with nearly the same fields: CableCheck, PreCharge and
WeldingDetection are identical; CurrentDemandReq is identical and -2's CurrentDemandRes adds EVSEID,
SAScheduleTupleID, MeterInfo and ReceiptRequired; the DC parameters of PowerDeliveryReq are the same
(DC_EVPowerDeliveryParameter) while the request around them differs (DIN: ReadyToChargeState; -2:
ChargeProgress and SAScheduleTupleID). So the decisions here are written once over a generated module:

* :mod:`.secc`: the charger's answers to CableCheckReq, PreChargeReq, PowerDeliveryReq (its DC part),
  CurrentDemandReq and WeldingDetectionReq, and the DC_EVSEChargeParameter of ChargeParameterDiscoveryRes,
  from the :class:`~iso15118.controller.DCEVSEController` inputs (``Input.DC_LIMITS``, ``CABLE_CHECK``,
  ``PRECHARGE``, ``DC_LOOP``, ``WELDING``, ``POWER_DELIVERY``, ``METER``). A generation describes itself once in
  a :class:`~iso15118.envelope.dc.secc.DcGeneration` (its :class:`~iso15118.envelope.envelope.Envelope` and how
  its charger asks the EV to stop) and passes -2's extra CurrentDemandRes fields as ``extra``.
* :mod:`.evcc`: the EV's requests built from :class:`~iso15118.controller.EVState` and what follows each DC
  response (precharge tolerance and timeout, welding thresholds and the cable-check timeout from
  :class:`~iso15118.config.EvccConfig`, by the rules of :mod:`iso15118.dcrules` that -20 applies too).

Neither side owns a session context: the SECC decisions take and return a :class:`.secc.DcProgress`, the EVCC
decisions an :class:`.evcc.EvDcProgress`, each a field of the generation's own context, and they return the
Body element (SECC) or the next request kind (EVCC). The generation wraps the element in its V2G_Message,
records the progress in its context and builds the requests that differ (PowerDeliveryReq).
"""
