"""The supervisor's side of a listen-in: headset, microphone, keys, Ctrl-C and the live transcript.

The PBX is a real SIPp; the headset and microphone are a real PulseAudio (tests/sound_server.py) behind
PortAudio and ALSA, as on a supervisor's desktop; the keys are typed into a real pseudo-terminal.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import termios
import time
from pathlib import Path

import numpy as np
import pytest
from sip_peer import (
    CALLAUDIT,
    ROOT,
    Sipp,
    build_stream,
    chunk_correlations,
    cli_env,
    free_port,
    read_pcm,
    rows,
    run_cli,
    write_config,
)
from sound_server import SoundServer, available, find, read_raw

from callaudit.sources import samples

pytestmark = [pytest.mark.skipif(os.system("command -v sipp >/dev/null") != 0, reason="sipp not installed")]
needs_sound = pytest.mark.skipif(not available(), reason="pulseaudio/pulseaudio-utils not installed "
                                                         "(`make test` installs them)")
SHORT = [samples.say("agent", "hello", at=0.5), samples.say("customer", "auth-thankyou"),
         samples.say("agent", "goodbye")]
MIC = [samples.say("agent", "hello", at=0.3), samples.say("agent", "auth-thankyou")]


class Terminal:
    """`callaudit ARGS` with a pseudo-terminal as its controlling terminal and stdin (keys, Ctrl-C);
    stdout and stderr go to files."""

    def __init__(self, config: Path, *args: str, env: dict | None = None):
        self.master, slave = os.openpty()
        self.out, self.err = config.parent / "stdout.txt", config.parent / "stderr.txt"
        e = cli_env(config, {"PYTHONFAULTHANDLER": "1", **(env or {})})  # a crash shows where it happened

        def controlling_terminal():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen(CALLAUDIT + list(args), cwd=ROOT, env=e, stdin=slave, stdout=out,
                                         stderr=err, preexec_fn=controlling_terminal)
        self.slave = slave
        self.modes = termios.tcgetattr(slave)

    def wait_for(self, text: str, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while text not in self.err.read_text() + self.out.read_text():
            assert self.proc.poll() is None and time.monotonic() < deadline, self.err.read_text()[-3000:]
            time.sleep(0.05)
        return time.monotonic()

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        rc = self.proc.wait(timeout)
        after = termios.tcgetattr(self.slave)
        os.close(self.master)
        os.close(self.slave)
        assert after[3] == self.modes[3], "the terminal was left in cbreak mode"
        return rc, self.out.read_text(), self.err.read_text()


class DtmfOnTheWire:
    """RFC 4733 telephone-events sent to UDP `port` on the loopback, seen on the wire (needs root)."""

    def __init__(self, port: int):
        import socket
        import threading

        self.port, self.digits = port, []
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))  # ETH_P_ALL
        self.sock.bind(("lo", 0))
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                pkt, (_, _, kind, *_) = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            if kind == 4 or len(pkt) < 14 + 20 + 8 + 16 or pkt[12:14] != b"\x08\x00" or pkt[23] != 17:
                continue  # outgoing copy (each loopback packet is seen twice), or not IPv4 UDP
            udp = 14 + (pkt[14] & 0x0F) * 4
            rtp = pkt[udp + 8:]
            if int.from_bytes(pkt[udp + 2:udp + 4], "big") == self.port and rtp[1] & 0x7F == 101:
                digit = "0123456789*#"[rtp[12]] if rtp[12] < 12 else "?"
                if rtp[13] & 0x80 and (not self.digits or self.digits[-1][1] != rtp[4:8]):  # end of the event
                    self.digits.append((digit, rtp[4:8]))

    def close(self) -> str:
        self.stop.set()
        self.thread.join()
        self.sock.close()
        return "".join(d for d, _ in self.digits)


def _session(rc: int, out: str, err: str) -> dict:
    assert rc == 0, err[-3000:]
    (s,) = json.loads(out)
    return s


def _rms_db(x: np.ndarray) -> float:
    return 20 * np.log10(float(np.sqrt(np.mean(x ** 2))) + 1e-9) if len(x) else -np.inf


@pytest.mark.slow
@needs_sound
def test_the_headset_plays_the_call(tmp_path):
    _, ulaw, seconds, _ = build_stream(tmp_path, SHORT)
    with SoundServer(tmp_path) as sound, Sipp("spy.xml", tmp_path, "-key", "stream", f"{ulaw},1,0",
                                              "-d", str(int(seconds * 1000))) as pbx:
        heard_path = tmp_path / "headset.raw"
        rec = sound.record_headset(heard_path)
        proc = run_cli(write_config(tmp_path, pbx.port), "listen", "1042", "--json", env=sound.using)
        time.sleep(0.3)
        rec.terminate()
        rec.wait()
    s = _session(proc.returncode, proc.stdout, proc.stderr)
    assert s["result"] == "completed" and s["recording"]
    # The supervisor hears what the call delivered (the recording; that it is the stream, test_listen.py
    # shows), in order and to its end; the sound server may take up to half a second to come in.
    got, heard = read_pcm(s["recording"]), read_raw(heard_path)
    lag = find(got, heard)
    assert -lag < 0.5 * 8000 and len(heard) - max(0, lag) >= len(got) + min(0, lag), ("audio missing", lag)
    corr = np.array(chunk_correlations(got[max(0, -lag):], heard[max(0, lag):]))
    assert len(corr) >= 8 and np.median(corr) > 0.99 and np.mean(corr > 0.95) >= 0.9, (lag, corr)


@pytest.mark.slow
@needs_sound
def test_in_barge_mode_the_microphone_reaches_the_call(tmp_path):
    mic, _, mic_seconds, _ = build_stream(tmp_path, MIC)
    with SoundServer(tmp_path) as sound, Sipp("stream_until_bye.xml", tmp_path, "-rtp_echo",
                                              replace={'<exec rtp_stream="[stream]"/>': ""}) as pbx:
        term = Terminal(write_config(tmp_path, pbx.port), "listen", "1042", "--mode", "barge", "--no-live",
                        "--duration", str(round(mic_seconds + 3, 1)), "--json", env=sound.using)
        term.wait_for("dialling")
        time.sleep(1.0)
        sound.speak(mic).wait(30)  # SIPp echoes what it receives: what the supervisor said comes back
        s = _session(*term.finish())
    got = read_pcm(s["recording"])
    said = read_pcm(mic)
    lag = find(said, got)
    corr = np.array(chunk_correlations(said, got[max(0, lag):]))
    assert lag > 0 and len(corr) >= 4 and np.median(corr) > 0.95, (lag, corr)


@pytest.mark.slow
@pytest.mark.parametrize("key,mode,dtmf", [(b"w", "whisper", "5"), (b"b", "barge", "6")])
def test_keys_switch_from_silent_listening_and_hang_up(tmp_path, key, mode, dtmf):
    mic, _, mic_seconds, _ = build_stream(tmp_path, MIC)
    with Sipp("stream_until_bye.xml", tmp_path, "-rtp_echo", replace={'<exec rtp_stream="[stream]"/>': ""}) as pbx:
        wire = DtmfOnTheWire(pbx.media_port) if os.geteuid() == 0 else None
        term = Terminal(write_config(tmp_path, pbx.port), "listen", "1042", "--no-audio", "--mic-file", str(mic),
                        "--json")
        term.wait_for("keys: l listen")
        time.sleep(2.0)
        term.type(key)
        term.wait_for(f"mode {mode} (DTMF {dtmf} sent to the PBX)")
        time.sleep(mic_seconds + 0.5)
        term.type(b"l")
        term.wait_for("mode listen (DTMF 4 sent to the PBX)")
        time.sleep(0.5)
        term.type(b"h")
        s = _session(*term.finish())
        assert pbx.wait(10) == 0  # SIPp got our BYE
    # The audit keeps the most intrusive mode used, and the JSON every switch.
    assert s["mode"] == mode and s["modes"] == ["listen", mode, "listen"] and s["ended_by"] == "us"
    assert rows(tmp_path / "callaudit.db", "select mode from listen_sessions") == [(mode,)]
    if wire is not None:  # the PBX was told (ChanSpy's option d: 4 listen, 5 whisper, 6 barge), once each
        assert wire.close() == dtmf + "4"
    got, said = read_pcm(s["recording"]), read_pcm(mic)
    lag = find(said, got)
    assert lag >= 1.5 * 8000 and _rms_db(got[:lag - 4000]) < -60, "the call heard the supervisor before the key"
    corr = chunk_correlations(said, got[lag:])
    assert len(corr) >= 4 and np.median(corr) > 0.95, corr


@pytest.mark.slow
def test_ctrl_c_ends_the_listen_in_cleanly_and_keeps_the_call(tmp_path):
    _, ulaw, seconds, _ = build_stream(tmp_path, SHORT)
    with Sipp("stream_until_bye.xml", tmp_path, "-key", "stream", f"{ulaw},1,0") as pbx:
        term = Terminal(write_config(tmp_path, pbx.port), "listen", "1042", "--no-audio", "--json")
        term.wait_for("keys: l listen")
        time.sleep(3.0)
        term.type(b"\x03")  # the terminal turns it into SIGINT for the foreground process
        s = _session(*term.finish())
        assert pbx.wait(10) == 0
    assert s["result"] == "completed" and s["ended_by"] == "stopped"
    assert 2.0 < s["duration"] < 5.0 and s["verdict"]["call"]["sha256"] == s["sha256"]
    assert "Traceback" not in term.err.read_text()


@pytest.mark.skipif(Path("/proc/asound/cards").exists() and "no soundcards" not in
                    Path("/proc/asound/cards").read_text(), reason="this machine has a sound card")
def test_no_headset_is_one_line_before_anything_is_dialled(tmp_path):
    # No sound server and no sound card: PortAudio finds no device.
    env = {"PULSE_SERVER": f"unix:{tmp_path}/none"}
    port = free_port()  # nobody answers here; the headset must be refused first
    term = Terminal(write_config(tmp_path, port), "listen", "1042", env=env)
    rc, out, err = term.finish(60)
    lines = [line for line in err.splitlines() if line.startswith("callaudit: error:")]
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert "headset" in lines[0] and "--no-audio" in lines[0] and "does not answer" not in err


@pytest.mark.slow
def test_live_transcript_and_alerts_while_listening(tmp_path):
    # The agent keeps an upset customer waiting 6.5 s (limit 5 s), then brushes them off.
    lines = [samples.say("agent", "hello", at=0.5), samples.say("customer", "something-terribly-wrong", gain_db=6),
             samples.say("agent", "pls-try-call-later", gap=6.5), samples.say("customer", "goodbye", gap=1.0)]
    _, ulaw, seconds, _ = build_stream(tmp_path, lines, lang="en")
    with Sipp("spy.xml", tmp_path, "-key", "stream", f"{ulaw},1,0", "-d", str(int(seconds * 1000))) as pbx:
        term = Terminal(write_config(tmp_path, pbx.port), "listen", "1042", "--no-audio", "--lang", "en")
        rc, out, err = term.finish()
    assert rc == 0, err[-3000:]
    shown = [line for line in out.splitlines() if re.match(r"\[\d\d:\d\d\.\d\] ", line)]
    text = " ".join(shown).lower()
    assert "hello" in text and "later" in text, out
    alerts = [line for line in shown if " ALERT " in line]
    assert any("may be waiting" in a and "limit 5 s" in a for a in alerts), alerts
    assert any("forbidden phrase" in a and "later" in a for a in alerts), alerts
    # The alerts are a help, not a verdict: the scorecard after the call judges the whole recording
    # (here both voices are the same speaker, so on this mono listen-in the roles stay unknown).
    assert re.search(r"^forbidden-phrases\s+critical\s+(fail|n/e)", out, re.M), out
