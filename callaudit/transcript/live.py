"""The live transcript and live alerts while a supervisor listens in.

Frames are pushed from the SIP loop (`push`, cheap); a side thread finds stretches of speech by energy,
re-transcribes the stretch in progress every `step` seconds (a partial line) and once more when it ends
(the final line), and raises alerts: a silence longer than the rule pack's response-time limit (on a mono
listen-in we cannot yet tell whose turn it was, so the alert says "may be waiting") and a forbidden phrase.
The thread never touches pjsua2. The verdict that counts is the full pipeline's, after the call.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np

from callaudit.config import Config
from callaudit.text import matching

RATE = 8000
FRAME = RATE // 50


@dataclass(frozen=True)
class Forbidden:
    """A forbidden-phrase rule as the live view checks it."""

    rule: str
    phrases: matching.Phrases
    fuzzy: float


@dataclass(frozen=True)
class LiveRules:
    """What the live view alerts on, taken from the pack that will judge the call (the analysis layer
    builds it from the pack's rule kinds): how long a customer may wait, how long a silence may last,
    which phrases are forbidden. The verdict that counts is still the full pipeline's, after the call."""

    language: str                   # the pack's, for stemming the phrases
    wait_limit: float | None = None
    silence_limit: float | None = None
    forbidden: tuple[Forbidden, ...] = ()


@dataclass(frozen=True)
class LiveLine:
    kind: str            # partial | final | alert
    at: float            # seconds into the listen-in
    text: str
    lag: float = 0.0     # seconds between the end of the speech shown and the line appearing


class LiveTranscript:
    """Feed it 20 ms frames of 16-bit 8 kHz PCM; it calls `show(LiveLine)` from its own thread."""

    def __init__(self, cfg: Config, rules: LiveRules, language: str | None = None,
                 say: Callable[[str], None] | None = None,
                 show: Callable[[LiveLine], None] | None = None, step: float = 0.6, end_silence: float = 0.45,
                 max_utterance: float = 12.0, model=None):
        self.cfg = cfg
        self.rules = rules
        self.language = language or cfg.transcription.language
        self.show = show or _printer(say or print)
        self.step, self.end_silence, self.max_utt = step, end_silence, max_utterance
        self.inbox: deque[tuple[float, bytes]] = deque()
        self.lines: list[LiveLine] = []
        self.stop = threading.Event()
        self.model = model
        self.thread = threading.Thread(target=self._run, name="live-transcript", daemon=True)
        self.thread.start()

    # ---- the SIP loop's side
    def push(self, pcm: bytes) -> None:
        self.inbox.append((time.monotonic(), pcm))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)

    # ---- the thread
    def _load_model(self):
        from callaudit.transcript.transcribe import Transcriber

        t = Transcriber(self.cfg.with_overrides(model__batched=False))
        return t.model

    def _run(self) -> None:
        try:
            if self.model is None:
                self.model = self._load_model()
            self._loop()
        except Exception as e:  # the live view is a help; the recording and the verdict go on without it
            self.show(LiveLine("alert", 0.0, f"live transcript stopped: {e}"))

    def _loop(self) -> None:
        audio: list[np.ndarray] = []
        arrival: list[float] = []            # wall time each frame arrived
        floor = 10 ** (-55 / 20)
        utt_start = None                     # frame index where the speech in progress began
        last_speech = None                   # frame index of the last loud frame
        last_decode = 0.0
        heard = None                         # (start, end, text) of the last partial decode
        alerted = set()
        while not self.stop.is_set() or self.inbox:
            if not self.inbox:
                time.sleep(0.02)
            # Frame by frame, so that the end of an utterance is seen where it happened, even when a
            # decode kept this thread busy and frames piled up.
            while self.inbox:
                t, pcm = self.inbox.popleft()
                x = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
                audio.append(x)
                arrival.append(t)
                i = len(audio) - 1
                rms = float(np.sqrt(np.mean(x * x)))
                if rms > max(4 * floor, 10 ** (-45 / 20)):
                    utt_start = i if utt_start is None else utt_start
                    last_speech = i
                elif rms > 0:
                    floor = min(floor * 1.002, rms)
                if utt_start is not None:
                    quiet = (i - last_speech) * 0.02
                    if quiet >= self.end_silence or (i - utt_start) * 0.02 >= self.max_utt:
                        if heard and heard[0] == utt_start and heard[1] > last_speech:
                            # The last partial already heard the whole utterance: show it as final now
                            # rather than spend another decode (a second or more) on the same audio.
                            self._emit_final(utt_start, heard[2], time.monotonic() - arrival[last_speech])
                        else:
                            self._decode(audio, arrival, utt_start, last_speech + 1, final=True)
                        utt_start, last_decode, heard = None, 0.0, None
                elif last_speech is not None:
                    quiet = (i - last_speech) * 0.02
                    for limit, what in ((self.rules.wait_limit, "the customer may be waiting for an answer "
                                                          "(response-time limit {:g} s)"),
                                        (self.rules.silence_limit, "dead air (limit {:g} s)")):
                        if limit and quiet > limit and (last_speech, limit) not in alerted:
                            alerted.add((last_speech, limit))
                            self._emit(LiveLine("alert", i * 0.02, f"{quiet:.0f} s of silence: " + what.format(limit)))
            n = len(audio)
            if utt_start is not None and self.stop.is_set():
                self._decode(audio, arrival, utt_start, last_speech + 1, final=True)
                utt_start = None
            elif utt_start is not None and time.monotonic() - last_decode >= self.step and (n - utt_start) >= 25:
                heard = (utt_start, n, self._decode(audio, arrival, utt_start, n, final=False))
                last_decode = time.monotonic()

    def _decode(self, audio, arrival, start: int, end: int, final: bool) -> str:
        x = np.concatenate(audio[start:end])
        x16 = np.interp(np.arange(0, len(x) * 2) / 2, np.arange(len(x)), x).astype(np.float32)
        segments, _ = self.model.transcribe(
            x16, language=None if self.language == "auto" else self.language, beam_size=1,
            without_timestamps=True, condition_on_previous_text=False, vad_filter=False,
            max_new_tokens=96, temperature=0.0)
        text = " ".join(s.text.strip() for s in segments).strip()
        lag = time.monotonic() - arrival[end - 1]
        if final:
            self._emit_final(start, text, lag)
        elif text:
            self._emit(LiveLine("partial", start * 0.02, text, lag))
        return text

    def _emit_final(self, start: int, text: str, lag: float) -> None:
        if not text:
            return
        self._emit(LiveLine("final", start * 0.02, text, lag))
        for alert in self._forbidden(text):
            self._emit(LiveLine("alert", start * 0.02, alert))

    def _forbidden(self, text: str) -> list[str]:
        out = []
        for rule in self.rules.forbidden:
            phrases = rule.phrases
            hit = phrases and matching.find(phrases, matching.stems(text, self.rules.language, phrases.stemmed),
                                            rule.fuzzy)
            if hit:
                out.append(f"forbidden phrase «{hit.phrase}» ({rule.rule}): «{text}»")
        return out

    def _emit(self, line: LiveLine) -> None:
        self.lines.append(line)
        self.show(line)


def _printer(say: Callable[[str], None]) -> Callable[[LiveLine], None]:
    """Final lines and alerts scroll; on a terminal the line in progress is shown and rewritten in place."""
    tty = sys.stdout.isatty()

    def show(line: LiveLine) -> None:
        m, s = divmod(line.at, 60)
        clock = f"{int(m):02d}:{s:04.1f}"
        clear = "\r\x1b[K" if tty else ""
        if line.kind == "alert":
            say(f"{clear}[{clock}] ALERT {line.text}")
        elif line.kind == "final":
            say(f"{clear}[{clock}] {line.text}")
        elif tty:
            sys.stdout.write(f"{clear}[{clock}] … {line.text}"[:300])
            sys.stdout.flush()
    return show
