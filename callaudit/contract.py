"""The JSON that `transcribe --json` and `score --json` print (see DESIGN.md); scripts depend on it."""

from __future__ import annotations

from .audio import Recording
from .transcribe import Transcript


def call_json(rec: Recording, tx: Transcript, agent: str | None = None) -> dict:
    return {
        "id": rec.sha256[:16],
        "file": str(rec.path),
        "sha256": rec.sha256,
        "duration": tx.duration,
        "language": tx.language,
        "agent": agent,
        "channels": tx.channels,
        "roles": tx.roles,
        "role_confidence": tx.role_confidence,
        "overlap_reliability": tx.overlap_reliability,
        "diarization": tx.diarization or None,
    }


def transcript_json(tx: Transcript) -> list[dict]:
    return [{"speaker": t.speaker, "start": t.start, "end": t.end, "text": t.text} for t in tx.turns]
