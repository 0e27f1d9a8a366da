"""A real sound server for the supervisor's headset and microphone: PulseAudio with two null sinks.

callaudit opens its headset through sounddevice → PortAudio → ALSA's default device, which the
pulse ALSA plugin (libasound2-plugins) routes to a running PulseAudio. Here the "headset" sink is
what the supervisor hears (recorded from its monitor with parec) and the "mic" sink is the line that
the microphone picks up (played into with paplay; its monitor is the default input). Both run in real
time, as a sound card does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
from sip_peer import stop

RATE = 8000


def available() -> bool:
    return all(shutil.which(p) for p in ("pulseaudio", "parec", "paplay", "pactl"))


class SoundServer:
    """PulseAudio in `folder`, a context manager; `using` is what a process's environment needs added to
    use it (`env`: this one's with it)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.sock = folder / "pulse.sock"
        self.using = {"PULSE_SERVER": f"unix:{self.sock}", "XDG_RUNTIME_DIR": str(folder), "HOME": str(folder),
                      "PULSE_COOKIE": str(folder / "cookie")}
        self.env = {**os.environ, **self.using}
        self.log = folder / "pulseaudio.log"

    def __enter__(self) -> "SoundServer":
        sink = f"rate={RATE} channels=1 format=s16le"
        self.out = open(self.log, "w")
        self.proc = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
             "--disable-shm=yes", "-L", f"module-native-protocol-unix auth-anonymous=1 socket={self.sock}",
             "-L", f"module-null-sink sink_name=headset {sink}", "-L", f"module-null-sink sink_name=mic {sink}"],
            env=self.env, stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while subprocess.run(["pactl", "info"], env=self.env, capture_output=True).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pulseaudio did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)
        self.pactl("set-default-sink", "headset")
        self.pactl("set-default-source", "mic.monitor")
        return self

    def pactl(self, *args: str) -> None:
        subprocess.run(["pactl", *args], env=self.env, check=True, capture_output=True)

    def record_headset(self, path: Path) -> subprocess.Popen:
        """Start recording what the headset plays, as raw 8 kHz 16-bit mono, until terminated."""
        return subprocess.Popen(["parec", "-d", "headset.monitor", f"--rate={RATE}", "--channels=1",
                                 "--format=s16le", "--latency-msec=20", str(path)], env=self.env)

    def speak(self, wav: Path) -> subprocess.Popen:
        """Play `wav` on the microphone line (what the supervisor says)."""
        return subprocess.Popen(["paplay", "-d", "mic", str(wav)], env=self.env)

    def __exit__(self, *exc) -> None:
        stop(self.proc)
        self.out.close()


def read_raw(path: Path) -> np.ndarray:
    return np.fromfile(path, "<i2").astype(np.float32) / 32768


def find(ref: np.ndarray, rec: np.ndarray) -> int:
    """Where `ref` begins inside `rec` (samples; may be negative when the recording started late)."""
    n = 1 << int(np.ceil(np.log2(len(ref) + len(rec))))
    xc = np.fft.irfft(np.fft.rfft(rec, n) * np.conj(np.fft.rfft(ref, n)), n)
    k = int(np.argmax(xc))
    return k if k < n - len(ref) else k - n
