"""Listen-in sessions: dial the PBX's spy code, record what is heard, then score and audit each session.

`listen()` is the supervisor's live session; `check_one()` is one unattended check (spotcheck.py runs
several at once, one process each). Both drive a `sip.Phone` from the calling thread (the only thread
that may touch pjsua2); audit.py scores the recordings once the calls have ended.
"""

from __future__ import annotations

import getpass
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from callaudit.config import Config
from callaudit.errors import CallauditError
from callaudit.sources.capture import FRAME_BYTES, WavWriter
from callaudit.sources.pbx import MODES, NOT_ON_A_CALL, SipError, SipSettings, failure_message
from callaudit.sources.sip import Phone

COMPLETED, NO_CALL = "completed", "no-call"
SPEECH_PEAK = 500  # 16-bit peak above line hiss (-62 dBFS ≈ 25): the call carried sound


@dataclass
class ListenSession:
    """One listen-in attempt as audited: who listened to whom, when, how, and what came of it."""

    extension: str
    agent: dict[str, Any]
    mode: str
    supervisor: str
    started_at: datetime
    ended_at: datetime | None = None
    result: str = ""                  # completed | no-call | failed: <reason>
    ended_by: str = ""                # peer | us | duration | rtp-timeout | stopped | failed
    sip_status: str = ""
    recording: str | None = None
    sha256: str | None = None
    duration: float = 0.0             # seconds recorded
    first_audio_ms: float | None = None
    verdict: dict | None = None       # the `score --json` result of the recording
    error: str | None = None          # why the recording could not be scored
    session_id: int | None = None     # listen_sessions row
    call_id: int | None = None        # calls row
    stats: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "stats"}
        d["started_at"] = self.started_at.isoformat()
        d["ended_at"] = self.ended_at.isoformat() if self.ended_at else None
        d.update(self.stats)
        return d


class _Live:
    """A spy call in progress and the places its audio goes (recording, headset, live transcript)."""

    def __init__(self, phone: Phone, ext: str, agent: dict, mode: str, supervisor: str, rec_dir: Path | None,
                 mic: Callable | None, sinks: list[Callable[[bytes], None]], started: float):
        self.session = ListenSession(ext, agent, mode, supervisor, datetime.now(timezone.utc))
        self.rec_dir, self.sinks, self.cmd_started = rec_dir, sinks, started
        self.writer: WavWriter | None = None
        self.fatal = False
        self.peak = 0
        self.frames = 0
        self.spy = phone.dial(ext, mode, mic)
        self.number = self.spy.number

    def drain(self) -> None:
        rx = self.spy.rx
        while rx:
            pcm = rx.popleft()
            if len(pcm) != FRAME_BYTES:
                continue
            self.frames += 1
            if self.writer is None and self.rec_dir is not None:
                s = self.session
                stamp = s.started_at.strftime("%Y%m%d-%H%M%S")
                self.writer = WavWriter(self.rec_dir / f"listen-{s.extension}-{stamp}-{s.mode}-{id(self) % 10**6}.wav")
            if self.writer is not None:
                self.writer.write(pcm)
            if self.peak < SPEECH_PEAK:
                self.peak = max(self.peak, max(abs(v) for v in memoryview(pcm).cast("h")))
            for sink in self.sinks:
                sink(pcm)

    @property
    def done(self) -> bool:
        return self.spy is None or (self.spy.ended and not self.spy.rx)

    def finish(self, min_call: float) -> ListenSession:
        """Close the recording and judge the outcome; drops the Call (it must not outlive the Phone)."""
        spy, s = self.spy, self.session
        self.drain()
        s.ended_at = datetime.now(timezone.utc)
        s.ended_by = spy.ended_by or "peer"
        s.sip_status = f"{spy.code} {spy.reason}".strip()
        # The audit keeps the most intrusive mode used: a barge followed by silent listening was a barge.
        s.mode = max(spy.modes, key=MODES.index)
        s.stats["modes"] = spy.modes
        if spy.first_audio_at:
            s.first_audio_ms = round((spy.first_audio_at - self.cmd_started) * 1000, 1)
            s.stats["first_audio_epoch"] = time.time() - (time.monotonic() - spy.first_audio_at)
        s.duration = round(self.frames * 0.02, 3)
        s.stats.update(spy.rtp)
        if self.writer is not None:
            s.sha256 = self.writer.close()
            s.recording = str(self.writer.path)
        if not spy.answered_at:
            quiet = spy.code in NOT_ON_A_CALL
            s.result = NO_CALL if quiet else f"failed: {s.sip_status or 'no reply'}"
            s.error = failure_message(spy.phone.settings, spy.number, spy.code, spy.reason)
        elif s.ended_by == "peer" and s.duration < min_call and self.peak < SPEECH_PEAK:
            s.result = NO_CALL  # the PBX answered the spy code and hung up at once: nobody to listen to
        else:
            s.result = COMPLETED
        self.fatal = not spy.answered_at and (spy.code in (401, 403, 407) or not spy.responded)
        self.spy = None
        return s


