"""HR commands: report, review, appeal, calibrate."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .errors import CallauditError


def _config(ctx: click.Context):
    return ctx.find_object(dict)["config"]()


def _db_option(f):
    return click.option("--db", envvar="CALLAUDIT_DB", help="SQLite file or postgresql:// URL (default: [store] db).")(f)


@click.command()
@click.option("--period", help="2026-11, last-7d or FROM..TO (default: everything stored).")
@click.option("--agent", help="Only this agent (extension or name).")
@click.option("--department", help="Only this department.")
@click.option("--flagged", is_flag=True, help="List only flagged calls.")
@click.option("--format", "fmt", type=click.Choice(["html", "pdf", "csv", "json"]), default="html", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file (default: stdout; "
              "HTML and PDF default to report.html / report.pdf).")
@click.option("--no-audio", is_flag=True, help="Leave the audio clips out of the HTML report.")
@_db_option
@click.pass_context
def report(ctx, period, agent, department, flagged, fmt, output, no_audio, db) -> None:
    """Flagged calls, call details with evidence, per-agent disciplinary reports, department summary."""
    from . import report_files, report_html
    from .hrdata import gather, parse_period
    from .redact import Redactor
    from .store import open_store

    cfg = _config(ctx)
    redactor = Redactor.from_config(cfg)
    per = parse_period(period)
    store = open_store(db, cfg)
    try:
        with store.session() as s:
            data = gather(s, per, cfg["policy"], redactor, agent, department, flagged)
    finally:
        store.close()
    path = Path(output) if output else (Path(f"report.{fmt}") if fmt in ("html", "pdf") else None)
    html = report_html.render(data, redactor, no_audio) if fmt == "html" else None
    written = report_files.write(path, fmt, data, html)
    if written:
        click.echo(f"{fmt.upper()} report: {written.resolve()} ({len(data.calls)} calls, "
                   f"{len(data.flagged)} flagged, {len(data.agents)} agents, period {per.label})")


def _decide(ctx, call_id: str, db: str | None, action) -> None:
    from .cli_store import _find_call
    from .store import open_store

    store = open_store(db, _config(ctx))
    try:
        with store.session() as s:
            call = _find_call(s, call_id)
            click.echo(action(s, call))
    finally:
        store.close()


@click.command()
@click.argument("call_id", metavar="CALL")
@click.option("--finding", help="One failed finding (rule id); default: all failed findings of the call.")
@click.option("--confirm", "decision", flag_value="confirmed", help="The finding stands.")
@click.option("--dismiss", "decision", flag_value="dismissed", help="The finding is wrong: it stops counting.")
@click.option("--by", required=True, help="Who decides (recorded with the time).")
@click.option("--note", required=True, help="Why.")
@_db_option
@click.pass_context
def review(ctx, call_id, finding, decision, by, note, db) -> None:
    """Confirm or dismiss a call's failed findings (append-only, with author and time)."""
    from . import reviews

    if decision is None:
        raise CallauditError("say --confirm or --dismiss")

    def act(s, call):
        rows = reviews.review(s, call, decision, by, note, finding)
        what = finding or "all failed findings"
        return f"call {call.public_id}: {decision} {what} by {by} ({len(rows)} record(s) added)"

    _decide(ctx, call_id, db, act)


@click.command()
@click.argument("call_id", metavar="CALL")
@click.option("--by", required=True, help="The agent who appeals.")
@click.option("--note", required=True, help="Why the verdict is wrong.")
@_db_option
@click.pass_context
def appeal(ctx, call_id, by, note, db) -> None:
    """Record an agent's appeal against a call's verdict."""
    from . import reviews

    def act(s, call):
        reviews.appeal(s, call, by, note)
        return f"call {call.public_id}: appeal by {by} recorded"

    _decide(ctx, call_id, db, act)


@click.command()
@click.argument("human_csv", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@_db_option
@click.pass_context
def calibrate(ctx, human_csv, as_json, db) -> None:
    """Compare human QA verdicts (CSV: call,rule,verdict) with the tool's: agreement, kappa, confusion."""
    from .calibrate import compare, read_human
    from .cli_store import _find_call
    from .store import open_store

    rows = read_human(Path(human_csv))
    store = open_store(db, _config(ctx))
    pairs, missing = [], []
    try:
        with store.session() as s:
            for call_ref, rule, verdict, line in rows:
                try:
                    call = _find_call(s, call_ref)
                except CallauditError:
                    missing.append(f"{human_csv}:{line}: call {call_ref!r} is not in the store")
                    continue
                score = call.current_score
                tool = next((f for f in score.findings if f.rule == rule), None) if score else None
                if tool is None:
                    missing.append(f"{human_csv}:{line}: call {call_ref} has no verdict on rule {rule!r}")
                    continue
                pairs.append((rule, verdict, {True: "pass", False: "fail", None: None}[tool.passed]))
    finally:
        store.close()
    results = compare(pairs)
    if as_json:
        click.echo(json.dumps([{"rule": a.rule, "n": a.n, "agreement": a.agreement, "kappa": a.kappa,
                                "not_evaluated": a.not_evaluated,
                                "confusion": {f"human_{h}/tool_{t}": n for (h, t), n in a.matrix.items()}}
                               for a in results] + ([{"skipped": missing}] if missing else []),
                              ensure_ascii=False, indent=2))
    else:
        click.echo(f"{'rule':20} {'n':>4} {'agree':>6} {'kappa':>6}   human pass→tool pass/fail   human fail→tool pass/fail   n/e")
        for a in results:
            m = a.matrix
            agree = "-" if a.agreement is None else f"{a.agreement:.0%}"
            kappa = "-" if a.kappa is None else f"{a.kappa:.2f}"
            click.echo(f"{a.rule:20} {a.n:>4} {agree:>6} {kappa:>6}   {m[('pass', 'pass')]:>14}/{m[('pass', 'fail')]:<10}"
                       f"   {m[('fail', 'pass')]:>14}/{m[('fail', 'fail')]:<10}   {a.not_evaluated}")
        for line in missing:
            click.echo(f"skipped: {line}", err=True)
