"""The human-readable scorecard printed by `callaudit score`."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from callaudit.reports.shown import markup

MARK = {"passed": "[green]pass[/]", "failed": "[red]FAIL[/]", "not evaluated": "[dim]n/e[/]"}


def print_scorecard(result: dict, console: Console | None = None) -> None:
    # Piped output (a log, `make demo`) gets a wide table instead of rich's 80-column default.
    console = console or Console(highlight=False, width=None if sys.stdout.isatty() else 130)
    call = result["call"]
    flag = ("[bold red]FLAGGED[/] " + markup("; ".join(result["flag_reasons"])) if result["flagged"]
            else "[green]ok[/]")
    console.print(f"\n[bold]{markup(call['file'])}[/]  {call['duration']:.1f} s, {call['channels']}, "
                  f"{call['language']}, rules {markup(result['rules_version'])}")
    console.print(f"score [bold]{result['score']:g}[/]/100  {flag}")
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("rule", "severity", "result", "at", "detail"):
        table.add_column(col)
    for f in result["findings"]:
        at = "" if f["at"] is None else f"{f['at']:.1f}s"
        table.add_row(markup(f["rule"]), f["severity"], MARK[f["status"]], at, markup(f["detail"]))
    console.print(table)
