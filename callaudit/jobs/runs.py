"""A batch or worker run as the store records it (batch_runs), what this process saw its workers do,
and the closing summary, read from the database whoever did the work."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from callaudit.jobs.batch import EnqueueReport
from callaudit.store.db import Store
from callaudit.store.schema import FAILED, SCORED, BatchRunRow, CallRow, ScoreRow, utcnow


def begin_run(store: Store, kind: str, options: dict[str, Any]) -> int:
    with store.session() as s:
        run = BatchRunRow(kind=kind, host=socket.gethostname(), pid=os.getpid(), options=options)
        s.add(run)
        s.flush()
        return run.id


@dataclass
class Tally:
    """What this process saw its workers do, for the progress bar."""

    done: int = 0
    scored: int = 0
    failed: int = 0
    audio_seconds: float = 0.0
    started: float = field(default_factory=time.monotonic)
    notes: list[str] = field(default_factory=list)

    def add(self, ev: dict[str, Any]) -> None:
        kind = ev["event"]
        if kind == "scored":
            self.done, self.scored = self.done + 1, self.scored + 1
            self.audio_seconds += ev.get("duration") or 0.0
        elif kind == "failed":
            self.done, self.failed = self.done + 1, self.failed + 1
        elif kind == "died":
            self.notes.append(f"worker {ev['owner']} died (exit code {ev['exitcode']}); its call went back "
                              "to the queue")

    @property
    def wall(self) -> float:
        return max(1e-6, time.monotonic() - self.started)


def finish_run(store: Store, run_id: int, enq: EnqueueReport | None, tally: Tally) -> dict[str, Any]:
    """Close the run's record and return its summary (as the database has it, whoever did the work): the
    calls this run queued, even those a batch started beside it took over and scored."""
    with store.session() as s:
        calls = {c.id: c for c in s.scalars(select(CallRow).where(CallRow.batch_run_id == run_id))}
        queued = enq.queued if enq else []
        for i in range(0, len(queued), 500):
            calls.update((c.id, c) for c in s.scalars(select(CallRow).where(CallRow.path.in_(queued[i:i + 500]))))
        calls = [calls[k] for k in sorted(calls)]
        current = {sc.call_id: sc for sc in s.scalars(select(ScoreRow).where(
            ScoreRow.call_id.in_([c.id for c in calls]), ScoreRow.is_current))} if calls else {}
        scored = [c for c in calls if c.status == SCORED]
        failed = [c for c in calls if c.status == FAILED]
        pending = [c for c in calls if c.status not in (SCORED, FAILED)]
        audio = sum(current[c.id].duration for c in scored if c.id in current)
        failures = [{"file": c.path, "reason": c.error} for c in failed]
        failures += [{"file": f, "reason": r} for f, r in (enq.failed if enq else [])
                     if not any(x["file"] == f for x in failures)]
        summary = {
            "run": run_id,
            "db": store.shown,
            "found": enq.found if enq else None,
            "queued": len(enq.queued) if enq else None,
            "scored": len(scored),
            "flagged": sum(1 for c in scored if c.id in current and current[c.id].flagged),
            "skipped": len(enq.skipped) if enq else 0,
            "failed": len(failures),
            "pending": len(pending),
            "older_than_since": enq.too_old if enq else 0,
            "audio_seconds": round(audio, 1),
            "wall_seconds": round(tally.wall, 1),
            "processed_here": {"scored": tally.scored, "failed": tally.failed,
                               "audio_seconds": round(tally.audio_seconds, 1)},
            "calls": [{"id": c.public_id, "file": c.path, "status": c.status, "agent": c.extension,
                       "score": current[c.id].score if c.id in current else None,
                       "flagged": current[c.id].flagged if c.id in current else None, "reason": c.error}
                      for c in calls],
            "skipped_files": [{"file": f, "reason": r} for f, r in (enq.skipped if enq else [])],
            "failures": failures,
            "notes": tally.notes,
        }
        run = s.get(BatchRunRow, run_id)
        run.finished_at, run.status = utcnow(), "done"
        run.found, run.queued = summary["found"] or 0, summary["queued"] or 0
        run.skipped, run.scored, run.failed = summary["skipped"], summary["scored"], summary["failed"]
        run.report = {"failures": failures, "notes": tally.notes,
                      "audio_seconds": summary["audio_seconds"], "wall_seconds": summary["wall_seconds"]}
    return summary


def worker_summary(store: Store, run_id: int, tally: Tally) -> dict[str, Any]:
    """Close a `callaudit worker` run: what this worker scored and failed."""
    with store.session() as s:
        scored = s.scalar(select(func.count()).select_from(ScoreRow).where(ScoreRow.batch_run_id == run_id)) or 0
        run = s.get(BatchRunRow, run_id)
        run.finished_at, run.status, run.scored, run.failed = utcnow(), "done", scored, tally.failed
        run.report = {"audio_seconds": round(tally.audio_seconds, 1), "wall_seconds": round(tally.wall, 1),
                      "notes": tally.notes}
    return {"run": run_id, "db": store.shown, "scored": tally.scored, "failed": tally.failed,
            "audio_seconds": round(tally.audio_seconds, 1), "wall_seconds": round(tally.wall, 1),
            "notes": tally.notes}

