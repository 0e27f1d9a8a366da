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
from callaudit.store.hrqueries import split_rules

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")  # Debian fonts-dejavu-core: Cyrillic and Latin

CSV_FIELDS = ["call", "agent", "agent_name", "department", "time", "score", "flagged", "failed_rules",
              "rules_version", "model", "sha256", "file"]


def call_row(c: CallView) -> dict:
    return {"call": c.id, "agent": c.agent, "agent_name": c.agent_name, "department": c.department,
            "time": c.when.isoformat(), "score": c.score, "flagged": c.flagged,
            "failed_rules": ";".join(c.failed_rules), "rules_version": c.rules_version,
            "model": c.model, "sha256": c.sha256, "file": c.file}


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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


class _SafeCells(dict):
    """text -> the cell written for it (safe_cell): a report's names, departments, rule lists, versions and
    models repeat over its 100 000 rows, so each distinct text is checked once."""

    def __missing__(self, v):
        out = self[v] = ("'" + v) if v and v.startswith(FORMULA_START) else v
        return out


class _Rules(dict):
    """A stream row's failed rules as the store gives them ('3:closing;0:greeting', or None) -> the
    rules in order, joined by ';' (safe_cell applied); few distinct ones in a report, each split once."""

    def __missing__(self, joined):
        rules = ";".join(split_rules(joined)) if joined else ""
        out = self[joined] = ("'" + rules) if rules.startswith(FORMULA_START) else rules
        return out


def write_calls_csv(out: TextIO, calls: Iterable[CallView]) -> int:
    """The report's CSV (CSV_FIELDS, one row per call) as the calls are read; returns how many rows."""
    w = csv.writer(out)
    w.writerow(CSV_FIELDS)
    n = 0
    if isinstance(calls, CallStream):  # straight from the store's rows: no CallView for each of 100 000 calls
        cell, rules, formula, write = _SafeCells(), _Rules(), FORMULA_START, w.writerow
        for (_, sha, path, when, agent, name, dept, _, score, flagged, version, model, _, _, _, failed) in calls.rows():
            # safe_cell on the text cells only: an id (hex), a time, a score and a flag never start a formula.
            write((sha[:16], cell[agent], cell[name], cell[dept], when.isoformat(), score, flagged, rules[failed],
                   cell[version], cell[model], sha, ("'" + path) if path.startswith(formula) else path))
            n += 1
        return n
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
    # Straight from the store's rows, the stored flag reasons copied as they are (JSON text already), each
    # line written as _JSON.encode would write the call's dict (same keys, order and separators): the texts
    # that repeat over a report's rows (agents, departments, rule lists, versions, models) encoded once each.
    encode, text, rules = _JSON.encode, _Encoded(), _JsonRules()
    for row in calls.rows(reasons="json"):
        full = calls.detail(row)
        if full is not None:
            yield encode(call_json(full))
            continue
        _, sha, path, when, agent, name, dept, _, score, flagged, version, model, _, _, reasons, failed = row
        decisions = calls.decisions_of(row)
        plain = sha.isalnum()  # hex: nothing to escape
        sha_text, call = (f'"{sha}"', f'"{sha[:16]}"') if plain else (encode(sha), encode(sha[:16]))
        yield (f'{{"call": {call}, "agent": {text[agent]}, "agent_name": {text[name]}, '
               f'"department": {text[dept]}, "time": "{when.isoformat()}", "score": {encode(score)}, '
               f'"flagged": {"true" if flagged else "false"}, "failed_rules": {rules[failed]}, '
               f'"rules_version": {text[version]}, "model": {text[model]}, "sha256": {sha_text}, '
               f'"file": {encode(path)}, "decisions": {encode([_decision(d) for d in decisions]) if decisions else "[]"}, '
               f'"detailed": false, "flag_reasons": {reasons or "[]"}}}')


class _Encoded(dict):
    """value -> its JSON text, each distinct value encoded once."""

    def __missing__(self, v):
        out = self[v] = _JSON.encode(v)
        return out


class _JsonRules(dict):
    """A stream row's failed rules as the store gives them -> the JSON text of the rules in order, joined by ';'."""

    def __missing__(self, joined):
        out = self[joined] = _JSON.encode(";".join(split_rules(joined)) if joined else "")
        return out


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
