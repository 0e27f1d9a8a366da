"""The HR report as PDF (for the personnel file), CSV and JSON. Texts arrive already redacted.

CSV and JSON are written as the calls are read from the store (`ReportData.calls` is a stream), so
a month of 100 000 calls takes constant memory: one row, or one JSON line, per call.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Iterable, TextIO

from callaudit.errors import CallauditError
from callaudit.reports.hrdata import AgentView, CallStream, CallView, ReportData
from callaudit.store.exports import FORMULA_START  # the export's SQL escapes by the same list

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")  # Debian fonts-dejavu-core: Cyrillic and Latin

CSV_FIELDS = ["call", "agent", "agent_name", "department", "time", "score", "flagged", "failed_rules",
              "rules_version", "model", "sha256", "file"]


def call_row(c: CallView) -> dict:
    return {"call": c.id, "agent": c.agent, "agent_name": c.agent_name, "department": c.department,
            "time": c.when.isoformat(), "score": c.score, "flagged": c.flagged,
            "failed_rules": ";".join(c.failed_rules), "rules_version": c.rules_version,
            "model": c.model, "sha256": c.sha256, "file": c.file}


def safe_cell(value):
    """A CSV cell a spreadsheet will not run: text beginning with = + - @, a tab or a carriage return is a
    formula to Excel and LibreOffice (a roster name `=HYPERLINK(…)` would be one), so it gets a leading
    apostrophe, as OWASP recommends. Numbers and other values pass as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _safe_cells(cells: list) -> list:
    # safe_cell inlined: a month's CSV is a million cells.
    return [("'" + v) if type(v) is str and v.startswith(FORMULA_START) else v for v in cells]


def write_csv(out: TextIO, fields: list[str], rows: Iterable[dict]) -> int:
    """Every CSV callaudit writes goes through here, each cell made safe, each row written as it comes;
    returns how many rows."""
    w = csv.writer(out)
    w.writerow(fields)
    n = 0
    for row in rows:
        w.writerow(_safe_cells([row.get(k) for k in fields]))
        n += 1
    return n


def write_calls_csv(out: TextIO, calls: Iterable[CallView]) -> int:
    """The report's CSV (CSV_FIELDS, one row per call) as the calls are read; returns how many rows."""
    w = csv.writer(out)
    w.writerow(CSV_FIELDS)
    n = 0
    if isinstance(calls, CallStream):  # the database writes the cells, formula-escaped (store.hrqueries)
        w.writerows(calls.csv_rows())
        return len(calls)
    for c in calls:
        w.writerow(_safe_cells([c.id, c.agent, c.agent_name, c.department, c.when.isoformat(), c.score, c.flagged,
                                ";".join(c.failed_rules), c.rules_version, c.model, c.sha256, c.file]))
        n += 1
    return n


def csv_text(fields: list[str], rows) -> str:
    """A whole CSV as text (small tables; reports stream through `write_csv`)."""
    buf = io.StringIO()
    write_csv(buf, fields, rows)
    return buf.getvalue()


def to_csv(data: ReportData) -> str:
    """One row per call of the report (the flagged-call list when --flagged)."""
    buf = io.StringIO()
    write_calls_csv(buf, data.calls)
    return buf.getvalue()


def _decision(d) -> dict:
    return {"rule": d.rule, "decision": d.decision, "by": d.by, "note": d.note, "at": d.at.isoformat(),
            "on_current_scoring": d.on_current}


def _agent(a: AgentView) -> dict:
    return {"extension": a.extension, "name": a.name, "department": a.department, "calls": a.checked,
            "flagged": a.flagged, "average": a.average, "trend": a.trend,
            "violations": [{"rule": r, "severity": s, "count": n} for (r, s), n in a.violations.items()],
            "repeats": a.repeats, "offences": a.offences, "recommendation": a.recommendation}


def call_json(c: CallView) -> dict:
    """One call of the JSON report; a detailed call also carries its findings and transcript."""
    out = {**call_row(c), "flag_reasons": c.flag_reasons, "decisions": [_decision(d) for d in c.decisions],
           "detailed": c.detailed}
    if c.detailed:
        out["findings"] = [{k: v for k, v in f.items() if k != "clip"} for f in c.findings]
        out["transcript"] = c.transcript
    return out


def write_json(out: TextIO, data: ReportData) -> int:
    """The JSON report: the summaries first, then "calls", one line per call as it is read; returns how
    many calls."""
    dump = _JSON.encode

    head = {"period": {"label": data.period.label, "start": data.period.start.isoformat(),
                       "end": data.period.end.isoformat()},
            "generated": data.generated.isoformat(), "filters": data.filters,
            "totals": {"calls": data.total, "flagged": data.flagged_total},
            "agents": [_agent(a) for a in data.agents],
            "top_rules": [{"rule": r, "count": n} for r, n in data.top_rules],
            "details": {"calls": len(data.calls), "detailed": len(data.details), "note": data.details_note},
            "sections": {x.key: {"title": x.title, "agent": x.agent, "note": x.note,
                                 "rows": [dict(zip(x.columns, r)) for r in x.rows]} for x in data.sections}}
    out.write("{\n")
    for k, v in head.items():
        out.write(f"{dump(k)}: {dump(v)},\n")
    out.write('"calls": [')
    n = 0
    for line in _call_lines(data.calls):
        out.write(("\n" if n == 0 else ",\n") + line)
        n += 1
    out.write("\n]}\n")
    return n


# One encoder for every line: json.dumps with options builds a new one on each call.
_JSON = json.JSONEncoder(ensure_ascii=False)


