"""The protocol generations that wrap every message in ``V2G_Message``: DIN 70121 and ISO 15118-2.

Both put a ``Header`` (SessionID, optional Notification and Signature) and a ``Body`` holding exactly one
request or response element in one document, carried in V2GTP payload type 0x8001 like SupportedAppProtocol.
What they share lives here, once: the message kinds (:mod:`.kinds`), reading and building the envelope
(:mod:`.envelope`), the states and the guards and conditions of their sequence tables (:mod:`.states`), the
session profile a generation is made into (:mod:`.profile`), their physical values (:mod:`.physical`), and the
DC decisions of both roles, written once over a generation's messages (:mod:`.dc`). :mod:`iso15118.din` and
:mod:`iso15118.iso2` add each generation's table, timers and the decisions that differ.
"""
