"""The HTML report: one self-contained page (inline CSS, no scripts, no external assets).

A summary (verdict counts, verdicts per category), a table of all cases linking to their sections, and per case:
requirements, preconditions, stimulus, expected reaction, the verdict with its reason, the steps, the timings
measured and the message trace (time, direction, message, payload type, response time; hex and decoded JSON in
collapsible blocks).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING

from harness.conformance.model import CaseResult, Verdict

if TYPE_CHECKING:
    from harness.conformance.report import RunInfo

__all__ = ["render_html"]

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 6px;vertical-align:top}
th{background:#f4f4f4;text-align:left}code,pre{font:12px/1.3 ui-monospace,monospace}
pre{white-space:pre-wrap;word-break:break-all;background:#f8f8f8;padding:6px;margin:2px 0}
.pass{background:#d9f2d9}.fail{background:#f8d0d0}.inconclusive{background:#fbeec1}.error{background:#e0c8f0}
.ok{color:#1a7f1a}.bad{color:#b00}.dir-tx{color:#1f4fa0}.dir-rx{color:#7a3ea8}.dir-net,.dir-note{color:#666}
.verdict{font-weight:bold;padding:1px 6px;border-radius:3px}details{margin:0}summary{cursor:pointer}
.meta td:first-child{font-weight:bold;white-space:nowrap}
"""


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _verdict(verdict: Verdict) -> str:
    return f'<span class="verdict {verdict.value}">{verdict.value.upper()}</span>'


def _meta(rows: Sequence[tuple[str, str]]) -> list[str]:
    """A two-column table of names and values."""
    return [
        '<table class="meta">',
        *(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in rows),
        "</table>",
    ]


def _table(headings: Sequence[str], rows: Sequence[str]) -> list[str]:
    """A table: a row of ``headings`` (HTML), then ``rows`` (each a whole ``<tr>``)."""
    return ["<table><tr>" + "".join(f"<th>{h}</th>" for h in headings) + "</tr>", *rows, "</table>"]


def _summary(results: Sequence[CaseResult], info: RunInfo, totals: Mapping[str, int]) -> list[str]:
    rows = [
        ("Target", info.target),
        ("Tester", info.tester),
        ("Started", _when(info.started)),
        ("Finished", _when(info.finished)),
    ]
    rows += [(k, str(v)) for k, v in sorted(info.settings.items())]
    if info.error is not None:
        rows.append(("Run error", info.error))
    out = ["<h1>ISO 15118-20 conformance report</h1>", *_meta(rows)]
    out.append(
        "<table><tr><th>cases</th>"
        + "".join(f'<th class="{v.value}">{v.value}</th>' for v in Verdict)
        + f"</tr><tr><td>{totals['total']}</td>"
        + "".join(f"<td>{totals[v.value]}</td>" for v in Verdict)
        + "</tr></table>"
    )
    categories: dict[str, dict[str, int]] = {}
    for r in results:
        row = categories.setdefault(f"{r.case.sut.value} / {r.case.category.value}", {v.value: 0 for v in Verdict})
        row[r.verdict.value] += 1
    out += _table(
        ["SUT / category", *(v.value for v in Verdict)],
        [
            f"<tr><td>{escape(name)}</td>" + "".join(f"<td>{row[v.value]}</td>" for v in Verdict) + "</tr>"
            for name, row in categories.items()
        ],
    )
    return out


def _index(results: Sequence[CaseResult]) -> list[str]:
    rows = []
    for r in results:
        c = r.case
        rows.append(
            f'<tr class="{r.verdict.value}"><td><a href="#{escape(c.id)}">{escape(c.id)}</a></td>'
            f"<td>{escape(c.title)}</td><td>{escape(c.category.value)}</td><td>{_verdict(r.verdict)}</td>"
            f"<td>{r.duration:.3f} s</td><td>{escape(r.reason)}</td></tr>"
        )
    return ["<h2>Cases</h2>", *_table(["ID", "title", "category", "verdict", "time", "reason"], rows)]


