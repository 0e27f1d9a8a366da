"""The JSON that `transcribe --json` and `score --json` print (see DESIGN.md); scripts depend on it,
and the store keeps each verdict in this form. Only this module turns records into that JSON."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from callaudit.transcript.records import Transcript

if TYPE_CHECKING:
    from callaudit.analysis.pipeline import ScoredCall


def call_json(file: str | Path, sha256: str, tx: Transcript, agent: str | None = None,
              source: str | None = None) -> dict:
    out = {
        "id": sha256[:16],
        "file": str(file),
        "sha256": sha256,
        "duration": tx.duration,
        "language": tx.language,
        "agent": agent,
        "channels": tx.channels,
        "roles": tx.roles,
        "role_confidence": tx.role_confidence,
        "overlap_reliability": tx.overlap_reliability,
        "diarization": tx.diarization or None,
    }
    if source:
        out["source"] = source
    return out


def transcript_json(tx: Transcript) -> list[dict]:
    return [{"speaker": t.speaker, "start": t.start, "end": t.end, "text": t.text} for t in tx.turns]


def result_json(scored: "ScoredCall") -> dict:
    """The `score --json` result of one call: the call, the verdict with its findings, the transcript."""
    v, tx = scored.verdict, scored.transcript
    return {
        "call": call_json(scored.file, scored.sha256, tx, scored.agent, scored.source),
        "score": v.score,
        "flagged": v.flagged,
        "flag_reasons": list(v.reasons),
        "findings": [{"rule": f.rule, "title": f.title, "severity": f.severity, "passed": f.passed,
                      "status": f.status, "at": f.at, "detail": f.detail, "evidence": list(f.evidence)}
                     for f in v.findings],
        "transcript": transcript_json(tx),
        "model": tx.model,
        "rules_version": scored.rules_version,
        "rules_file": str(scored.rules_file),
    }
