"""The whole path for one recording: audio -> transcript -> timeline -> findings -> verdict.

The scorer chooses the rule pack (once per language) and hands that pack's role cues down to the
transcriber, so that the pack that judges a call is also the one that decides who the agent is.
It returns one typed record, `ScoredCall`, which the store saves as it is and which
`contract.result_json` alone turns into the JSON of `score --json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from callaudit.analysis.cues import role_cues
from callaudit.analysis.hotwords import hotwords_for
from callaudit.analysis.meaning import PackMeaning, meaning_for
from callaudit.analysis.rulepack import PackChooser, RulePack
from callaudit.analysis.scoring import Verdict, judge_transcript
from callaudit.audio import decode
from callaudit.audio.decode import Recording
from callaudit.config import Config
from callaudit.transcript.records import Transcript
from callaudit.transcript.roles import RoleCues
from callaudit.transcript.transcribe import Transcriber


@dataclass(frozen=True)
class ScoredCall:
    """One recording, scored: where it came from, what was said (words included), by which pack."""

    file: Path
    sha256: str
    agent: str | None            # the extension, when the metadata says
    transcript: Transcript
    rules_version: str           # the pack's id@version+hash, cited in every verdict
    rules_file: Path
    verdict: Verdict
    source: str | None = None    # "listen-in" for a supervisor's spot check; None for a recording

    @property
    def id(self) -> str:
        """The call's public id: the first 16 hex digits of the recording's sha256."""
        return self.sha256[:16]


class Scorer:
    """Holds the model and the rule packs so that many calls are scored with one load of each."""

    def __init__(self, config: Config, rules: str | None = None, transcriber: Transcriber | None = None):
        self.config = config
        self.packs = PackChooser(rules or config.scoring.rules or None)
        # Refuse a bad pack before the model loads and the first call is transcribed.
        first = self.packs.for_language(config.transcription.language)
        # The embedder loads once, here (not per call), and a pack without thresholds for it is
        # refused before the first call rather than judged on no evidence.
        self.meaning(first)
        self.transcriber = transcriber or Transcriber(config)
        self._cues: dict[str, RoleCues] = {}

    def pack_for(self, language: str) -> RulePack:
        return self.packs.for_language(language)

    def meaning(self, pack: RulePack) -> PackMeaning | None:
        """The pack's intents, judged with the configured embedder ([scoring] embedder; default the
        pack's own, or `use` where that cannot run). None for a pack without intents."""
        return meaning_for(pack, self.config.scoring.embedder or None)

    def rules_version(self, pack: RulePack) -> str:
        """The pack's version tag, and the embedder that judged its intents (thresholds and so
        verdicts differ per embedder: a call scored with another is another verdict)."""
        pm = self.meaning(pack)
        return f"{pack.version_tag}/{pm.name}" if pm else pack.version_tag

    def cues(self, language: str) -> RoleCues:
        """How the transcriber tells the agent's voice on a mono call: by the judging pack's cues."""
        if language not in self._cues:
            pack = self.pack_for(language)
            self._cues[language] = role_cues(pack, self.config.company.name, self.meaning(pack))
        return self._cues[language]

    def hotwords(self, language: str, agent: str | None) -> dict[str, str]:
        """What Whisper is told to expect in a call of `agent` (an extension in the roster, or None)."""
        pack = self.pack_for(language if language != "auto" else self.config.transcription.language)
        person = self.config.agents.get(str(agent)) if agent else None
        return hotwords_for(self.config.transcription.hotwords, pack, self.config.company.name,
                            person.name if person else None)

    def judge(self, tx: Transcript) -> tuple[RulePack, Verdict]:
        pack = self.pack_for(tx.language)
        return pack, judge_transcript(pack, tx, self.config.company.name, self.config.scoring.flag_below,
                                      self.meaning(pack))

    def score(self, rec: Recording, language: str | None = None, agent: str | None = None,
              source: str | None = None) -> ScoredCall:
        """Transcribe and judge a decoded recording."""
        language = language or self.config.transcription.language
        tx = self.transcriber.transcribe(rec, language, self.cues, hotwords=self.hotwords(language, agent))
        pack, verdict = self.judge(tx)
        return ScoredCall(rec.path, rec.sha256, agent, tx, self.rules_version(pack), pack.path, verdict, source)

    def score_file(self, path: str | Path, language: str | None = None, agent: str | None = None,
                   source: str | None = None) -> ScoredCall:
        """Score one recording; raises CallauditError with a one-line reason for a bad file."""
        return self.score(decode.load(path), language, agent, source)
