"""`callaudit listen` and `callaudit spot-check`: wiring only; the work is in listen.py and audit.py."""

from __future__ import annotations

import json
import os
import queue
import select
import sys
import threading
import time
from datetime import datetime, timezone

import click

from callaudit.cli.options import config_of, db_option, json_option, lang_option
from callaudit.errors import CallauditError

MODES = ("listen", "whisper", "barge")
KEYS = {"l": "listen", "w": "whisper", "b": "barge", "h": "hangup", "q": "hangup"}


class _Keys:
    """Single key presses from the terminal (no Enter needed), read on a side thread."""

    def __init__(self):
        self.q: queue.Queue[str] = queue.Queue()
        self.saved = None
        self.done = threading.Event()

    def __enter__(self) -> "_Keys":
        if not sys.stdin.isatty():
            return self
        import termios
        import tty

        fd = sys.stdin.fileno()
        self.saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        threading.Thread(target=self._read, args=(fd,), daemon=True).start()
        return self

    def _read(self, fd: int) -> None:
        while not self.done.is_set():
            if select.select([fd], [], [], 0.2)[0]:
                ch = os.read(fd, 1).decode(errors="ignore").lower()
                if ch in KEYS:
                    self.q.put(KEYS[ch])

    def get(self) -> str | None:
        try:
            return self.q.get_nowait()
        except queue.Empty:
            return None

    def __exit__(self, *exc) -> None:
        self.done.set()
        if self.saved is not None:
            import termios

            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self.saved)


def _report(sessions, as_json: bool) -> None:
    from callaudit.reports.scorecard import print_scorecard

    if as_json:
        click.echo(json.dumps([s.to_json() for s in sessions], ensure_ascii=False, indent=2))
        return
    for s in sessions:
        if s.verdict:
            print_scorecard(s.verdict)
        elif s.error and s.result == "completed":
            click.echo(f"{s.recording}: not scored: {s.error}", err=True)


@click.command()
@click.argument("target", metavar="EXT|AGENT")
@click.option("--mode", type=click.Choice(MODES), default="listen", show_default=True,
              help="listen: silent; whisper: the agent hears you; barge: both parties hear you.")
@click.option("--duration", type=float, help="Hang up after S seconds of listening (default: when the call ends).")
@click.option("--no-audio", is_flag=True, help="Do not play the call on the headset (record and score only).")
@click.option("--no-record", is_flag=True, help="Do not record (nothing is scored; the session is still audited).")
@click.option("--mic-file", type=click.Path(exists=True, dir_okay=False),
              help="In whisper/barge, speak this 8 kHz mono WAV into the call instead of the microphone.")
@click.option("--live/--no-live", default=True, help="Live transcript and alerts while listening (default on).")
@lang_option("Language of the call (default: from config).")
@db_option
@json_option("Print the audited session and its verdict as JSON.")
@click.pass_context
def listen(ctx: click.Context, target: str, mode: str, duration: float | None, no_audio: bool, no_record: bool,
           mic_file: str | None, live: bool, lang: str | None, db: str | None, as_json: bool) -> None:
    """Listen in on an agent's live call (silent by default), record it, and score it when it ends.

    Keys while listening: l listen, w whisper, b barge, h hang up; Ctrl-C ends cleanly."""
    started = time.monotonic()
    from callaudit.sources import listen as listen_mod
    from callaudit.sources.capture import FileMic, Headset
    from callaudit.sources.pbx import SipSettings

    cfg = config_of(ctx)
    out = (lambda m: click.echo(m, err=True)) if as_json else click.echo
    headset = None if no_audio else Headset(need_mic=mode != "listen" and not mic_file)
    mic = FileMic(mic_file) if mic_file else (headset.mic if headset else None)
    if mode != "listen" and mic is None:
        raise CallauditError(f"--mode {mode} needs a microphone: drop --no-audio, or give --mic-file")
    sinks, transcriber = [], None
    if live and not as_json:
        from callaudit.analysis.cues import live_rules
        from callaudit.analysis.rulepack import PackChooser
        from callaudit.transcript.live import LiveTranscript

        # The pack that will judge the recording decides what the live view alerts on.
        pack = PackChooser(cfg.scoring.rules or None).for_language(lang or cfg.transcription.language)
        transcriber = LiveTranscript(cfg, live_rules(pack), lang, say=out)
        sinks.append(transcriber.push)
    from callaudit.jobs import (
        audit,  # light: the score pipeline loads only after the call, not to delay the first frame
    )

    SipSettings.from_config(cfg)  # a config mistake is one line, not an audited attempt
    ext, agent = listen_mod.find_agent(cfg, target)
    attempt = listen_mod.ListenSession(ext, agent, mode, listen_mod.supervisor_name(cfg), datetime.now(timezone.utc))
    audited = audit.begin(cfg, attempt, db)
    try:
        with _Keys() as keys:
            if keys.saved is not None:
                out("keys: l listen · w whisper · b barge · h hang up · Ctrl-C stop")
            session = listen_mod.listen(cfg, ext, mode, duration, not no_record, headset, mic, sinks,
                                        keys.get, out, started)
    except CallauditError as e:  # a SipError carries its session; anything else failed before or around it
        failed = getattr(e, "session", None) or attempt
        if failed is attempt:
            attempt.ended_at, attempt.ended_by, attempt.result = datetime.now(timezone.utc), "failed", f"failed: {e}"
        failed.session_id = audited()
        audit.record_sessions(cfg, [failed], db)
        raise
    finally:
        if headset is not None:
            headset.close()
        if transcriber is not None:
            transcriber.close()
    session.session_id = audited()
    out(f"call ended ({session.ended_by}); {session.duration:.1f} s recorded"
        + (f" in {session.recording}" if session.recording else ""))
    scored = audit.score_sessions(cfg, [session], lang, say=out)
    where = audit.record_sessions(cfg, [session], db, scored)
    out(f"listen session audited in {where}")
    _report([session], as_json)


@click.command("spot-check")
@click.option("--count", type=click.IntRange(1), default=1, show_default=True,
              help="How many live calls to audit.")
@click.option("--department", help="Only agents of this [roster] department.")
@click.option("--duration", type=float, help="Listen at most S seconds per call (default: until it ends).")
@lang_option()
@db_option
@json_option("Print every attempt and its verdict as JSON.")
@click.pass_context
def spot_check(ctx: click.Context, count: int, department: str | None, duration: float | None, lang: str | None,
               db: str | None, as_json: bool) -> None:
    """Unannounced checks: listen in (silently, unattended) on agents picked at random, the least recently
    checked first, until COUNT live calls were recorded; score and store each. Exit 1 if fewer were found."""
    from callaudit.jobs import audit
    from callaudit.sources import spotcheck
    from callaudit.sources.pbx import SipError

    cfg = config_of(ctx)
    out = (lambda m: click.echo(m, err=True)) if as_json else click.echo
    try:
        sessions = spotcheck.spot_check(cfg, count, department, duration, audit.last_checked(cfg, db), out,
                                        begin=lambda attempt: audit.begin(cfg, attempt, db))
    except SipError as e:
        if getattr(e, "sessions", None):
            audit.record_sessions(cfg, e.sessions, db)
        raise
    scored = audit.score_sessions(cfg, sessions, lang, say=out)
    where = audit.record_sessions(cfg, sessions, db, scored)
    done = [s for s in sessions if s.result == "completed"]
    out(f"{len(done)} of {count} checks done ({len(sessions)} attempts), audited in {where}")
    _report(sessions if as_json else done, as_json)
    if len(done) < count:
        sys.exit(1)
