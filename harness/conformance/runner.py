"""Running one case: preconditions, the steps in order, the verdict, and the evidence.

:class:`BaseRunner` holds what both roles share: the precondition check, the step loop (a table from step
type to handler, h2 style), the verdict rules, opening the connection (the TLS context, the evidence, judging a
refused handshake) and the steps both roles use (raw bytes, silence, waiting for the SUT to close, TLS checks).
:mod:`~harness.conformance.secc_runner` and :mod:`~harness.conformance.evcc_runner` add the steps of the tester
playing the EV and the SECC.

Verdicts: a step that fails fails the case, unless it is a preamble step (then the SUT did not reach the state
under test: inconclusive); a missing precondition is inconclusive, and so is a SUT that does not offer what the
case needs (:class:`~harness.conformance.checks.NotApplicable`: "needs PnC: the SUT offers EIM only"); a case
running longer than its timeout fails; with ``strict_performance`` a response slower than its performance time
fails the case. A SUT the tester cannot reach (:class:`~harness.conformance.targets.SutUnreachable`) is an
ERROR, which stops the run.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from harness.conformance.checks import Check, NotApplicable
from harness.conformance.context import Context, RunConfig
from harness.conformance.generations import protocol_for
from harness.conformance.model import Case, CaseResult, Measurement, Need, StepRecord, SutRole, Verdict
from harness.conformance.protocol import Protocol
from harness.conformance.steps import CheckTls, Close, ExpectClosed, ExpectRefused, SendRaw, Silence, Step, TlsVariant
from harness.conformance.targets import SutUnreachable
from harness.conformance.wire import Closed, Connection, Received, Recorder, Wire, WireError
from iso15118.codec import decode_message
from iso15118.errors import CodecError, V2GError

__all__ = ["BaseRunner", "StepFailed", "StepInconclusive", "decode"]


class StepFailed(Exception):
    """A step's expectation did not hold; the message says what the SUT did instead."""


class StepInconclusive(Exception):
    """A step could not be judged (the SUT or the set-up did not allow it)."""


def decode(
    received: Received, recorder: Recorder | None = None, protocol: Protocol | None = None, *, negotiated: bool = False
) -> Any:
    """The message in a received frame (read as ``protocol`` has it after SupportedAppProtocol agreed when
    ``negotiated``); StepFailed naming the decoding error (the frame goes to ``recorder``)."""
    try:
        if protocol is None:
            return decode_message(received.payload, received.payload_type)
        return protocol.decode(received.payload_type, received.payload, negotiated=negotiated)
    except CodecError as exc:
        if recorder is not None:
            recorder.frame("rx", received.raw, at=received.at, name="undecodable frame")
        raise StepFailed(f"the SUT sent an undecodable payload (type 0x{received.payload_type:04x}): {exc}") from None