def _steps(r: CaseResult) -> list[str]:
    rows = []
    for s in r.steps:
        css = {"ok": "ok", "fail": "bad"}.get(s.outcome, "")
        rows.append(
            f"<tr><td>{s.index}</td><td>{escape(s.description)}</td><td class='{css}'>{escape(s.outcome)}</td>"
            f"<td>{escape(s.detail)}</td></tr>"
        )
    return _table(["#", "step", "outcome", "detail"], rows)


def _measurements(r: CaseResult) -> list[str]:
    if not r.measurements:
        return []
    rows = []
    for mm in r.measurements:
        bounds = f"{mm.lower:.3f} s .. {mm.limit:.3f} s" if mm.lower else f"{mm.limit:.3f} s"
        mark = '<span class="ok">ok</span>' if mm.ok else '<span class="bad">exceeded</span>'
        rows.append(
            f"<tr><td>{escape(mm.what)}</td><td>{escape(mm.kind)}</td><td>{mm.measured * 1000:.1f} ms</td>"
            f"<td>{bounds}</td><td>{mark}</td><td>{escape(mm.requirement)}</td></tr>"
        )
    return _table(["what", "kind", "measured", "limit", "", "rule"], rows)


def _trace(r: CaseResult) -> list[str]:
    rows = []
    for e in r.trace:
        body = escape(e.text)
        if e.hex is not None or e.decoded is not None:
            parts = []
            if e.decoded is not None:
                parts.append(f"<pre>{escape(json.dumps(e.decoded, indent=1))}</pre>")
            if e.hex is not None:
                parts.append(f"<pre>{escape(e.hex)}</pre>")
            body = f"<details><summary>{body}</summary>{''.join(parts)}</details>"
        ptype = f"0x{e.payload_type:04x}" if e.payload_type is not None else ""
        stream = f" ({escape(e.stream)})" if e.stream and e.stream != "main" else ""
        elapsed = f"{e.elapsed * 1000:.1f} ms" if e.elapsed is not None else ""
        rows.append(
            f'<tr><td>{e.at:.4f}</td><td class="dir-{escape(e.direction)}">{escape(e.direction)}</td>'
            f"<td>{body}</td><td>{ptype}{stream}</td><td>{elapsed}</td></tr>"
        )
    return _table(["t [s]", "dir", "message / event", "payload type", "response time"], rows)


def _case(r: CaseResult) -> list[str]:
    c = r.case
    needs = ", ".join(n.value for n in sorted(c.needs)) or "none"
    rows = [
        ("SUT", c.sut.value),
        ("category", c.category.value),
        ("requirements", ", ".join(c.requirements)),
        ("preconditions", needs + (f"; {c.preconditions}" if c.preconditions else "")),
        ("stimulus", c.stimulus),
        ("expected", c.expected),
        ("negative case", "yes" if c.negative else "no"),
        ("started", _when(r.started)),
        ("duration", f"{r.duration:.3f} s"),
    ]
    out = [
        f'<h2 id="{escape(c.id)}">{escape(c.id)}: {escape(c.title)} {_verdict(r.verdict)}</h2>',
        f"<p>{escape(r.reason)}</p>",
        *_meta(rows),
        "<h3>Steps</h3>",
        *_steps(r),
    ]
    if r.measurements:
        out += ["<h3>Timing</h3>", *_measurements(r)]
    out += ["<h3>Trace</h3>", *_trace(r)]
    return out


def render_html(results: Sequence[CaseResult], info: RunInfo, totals: Mapping[str, int]) -> str:
    """The whole report as one HTML document."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>ISO 15118-20 conformance report</title>",
        f"<style>{_CSS}</style></head><body>",
    ]
    parts += _summary(results, info, totals)
    parts += _index(results)
    for r in results:
        parts += _case(r)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