def _call_lines(calls) -> Iterable[str]:
    """Each call of the report as one JSON line."""
    if not isinstance(calls, CallStream):
        yield from (_JSON.encode(call_json(c)) for c in calls)
        return
    # The database writes each light call's line (store.exports.json_lines), with "decisions": [] last:
    # a call with decisions gets them put in, a detailed call is written from its full view.
    for call_id, line in calls.json_lines():
        full = calls.detail(call_id)
        if full is not None:
            yield _JSON.encode(call_json(full))
        elif decisions := calls.decisions_of(call_id):
            yield line[:-3] + _JSON.encode([_decision(d) for d in decisions]) + "}"
        else:
            yield line


def to_json(data: ReportData) -> str:
    buf = io.StringIO()
    write_json(buf, data)
    return buf.getvalue()


def to_pdf(data: ReportData, extra=None) -> bytes:
    """Per-agent disciplinary reports, one agent per page group, with page numbers and signature lines.
    `extra` (reports/requests.PdfSection) adds lines to each agent's page and an appendix."""
    from fpdf import FPDF

    if not (FONT_DIR / "DejaVuSans.ttf").exists():
        raise CallauditError(f"{FONT_DIR}/DejaVuSans.ttf is missing: install Debian's fonts-dejavu-core")

    class Doc(FPDF):
        def footer(self):
            self.set_y(-12)
            self.set_font("dejavu", size=8)
            self.cell(0, 8, f"callaudit · {data.period.label} · page {self.page_no()} of {{nb}}", align="C")

    pdf = Doc(format="A4")
    pdf.add_font("dejavu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("dejavu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(True, margin=18)
    pdf.alias_nb_pages()

    def line(text: str, size: int = 10, bold: bool = False, gap: float = 1.5) -> None:
        pdf.set_font("dejavu", "B" if bold else "", size)
        pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    def section(x) -> None:
        line(x.title, 12, True)
        for r in x.rows:
            line("  " + " · ".join(f"{c}: {v}" for c, v in zip(x.columns, r)), 9, gap=0.5)
        if x.note:
            line(f"  {x.note}", 9, gap=0.5)

    if not data.agents:
        pdf.add_page()
        line("Disciplinary report", 16, True)
        line(f"Period: {data.period.label}")
        line("No scored calls in this period.")
    for a in data.agents:
        pdf.add_page()
        line("Disciplinary report", 16, True)
        line(f"Agent: {a.extension} {a.name}".strip(), 12, True)
        line(f"Department: {a.department or '-'}    Period: {data.period.label}")
        line(f"Calls checked: {a.checked}    Flagged: {a.flagged}    Average score: {a.average}")
        line("Violations", 12, True)
        if a.violations:
            for (rule, sev), n in a.violations.items():
                line(f"  {rule} ({sev}): {n}", gap=0.5)
        else:
            line("  none")
        if a.repeats:
            line(f"Repeat offences: {', '.join(a.repeats)}")
        line("Failed findings", 12, True)
        if a.failed_total - a.charged > len(a.failed):
            line(f"  the latest {len(a.failed)} of {a.failed_total - a.charged}; every call: --agent {a.extension} "
                 "--format csv, or a shorter --period", 9, gap=0.5)
        for f in a.failed:
            line(f"  {f.when:%Y-%m-%d %H:%M}  call {f.call}  {f.rule} ({f.severity}) at "
                 f"{(f.at or 0):.1f} s: {f.detail}", 9, gap=0.5)
        for text, size, bold in (extra.agent_lines(a.extension) if extra else ()):
            line(text, size, bold, gap=0.5)
        if a.decisions:
            line("Reviews and appeals", 12, True)
            if a.decisions_total > len(a.decisions):
                line(f"  the latest {len(a.decisions)} of {a.decisions_total}; all of them: --agent "
                     f"{a.extension} --format json, or a shorter --period", 9, gap=0.5)
            for d in a.decisions:
                line(f"  {d.at:%Y-%m-%d %H:%M} {d.decision} by {d.by}"
                     + (f" ({d.rule})" if d.rule != "*" else "") + f": {d.note}"
                     + ("" if d.on_current else " [on an earlier scoring]"), 9, gap=0.5)
        for x in data.sections:
            if x.agent == a.extension:
                section(x)
        line("Recommendation", 12, True)
        line(a.recommendation)
        line("This report is evidence for a person to weigh; the decision is theirs.", 9)
        pdf.ln(8)
        for who in ("HR", "Employee"):
            line(f"{who}: ______________________________    Signature: ________________    Date: ____________")
            pdf.ln(4)
    department = [x for x in data.sections if x.agent is None]
    if department:
        pdf.add_page()
        line("Department", 16, True)
        line(f"Period: {data.period.label}")
        for x in department:
            section(x)
    appendix = extra.appendix() if extra else []
    if appendix:
        pdf.add_page()
        for text, size, bold in appendix:
            line(text, size, bold, gap=0.5)
    return bytes(pdf.output())


def write(path: Path | None, fmt: str, data: ReportData, html: Iterable[str] | str | None = None,
          extra=None) -> Path | None:
    """Write the report in `fmt` to `path` as it is produced; with no path, text formats go to stdout
    (returns None). `html`: the HTML report's text, or its pieces (html_report.generate); `extra`: the
    PDF's added lines (reports/requests.PdfSection)."""
    if fmt == "pdf":
        if path is None:
            raise CallauditError("a PDF report needs a file: give -o FILE.pdf")
        path.write_bytes(to_pdf(data, extra))
        return path
    out = sys.stdout if path is None else open(path, "w", encoding="utf-8", newline="")
    try:
        if fmt == "csv":
            write_calls_csv(out, data.calls)
        elif fmt == "json":
            write_json(out, data)
        else:
            for piece in ([html] if isinstance(html, str) else html or []):
                out.write(piece)
            if path is None:
                out.write("\n")
    finally:
        if path is not None:
            out.close()
        else:
            out.flush()
    return path