class BaseRunner:
    """Runs one case against one target; subclasses add the role's steps to :attr:`handlers`."""

    role: SutRole
    opening: ClassVar[type[Step]]
    """The step that opens the connection: run with its defaults before the first step, unless the case starts
    with it (or with :class:`ExpectRefused`)."""

    def __init__(self, case: Case, target: Any, config: RunConfig) -> None:
        self.case = case
        self.target = target
        self.config = config
        self.rec = Recorder()
        self.protocol = protocol_for(case, config.protocol)
        self.ctx = Context(profile=case.profile, config=config, protocol=self.protocol, needs=case.needs)
        self.wire: Wire | None = None
        self.records: list[StepRecord] = []
        self.mark = self.rec.clock()
        """Clock time of the last frame sent or received: where the SUT's timers start."""
        self.handlers: dict[type, Callable[[Any], Awaitable[None]]] = {
            SendRaw: self.send_raw,
            ExpectClosed: self.expect_closed,
            Silence: self.silence,
            Close: self.close,
            CheckTls: self.check_tls,
        }

    # ---- preconditions -------------------------------------------------------------------------------
    def missing(self) -> list[str]:
        """The preconditions of the case that this target and configuration do not meet, each saying what is
        needed and how to provide it."""
        needs = self.case.needs
        found: list[str] = []
        if Need.PKI in needs and self.config.credentials is None:
            what = "a PKI with contract credentials" if Need.PNC in needs else "the tester's test PKI"
            found.append(f"needs {what}: pass --pki DIR (a `v2g pki init` directory the SUT trusts)")
        if Need.TLS in needs and not self.target.tls:
            found.append("needs TLS: the target is in-memory or plain TCP")
        lacking = sorted(n.value for n in needs - {Need.TLS, Need.PKI} if n not in self.target.capabilities)
        if lacking:
            found.append(f"needs {', '.join(lacking)}: not among the SUT's capabilities (--capabilities)")
        return found

    # ---- the case ------------------------------------------------------------------------------------
    async def run(self) -> CaseResult:
        """Run the case and return its verdict with the evidence."""
        started, t0 = time.time(), self.rec.clock()
        missing = self.missing()
        if missing:
            verdict, reason = Verdict.INCONCLUSIVE, "; ".join(missing)
        else:
            try:
                verdict, reason = await asyncio.wait_for(self._steps(), self.case.timeout_s)
            except TimeoutError:
                verdict, reason = Verdict.FAIL, f"the case did not finish within {self.case.timeout_s:g} s"
            except SutUnreachable as exc:
                self.rec.note(str(exc), direction="net")
                verdict, reason = Verdict.ERROR, str(exc)
            finally:
                await self._teardown()
        slow = [m for m in self.rec.measurements if not m.ok]
        if verdict is Verdict.PASS and slow and self.case.strict_performance:
            verdict = Verdict.FAIL
            reason = "; ".join(f"{m.what}: {m.measured:.3f} s, limit {m.limit:g} s [{m.requirement}]" for m in slow)
        elif verdict is Verdict.PASS and slow:
            reason += f" ({len(slow)} time limit(s) exceeded, see the measurements)"
        return CaseResult(
            case=self.case,
            verdict=verdict,
            reason=reason,
            started=started,
            duration=round(self.rec.clock() - t0, 6),
            trace=tuple(self.rec.trace),
            measurements=tuple(self.rec.measurements),
            steps=tuple(self.records),
            target=str(getattr(self.target, "name", "")),
        )

    async def prepare(self) -> None:
        """Before the first step: open the connection unless the case does it itself."""
        first = self.case.steps[0] if self.case.steps else None
        if not isinstance(first, (self.opening, ExpectRefused)):
            await self.handlers[self.opening](self.opening())

    async def _steps(self) -> tuple[Verdict, str]:
        steps = self.case.steps
        try:
            await self.prepare()
        except (StepFailed, StepInconclusive, NotApplicable) as exc:
            return Verdict.INCONCLUSIVE, f"could not start the case: {exc}"
        for index, step in enumerate(steps, start=1):
            description = step.describe()
            try:
                try:
                    await self.handlers[type(step)](step)
                except ConnectionError as exc:
                    # The SUT closed the connection while the tester was sending.
                    raise StepFailed(f"the SUT closed the connection: {exc}") from None
            except StepFailed as exc:
                outcome = "inconclusive" if step.preamble else "fail"
                self._record(index, description, outcome, str(exc), steps[index:])
                verdict = Verdict.INCONCLUSIVE if step.preamble else Verdict.FAIL
                prefix = "preamble failed at" if step.preamble else "step"
                return verdict, f"{prefix} {index} ({description}): {exc}"
            except (StepInconclusive, NotApplicable) as exc:
                self._record(index, description, "inconclusive", str(exc), steps[index:])
                return Verdict.INCONCLUSIVE, f"step {index} ({description}): {exc}"
            except (V2GError, ValueError, KeyError, TypeError, AttributeError) as exc:
                self._record(index, description, "inconclusive", f"tester error: {exc}", steps[index:])
                return Verdict.INCONCLUSIVE, f"step {index} ({description}): tester error: {type(exc).__name__}: {exc}"
            self.records.append(StepRecord(index=index, description=description, outcome="ok"))
        return Verdict.PASS, f"all {len(steps)} steps passed"

    def _record(self, index: int, description: str, outcome: str, detail: str, rest: tuple[Step, ...]) -> None:
        self.records.append(StepRecord(index=index, description=description, outcome=outcome, detail=detail))
        for offset, step in enumerate(rest, start=index + 1):
            self.records.append(StepRecord(index=offset, description=step.describe(), outcome="skipped"))

    async def _teardown(self) -> None:
        if self.wire is not None:
            for item in self.wire.pending():
                self._trace_incoming(item, note="after the last step")
            await self.wire.close()
            self.wire = None

    # ---- connections -----------------------------------------------------------------------------------
    def tls_context(self, variant: TlsVariant) -> ssl.SSLContext | None:
        """The tester's TLS context for ``variant`` (None on a target without TLS)."""
        if not self.target.tls:
            if variant is not TlsVariant.NORMAL:
                raise StepInconclusive("the target has no TLS")
            return None
        return self.role_tls_context(variant)

    def role_tls_context(self, variant: TlsVariant) -> ssl.SSLContext:
        """The TLS context of the role the tester plays, on a TLS target."""
        raise NotImplementedError

    def open_wire(self, connection: Connection, opened: str) -> Wire:
        """A wire on a connection a target opened, noted as ``opened`` (then the peer and the TLS session)."""
        tls = f"; {connection.tls.summary()}" if connection.tls else " (no TLS)"
        self.rec.note(f"{opened} {connection.link.peer}{tls}", direction="net")
        return Wire(connection, self.rec.clock)

    async def judge_refusal(self, wire: Wire, step: ExpectRefused, *, sut: str, reacted: str) -> None:
        """After a handshake the tester saw complete: the SUT (called ``sut``) must close without a V2G message.

        TLS 1.3 reports a refused certificate only after the peer's handshake finished, so closing counts as
        refusing; a message fails the step, named after ``reacted`` (what the SUT did with it).
        """
        item = await wire.next(step.within + self.config.slack)
        msg = self._trace_incoming(item) if item is not None else None
        if isinstance(item, Closed | WireError):
            self.rec.note(f"{sut} closed the connection without a V2G message: refused", direction="net")
            return
        if item is None:
            raise StepFailed(f"{sut} neither closed the connection nor refused the handshake in {step.within:g} s")
        raise StepFailed(f"{sut} accepted the TLS peer ({step.tls}) and {reacted} {type(msg).__name__}")

    # ---- helpers ---------------------------------------------------------------------------------------
    def decode(self, received: Received) -> Any:
        """The message in a frame the SUT sent, read as the case's protocol has it now."""
        return decode(received, self.rec, self.protocol, negotiated=self.ctx.negotiated)

    def need_wire(self) -> Wire:
        """The open connection (a tester error when there is none)."""
        if self.wire is None:
            raise StepInconclusive("no connection is open")
        return self.wire

    def run_checks(self, checks: tuple[Check, ...], msg: Any) -> None:
        """Run ``checks`` on ``msg``; the first that fails fails the step."""
        for item in checks:
            try:
                problem = item(self.ctx, msg)
            except NotApplicable as exc:
                self.rec.note(f"check {item.label()}: not applicable: {exc}")
                raise StepInconclusive(str(exc)) from None
            self.rec.note(f"check {item.label()}: {'ok' if problem is None else problem}")
            if problem is not None:
                raise StepFailed(f"{item.label()}: {problem}")

    def _trace_incoming(self, item: Any, *, note: str = "") -> Any:
        suffix = f" ({note})" if note else ""
        if isinstance(item, Closed):
            self.rec.note(
                f"the SUT closed the connection{suffix}" + (f": {item.error}" if item.error else ""),
                direction="net",
                at=item.at,
            )
            return None
        if isinstance(item, WireError):
            self.rec.note(f"invalid V2GTP frame from the SUT{suffix}: {item.error}", direction="net", at=item.at)
            return None
        try:
            msg = self.decode(item)
        except StepFailed as exc:
            self.rec.note(f"{exc}{suffix}")
            return None
        self.rec.frame("rx", item.raw, at=item.at, message=msg, stream=str(self.protocol.stream_of(item.payload_type)))
        return msg

    # ---- steps both roles use ----------------------------------------------------------------------------
    async def send_raw(self, step: SendRaw) -> None:
        """Step :class:`SendRaw`."""
        wire = self.need_wire()
        data = step.data(self.ctx) if callable(step.data) else step.data
        at = await wire.send(data, split=step.split, gap=step.gap)
        self.rec.frame("tx", data, at=at, name=step.label)
        self.mark = at

    async def expect_closed(self, step: ExpectClosed) -> None:
        """Step :class:`ExpectClosed`: wait for the SUT to close, within (and not before) the limits."""
        wire = self.need_wire()
        start = self.mark
        upper, lower = step.limits(self.config.timing)
        if step.timeout_of is not None:
            # The EV's message timeout of a request kind, as the case's protocol has it.
            value = self.protocol.timing(step.timeout_of, self.config.timing).evcc_timeout
            upper, lower = value * step.factor + step.grace, value if step.lower else 0.0
        limit = upper + self.config.slack
        floor = max(0.0, lower - self.config.slack)
        while True:
            item = await wire.next(start + limit - self.rec.clock())
            if item is None:
                self.rec.measure(
                    Measurement(
                        what=step.what,
                        measured=round(self.rec.clock() - start, 6),
                        limit=limit,
                        kind="timeout",
                        requirement=step.requirement,
                        lower=floor,
                    )
                )
                raise StepFailed(f"the connection is still open {limit:g} s later (limit {upper:g} s)")
            if isinstance(item, Closed):
                waited = item.at - start
                self._trace_incoming(item)
                measured = self.rec.measure(
                    Measurement(
                        what=step.what,
                        measured=round(waited, 6),
                        limit=limit,
                        kind="timeout",
                        requirement=step.requirement,
                        lower=floor,
                    )
                )
                if not measured.ok:
                    raise StepFailed(f"closed after {waited:.3f} s, before the {lower:g} s it must wait")
                return
            msg = self._trace_incoming(item)
            if msg is None:
                if isinstance(item, WireError):
                    continue
                raise StepFailed("the SUT sent an undecodable message instead of closing")
            code = self.protocol.code_of(msg)
            if step.allow_failed and code.upper().startswith("FAILED"):
                continue
            name = self.protocol.kind_of(msg) or type(msg).__name__
            raise StepFailed(f"the SUT sent {name} {code}".rstrip() + " instead of closing")

    async def silence(self, step: Silence) -> None:
        """Step :class:`Silence`: wait; the SUT must send nothing."""
        wire = self.need_wire()
        end = self.rec.clock() + step.seconds
        while (remaining := end - self.rec.clock()) > 0:
            item = await wire.next(remaining)
            if item is None:
                break
            msg = self._trace_incoming(item)
            if isinstance(item, Closed):
                await asyncio.sleep(max(0.0, end - self.rec.clock()))
                break
            name = (self.protocol.kind_of(msg) or type(msg).__name__) if msg is not None else "bytes"
            raise StepFailed(f"the SUT sent {name} while the tester was silent")

    async def close(self, step: Close) -> None:
        """Step :class:`Close`: the tester closes the connection."""
        if self.wire is not None:
            for item in self.wire.pending():
                self._trace_incoming(item)
            await self.wire.close()
            self.wire = None
            self.rec.note("the tester closed the connection", direction="net")

    async def check_tls(self, step: CheckTls) -> None:
        """Step :class:`CheckTls`: run TLS checks on the connection."""
        wire = self.need_wire()
        if wire.connection.tls is None:
            raise StepInconclusive("the connection is not TLS")
        self.run_checks(tuple(step.checks), wire.connection)
