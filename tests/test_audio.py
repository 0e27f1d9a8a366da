"""Recordings in: damaged files are refused with one line; every common telephone format is heard.

The bad inputs go through the installed `callaudit` command, as a user would meet them. The odd but
valid formats are made from one real call (Debian asterisk-core-sounds, real voices) with sox and
ffmpeg, the tools a telephony site converts with, and transcribed in-process with the session's
base model (each CLI process would load it again).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import pytest
from clihelp import one_error_line

from callaudit.audio import decode as audio
from callaudit.errors import CallauditError
from callaudit.sources import samples
from callaudit.sources.samples import say

CALLAUDIT = str(Path(sys.executable).with_name("callaudit"))  # the installed command a user runs

# About 8 s: the agent greets, the customer answers, the agent thanks and says goodbye.
SCRIPT = [
    say("agent", "hello", at=0.5),
    say("customer", "check-number-dial-again", gap=0.8),
    say("agent", "auth-thankyou", "goodbye", gap=0.8),
]


def callaudit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    # Not the config of whoever runs the tests: none from the environment, none in the folder.
    env = {k: v for k, v in os.environ.items() if k not in ("CALLAUDIT_CONFIG", "CALLAUDIT_MODELS")}
    return subprocess.run([CALLAUDIT, *map(str, args)], capture_output=True, text=True, timeout=180,
                          cwd=cwd or tempfile.gettempdir(), env=env)


@pytest.fixture(scope="module")
def call(tmp_path_factory) -> tuple[Path, list[samples.Placed]]:
    path = tmp_path_factory.mktemp("calls") / "call.wav"
    return path, samples.build(path, SCRIPT, "en")


# ---------------------------------------------------------------- bad inputs
@pytest.fixture(scope="module")
def bad(tmp_path_factory, call) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    good = call[0].read_bytes()
    flac = folder / "whole.flac"
    subprocess.run(["sox", call[0], flac], check=True)
    files = {
        "truncated.wav": good[: len(good) // 2],  # a recorder that died mid-call
        "empty.wav": b"",
        "notes.wav": "This is not a recording, just notes someone saved as .wav\n".encode(),
        "header-only.wav": good[:44],
        "cut.flac": flac.read_bytes()[: flac.stat().st_size // 2],
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "a-folder.wav").mkdir()
    subprocess.run(["sox", call[0], folder / "four-channels.wav", "remix", "1", "2", "1", "2"], check=True)
    return {name: folder / name for name in BAD_CASES}


BAD_CASES = {
    "truncated.wav": "truncated WAV",
    "empty.wav": "empty file (0 bytes)",
    "notes.wav": "not a readable audio file",
    "header-only.wav": "truncated WAV",
    # FLAC fails in the decoder after some audio: that is damage, not "not audio"
    "cut.flac": "damaged audio after",
    "four-channels.wav": "4 channels",  # which two are the parties would be a guess
    "a-folder.wav": "is a folder",
    "missing.wav": "no such file",
}


@pytest.mark.parametrize("name", BAD_CASES)
def test_bad_file_is_refused_with_its_reason(bad, name):
    with pytest.raises(CallauditError) as e:
        audio.load(bad[name])
    assert str(e.value).startswith(f"{bad[name]}: ") and BAD_CASES[name] in str(e.value)
    assert "\n" not in str(e.value)


def test_bad_files_are_one_line_each_on_the_command_line(bad):
    """One `callaudit transcribe` over all the bad files (each process loads the model, so one run
    keeps this quick): one line per file, in order, nothing on stdout, exit 1, no traceback."""
    proc = callaudit("transcribe", *bad.values())
    assert proc.returncode == 1 and proc.stdout == ""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == len(BAD_CASES), proc.stderr
    for line, (name, reason) in zip(lines, BAD_CASES.items()):
        assert line.startswith(f"callaudit: error: {bad[name]}: ") and reason in line, line


def test_one_bad_file_alone_exits_non_zero(bad):
    one_error_line(callaudit("transcribe", bad["cut.flac"]), str(bad["cut.flac"]), "damaged audio after")


def test_unreadable_file_is_one_line(call):
    """Recorders often write files only their own user may read (Asterisk: mode 0600)."""
    folder = Path(tempfile.mkdtemp(prefix="callaudit-perm-"))
    try:
        folder.chmod(0o755)
        locked = folder / "locked.wav"
        shutil.copy(call[0], locked)
        locked.chmod(0o000)
        code = ("import sys\nfrom callaudit.audio import decode as audio\nfrom callaudit.errors import CallauditError\n"
                f"try:\n    audio.load({str(locked)!r})\nexcept CallauditError as e:\n"
                "    sys.exit(f'callaudit: error: {e}')\n")
        # root reads anything: read as the unprivileged user 'nobody' instead.
        user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
        proc = subprocess.run([*user, sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        one_error_line(proc, str(locked), "Permission denied")
    finally:
        shutil.rmtree(folder)


def test_unknown_language_is_a_usage_error(call):
    proc = callaudit("transcribe", "--lang", "xx", call[0])
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "Invalid value for '--lang': 'xx' is not one of 'ru', 'en', 'auto'" in proc.stderr
    assert proc.stdout == ""


def test_broken_config_is_one_line(tmp_path, call):
    cfg = tmp_path / "callaudit.toml"
    cfg.write_text('[transcription]\nlanguage = "english"\n')
    one_error_line(callaudit("transcribe", call[0], cwd=tmp_path), str(cfg.name), "[transcription] language")


@pytest.mark.slow
def test_batch_of_files_reports_the_bad_one_and_transcribes_the_good_one(bad, call):
    proc = callaudit("transcribe", "--lang", "en", bad["truncated.wav"], call[0])
    assert proc.returncode == 1  # the run as a whole failed: one call could not be read
    one_error_line(proc, str(bad["truncated.wav"]), "truncated WAV")
    assert f"== {call[0]}" in proc.stdout
    assert "agent    Hello" in proc.stdout and "Goodbye" in proc.stdout, proc.stdout


# ---------------------------------------------------------------- odd but valid inputs
# name -> (command making it from the 8 kHz stereo 16-bit call; codec, rate, channels that it must have)
CONVERSIONS = {
    "ulaw-8k.wav": (["sox", "{src}", "-e", "u-law", "{dst}"], "pcm_mulaw", 8000, 2),
    "alaw-8k.wav": (["sox", "{src}", "-e", "a-law", "{dst}"], "pcm_alaw", 8000, 2),
    "pcm-16k.wav": (["sox", "{src}", "-r", "16000", "{dst}"], "pcm_s16le", 16000, 2),
    "pcm-44k1.wav": (["sox", "{src}", "-r", "44100", "{dst}"], "pcm_s16le", 44100, 2),
    "pcm24-48k.wav": (["sox", "{src}", "-r", "48000", "-b", "24", "{dst}"], "pcm_s24le", 48000, 2),
    "call.flac": (["sox", "{src}", "{dst}"], "flac", 8000, 2),
    # 32 kbit/s: at 24 the Opus stereo coder leaks the customer into the agent's channel (-49 dBFS),
    # loud enough for speech activity to hear them there.
    "call.ogg": (["ffmpeg", "-v", "error", "-i", "{src}", "-c:a", "libopus", "-b:a", "32k", "{dst}"],
                 "opus", 48000, 2),
    "call.mp3": (["ffmpeg", "-v", "error", "-i", "{src}", "-c:a", "libmp3lame", "-b:a", "32k", "{dst}"],
                 "mp3", 8000, 2),
    "mono-mix.wav": (["sox", "{src}", "{dst}", "remix", "1,2"], "pcm_s16le", 8000, 1),
}


@pytest.fixture(scope="module")
def converted(tmp_path_factory, call) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("formats")
    out = {}
    for name, (cmd, codec, rate, channels) in CONVERSIONS.items():
        dst = folder / name
        subprocess.run([a.format(src=call[0], dst=dst) for a in cmd], check=True, capture_output=True)
        with av.open(str(dst)) as c:  # the file really is what the test says it is
            ctx = c.streams.audio[0].codec_context
            assert (ctx.codec.name.replace("float", ""), ctx.sample_rate, ctx.channels) == (codec, rate, channels)
        out[name] = dst
    return out


def _near(a: float, b: float, tol: float = 0.3) -> bool:
    return abs(a - b) <= tol


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in CONVERSIONS if not n.startswith("mono")])
def test_stereo_format_is_transcribed(transcriber, converted, call, name):
    rec = audio.load(converted[name])
    placed = call[1]
    assert rec.source_rate == CONVERSIONS[name][2]
    assert rec.n_channels == 2 and _near(rec.duration, audio.load(call[0]).duration, 0.05)
    tx = transcriber.transcribe(rec, "en")
    assert tx.channels == "stereo"
    agent = " ".join(t.text for t in tx.by("agent")).lower()
    customer = " ".join(t.text for t in tx.by("customer")).lower()
    assert "hello" in agent and "thank you" in agent and "goodbye" in agent, agent
    assert "check the number" in customer and "dial again" in customer, customer
    assert "number" not in agent and "hello" not in customer  # each channel holds its own party only
    # Same turns in the same places, whatever the format.
    assert [t.speaker for t in tx.turns] == [p.speaker for p in placed]
    for turn, line in zip(tx.turns, placed):
        assert _near(turn.start, line.start) and _near(turn.end, line.end), (turn, line)


@pytest.mark.slow
def test_mono_recording_is_transcribed_without_guessing_roles(converted, call):
    """Two voices in one channel: the words are there, the roles are not separated (yet), and the
    JSON says so rather than guess who was the agent."""
    proc = callaudit("transcribe", "--lang", "en", "--json", converted["mono-mix.wav"])
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["call"]["channels"] == "mono"
    assert {t["speaker"] for t in out["transcript"]} == {"unknown"}
    text = " ".join(t["text"] for t in out["transcript"]).lower()
    for words in ("hello", "check the number", "dial again", "thank you", "goodbye"):
        assert words in text, text
    assert _near(out["transcript"][0]["start"], call[1][0].start)
    assert _near(out["call"]["duration"], audio.load(call[0]).duration, 0.05)
