"""What a person watching a batch sees: a progress bar on a terminal (one line per call in a log), and
the closing summary. Progress goes to stderr, so that `--json` output on stdout stays clean."""

from __future__ import annotations

from typing import Any, Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from callaudit.jobs.runs import Tally
from callaudit.reports.shown import markup, printable


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 360 else f"{seconds / 60:.1f} min"


class BatchProgress:
    """Receives the workers' events: calls done, audio-hours done, speed, time left."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True, highlight=False)
        self.live = self.console.is_terminal
        self.tally = Tally()
        self.total = 0
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[audio]}"), TextColumn("{task.fields[speed]}"),
                                 TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                 console=self.console, disable=not self.live)
        self.task = None

    def __enter__(self) -> "BatchProgress":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def finding(self, done: int, total: int) -> None:
        if self.task is None:
            self.task = self.progress.add_task("hashing", total=total, audio="", speed="")
        self.progress.update(self.task, completed=done)

    def scoring(self, total: int) -> None:
        """Start counting calls: `total` queued for this run."""
        self.total = total
        self.tally = Tally()
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task("scoring", total=max(total, 1), audio="", speed="")

    def __call__(self, ev: dict[str, Any]) -> None:
        self.tally.add(ev)
        t = self.tally
        speed = t.audio_seconds / t.wall
        if self.task is not None:
            self.progress.update(self.task, completed=t.done, total=max(self.total, t.done, 1),
                                 audio=f"{_hours(t.audio_seconds)} audio",
                                 speed=f"{speed:.1f}× realtime")
        if self.live:
            if ev["event"] in ("failed", "died", "fatal", "waiting"):
                self.progress.console.print(f"[red]{markup(_line(ev))}[/]")
            return
        if ev["event"] in ("scored", "failed", "lost", "died", "fatal", "waiting"):
            self.console.print(f"[{t.done}/{max(self.total, t.done)}] {printable(_line(ev))}", soft_wrap=True,
                               markup=False)


def _line(ev: dict[str, Any]) -> str:
    kind = ev["event"]
    if kind == "scored":
        flag = " FLAGGED" if ev["flagged"] else ""
        return (f"scored {ev['file']}: {ev['score']:g}/100{flag} "
                f"({ev['duration']:.0f} s of audio in {ev['seconds']:.1f} s)")
    if kind == "failed":
        return f"failed {ev['file']}: {ev['reason']}"
    if kind == "lost":
        return f"gave up {ev['file']}: its lease lapsed and another worker took it over"
    if kind == "died":
        return f"worker {ev['owner']} died (exit code {ev['exitcode']}); its call goes back to the queue"
    return f"worker {ev['owner']}: {ev.get('reason', kind)}"


def print_summary(summary: dict[str, Any], echo: Callable[[str], None]) -> None:
    """The closing summary of a batch: scored, skipped (grouped by reason), failed with each reason."""
    s = summary
    found = f"{s['found']} recordings found, " if s.get("found") is not None else ""
    echo(f"batch run {s['run']} ({s['db']}): {found}{s.get('queued') or 0} queued, {s['wall_seconds']:.0f} s")
    speed = s["processed_here"]["audio_seconds"] / max(s["wall_seconds"], 1e-6)
    echo(f"  scored   {s['scored']:5}  {_hours(s['audio_seconds'])} of audio, {s['flagged']} flagged"
         + (f"; here {speed:.1f}× realtime" if s["processed_here"]["scored"] else ""))
    groups: dict[str, int] = {}
    for item in s["skipped_files"]:
        key = item["reason"].split(" (")[0].split(" as ")[0]
        key = "same recording as another file" if key.startswith("same recording") else key
        key = "failed before" if key.startswith("failed before") else key
        groups[key] = groups.get(key, 0) + 1
    detail = "; ".join(f"{k}: {n}" for k, n in sorted(groups.items(), key=lambda kv: -kv[1]))
    echo(f"  skipped  {s['skipped']:5}" + (f"  {detail}" if detail else ""))
    if s.get("older_than_since"):
        echo(f"  older than --since: {s['older_than_since']} (not counted)")
    echo(f"  failed   {s['failed']:5}")
    for f in s["failures"]:
        echo(f"    {printable(f['file'])}: {printable(f['reason'])}")
    if s.get("pending"):
        echo(f"  pending  {s['pending']:5}  still queued (run `callaudit worker` or batch again)")
    for note in s.get("notes", []):
        echo(f"  note: {note}")
