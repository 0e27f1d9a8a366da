"""The whole path for one recording: audio -> transcript -> timeline -> findings -> verdict (JSON contract)."""

from __future__ import annotations

from pathlib import Path

from . import audio, rulepack
from .config import Config
from .contract import call_json, transcript_json
from .rulepack import RulePack
from .scoring import Verdict, judge_transcript
from .transcribe import Transcriber, Transcript


class Scorer:
    """Holds the model and the rule packs so that many calls are scored with one load of each."""

    def __init__(self, config: Config, rules: str | None = None, transcriber: Transcriber | None = None):
        self.config = config
        self.rules = rules or config["scoring"]["rules"] or None
        self._packs: dict[str, RulePack] = {}
        # Refuse a bad pack before the model loads and the first call is transcribed.
        self.pack_for(config["transcription"]["language"])
        self.transcriber = transcriber or Transcriber(config)

    def pack_for(self, language: str) -> RulePack:
        path = Path(self.rules) if self.rules else rulepack.default_pack_path(language)
        if str(path) not in self._packs:
            self._packs[str(path)] = rulepack.load(path)
        return self._packs[str(path)]

    def judge(self, tx: Transcript) -> tuple[RulePack, Verdict]:
        pack = self.pack_for(tx.language)
        company = self.config["company"]["name"]
        return pack, judge_transcript(pack, tx, company, self.config["scoring"]["flag_below"])

    def score_file(self, path: str | Path, language: str | None = None, agent: str | None = None) -> dict:
        """Score one recording; raises CallauditError with a one-line reason for a bad file."""
        rec = audio.load(path)
        tx = self.transcriber.transcribe(rec, language or self.config["transcription"]["language"])
        pack, v = self.judge(tx)
        return result_json(call_json(rec, tx, agent), tx, pack, v)


def result_json(call: dict, tx: Transcript, pack: RulePack, v: Verdict) -> dict:
    return {
        "call": call,
        "score": v.score,
        "flagged": v.flagged,
        "flag_reasons": list(v.reasons),
        "findings": [{"rule": f.rule, "title": f.title, "severity": f.severity, "passed": f.passed,
                      "status": f.status, "at": f.at, "detail": f.detail, "evidence": list(f.evidence)}
                     for f in v.findings],
        "transcript": transcript_json(tx),
        "model": tx.model,
        "rules_version": pack.version_tag,
        "rules_file": str(pack.path),
    }
