"""The HR report as PDF (for the personnel file), CSV and JSON. Texts arrive already redacted."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from .errors import CallauditError
from .hrdata import AgentView, CallView, ReportData

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")  # Debian fonts-dejavu-core: Cyrillic and Latin

CSV_FIELDS = ["call", "agent", "agent_name", "department", "time", "score", "flagged", "failed_rules",
              "rules_version", "model", "sha256", "file"]


def call_row(c: CallView) -> dict:
    return {"call": c.id, "agent": c.agent, "agent_name": c.agent_name, "department": c.department,
            "time": c.when.isoformat(), "score": c.score, "flagged": c.flagged,
            "failed_rules": ";".join(f["rule"] for f in c.failed), "rules_version": c.rules_version,
            "model": c.model, "sha256": c.sha256, "file": c.file}


def to_csv(data: ReportData) -> str:
    """One row per call of the report (the flagged-call list when --flagged)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
    w.writeheader()
    for c in data.calls:
        w.writerow(call_row(c))
    return buf.getvalue()


def to_json(data: ReportData) -> str:
    def agent(a: AgentView) -> dict:
        return {"extension": a.extension, "name": a.name, "department": a.department, "calls": len(a.calls),
                "average": a.average, "trend": a.trend,
                "violations": [{"rule": r, "severity": s, "count": n} for (r, s), n in a.violations.items()],
                "repeats": a.repeats, "offences": a.offences, "recommendation": a.recommendation}

    calls = [{**call_row(c), "flag_reasons": c.flag_reasons,
              "findings": [{k: v for k, v in f.items() if k != "clip"} for f in c.findings],
              "transcript": c.transcript,
              "decisions": [{"rule": d.rule, "decision": d.decision, "by": d.by, "note": d.note,
                             "at": d.at.isoformat()} for d in c.decisions]} for c in data.calls]
    return json.dumps({"period": {"label": data.period.label, "start": data.period.start.isoformat(),
                                  "end": data.period.end.isoformat()},
                       "generated": data.generated.isoformat(), "filters": data.filters, "calls": calls,
                       "agents": [agent(a) for a in data.agents],
                       "top_rules": [{"rule": r, "count": n} for r, n in data.top_rules]},
                      ensure_ascii=False, indent=2)


def to_pdf(data: ReportData) -> bytes:
    """Per-agent disciplinary reports, one agent per page group, with page numbers and signature lines."""
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
        line(f"Calls checked: {len(a.calls)}    Average score: {a.average}")
        line("Violations", 12, True)
        if a.violations:
            for (rule, sev), n in a.violations.items():
                line(f"  {rule} ({sev}): {n}", gap=0.5)
        else:
            line("  none")
        if a.repeats:
            line(f"Repeat offences: {', '.join(a.repeats)}")
        line("Failed findings", 12, True)
        for c in a.calls:
            for f in c.failed:
                line(f"  {c.when:%Y-%m-%d %H:%M}  call {c.id}  {f['rule']} ({f['severity']}) at "
                     f"{(f['at'] or 0):.1f} s: {f['detail']}", 9, gap=0.5)
        ds = [d for c in a.calls for d in c.decisions]
        if ds:
            line("Reviews and appeals", 12, True)
            for d in ds:
                line(f"  {d.at:%Y-%m-%d %H:%M} {d.decision} by {d.by}"
                     + (f" ({d.rule})" if d.rule != "*" else "") + f": {d.note}", 9, gap=0.5)
        line("Recommendation", 12, True)
        line(a.recommendation)
        line("This report is evidence for a person to weigh; the decision is theirs.", 9)
        pdf.ln(8)
        for who in ("HR", "Employee"):
            line(f"{who}: ______________________________    Signature: ________________    Date: ____________")
            pdf.ln(4)
    return bytes(pdf.output())


def write(path: Path | None, fmt: str, data: ReportData, html: str | None = None) -> Path | None:
    """Write the report in `fmt` to `path`; with no path, text formats go to stdout (returns None)."""
    if fmt == "pdf":
        body: bytes | str = to_pdf(data)
    elif fmt == "csv":
        body = to_csv(data)
    elif fmt == "json":
        body = to_json(data)
    else:
        body = html or ""
    if path is None:
        if isinstance(body, bytes):
            raise CallauditError("a PDF report needs a file: give -o FILE.pdf")
        print(body, end="" if body.endswith("\n") else "\n")
        return None
    if isinstance(body, bytes):
        path.write_bytes(body)
    else:
        path.write_text(body, encoding="utf-8")
    return path