class _Stop:
    """Ctrl-C sets a flag instead of raising: an exception inside a pjsua2 callback aborts the process."""

    def __init__(self):
        self.requested = False

    def __enter__(self) -> "_Stop":
        self._old = {sig: signal.signal(sig, self._handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handler(self, *_):
        self.requested = True

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def supervisor_name(cfg: Config) -> str:
    return cfg.listen.supervisor or getpass.getuser()


def recordings_dir(cfg: Config) -> Path:
    return Path(cfg.listen.recordings)


def roster(cfg: Config) -> dict[str, dict[str, Any]]:
    """Extension -> agent from [roster], as the audit records it."""
    return {ext: agent.to_json() for ext, agent in cfg.agents.items()}


def find_agent(cfg: Config, target: str) -> tuple[str, dict]:
    """EXT or an agent's name from [roster] -> (extension, roster entry or {})."""
    roster_ = roster(cfg)
    if target in roster_:
        return target, roster_[target]
    if target.isdigit():
        return target, {}
    hits = [a for a in roster_.values() if target.casefold() in str(a.get("name", "")).casefold()]
    if len(hits) == 1:
        return hits[0]["extension"], hits[0]
    if not hits:
        raise CallauditError(f"no agent '{target}' in [roster] of {cfg.source}: give an extension or a name "
                             "listed there")
    raise CallauditError(f"'{target}' matches {len(hits)} agents in [roster] "
                         f"({', '.join(str(a.get('name')) for a in hits[:5])}): be more specific")


def drive(phone: Phone, lives: list[_Live], stop: _Stop, duration: float | None, min_call: float,
          on_end: Callable[[_Live], None] = lambda live: None,
          on_tick: Callable[[list[_Live]], None] = lambda lives: None) -> list[ListenSession]:
    """Pump the phone until every call has ended; `on_end` may dial more (it appends to `lives`)."""
    finished: list[ListenSession] = []
    try:
        _pump_until_done(phone, lives, stop, duration, min_call, on_end, on_tick, finished)
    finally:
        for live in lives:  # after an error: no Call may stay referenced past the Phone (libDestroy aborts)
            if live.spy is not None:
                live.spy = None
                if live.writer is not None:
                    live.writer.close()
    return finished


def _pump_until_done(phone, lives, stop, duration, min_call, on_end, on_tick, finished) -> None:
    while True:
        phone.pump(10)
        now = time.monotonic()
        for live in lives:
            if live.spy is None:
                continue
            live.drain()
            spy = live.spy
            if stop.requested:
                spy.hang_up("stopped")
            elif duration and spy.answered_at and now - spy.answered_at >= duration:
                spy.hang_up("duration")
            if spy.ended and not spy.rx:
                finished.append(live.finish(min_call))
                if live.fatal:
                    stop.requested = True
                on_end(live)
        on_tick(lives)
        if all(live.spy is None for live in lives):
            return


def listen(cfg: Config, target: str, mode: str = "listen", duration: float | None = None, record: bool = True,
           headset=None, mic: Callable | None = None, sinks: list[Callable[[bytes], None]] | None = None,
           commands: Callable[[], str | None] = lambda: None, say: Callable[[str], None] = print,
           started: float | None = None) -> ListenSession:
    """One live listen-in on EXT or an agent's name; returns the audited session (not yet scored).

    `commands()` returns the supervisor's next key command, if any: listen, whisper, barge or hangup.
    A failed attempt (401, 404, 486, PBX unreachable) raises SipError after the session was returned
    through `say`; the caller audits it from `SipError.session`."""
    started = started or time.monotonic()
    settings = SipSettings.from_config(cfg)
    ext, agent = find_agent(cfg, target)
    rec_dir = recordings_dir(cfg) if record else None
    sinks = list(sinks or [])
    if headset is not None:
        sinks.append(headset.play)

    def on_tick(lives: list[_Live]) -> None:
        cmd = commands()
        live = lives[0]
        if not cmd or live.spy is None:
            return
        if cmd == "hangup":
            live.spy.hang_up("us")
        elif cmd in ("listen", "whisper", "barge"):
            if cmd != "listen" and live.spy.mic is None:
                say("whisper/barge need a microphone: run without --no-audio, or give --mic-file")
                return
            say(live.spy.set_mode(cmd))

    if settings.insecure:
        say(settings.insecure)
    with _Stop() as stop, Phone(settings) as phone:
        live = _Live(phone, ext, agent, mode, supervisor_name(cfg), rec_dir, mic, sinks, started)
        say(f"dialling {live.number} at {settings.where} ({mode})")
        (session,) = drive(phone, [live], stop, duration, cfg.listen.min_call, on_tick=on_tick)
        fatal = live.fatal
        del live
    if session.result != COMPLETED:
        err = SipError(session.error or f"{ext}: the agent is not on a call (the spy call ended at once)",
                       int(session.sip_status.split()[0]) if session.sip_status[:1].isdigit() else 0)
        err.session = session
        err.fatal = fatal
        raise err
    return session


def check_one(phone: Phone, cfg: Config, agent: dict, duration: float | None, started: float,
              stop: _Stop) -> tuple[ListenSession, bool]:
    """One silent, unattended listen-in on `agent` (no headset, no keys); returns (session, fatal)."""
    live = _Live(phone, agent["extension"], agent, "listen", supervisor_name(cfg), recordings_dir(cfg),
                 None, [], started)
    (session,) = drive(phone, [live], stop, duration, cfg.listen.min_call)
    fatal = live.fatal
    del live
    return session, fatal
