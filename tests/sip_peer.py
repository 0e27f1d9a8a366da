"""A real SIP peer for the listen-in tests and the bench: SIPp playing a PBX's spy feature code.

The call it streams is built from real recorded speech (callaudit.samples) and mixed to mono, as
ChanSpy delivers both parties in one channel; SIPp streams it as 8 kHz µ-law RTP.
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = Path(__file__).resolve().parent / "sipp"
USER, PASSWORD = "1000", "s3cret"  # what tests/sipp/spy.xml accepts
CALLAUDIT = [sys.executable, "-m", "callaudit.cli"]

from callaudit import samples  # noqa: E402

# A two-party call of ~23 s: greeting, a request, an announced wait, thanks, goodbye.
CALL = [
    samples.say("agent", "hello", at=0.8),
    samples.say("customer", "check-number-dial-again"),
    samples.say("agent", "vm-dialout", gap=0.9),
    samples.say("agent", "queue-thankyou", "queue-youarenext", gap=2.5),
    samples.say("customer", "auth-thankyou", gap=0.7),
    samples.say("agent", "goodbye", gap=0.8),
]


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


def build_stream(folder: Path, lines=CALL, lang: str = "ru", seed: int = 0) -> tuple[Path, Path, float, list]:
    """(reference PCM mono WAV, µ-law WAV for SIPp, duration s, placements)."""
    both, placed = samples.render(lines, lang, seed=seed)
    mono = np.clip(both[0] + both[1], -1, 1)[None, :]
    ref = folder / f"call-{lang}-{seed}.wav"
    samples.write_wav(ref, mono)
    ulaw = folder / f"call-{lang}-{seed}-ulaw.wav"
    subprocess.run(["sox", str(ref), "-e", "u-law", str(ulaw)], check=True)
    return ref, ulaw, mono.shape[1] / samples.RATE, placed


class TlsFront:
    """The PBX's TLS listener on 127.0.0.1:`port`, relaying each connection to SIPp's TCP port.

    Debian's SIPp is built without TLS ("To use a TLS transport you must compile SIPp with OpenSSL"), so the
    TLS side is Python's ssl (OpenSSL) with the test certificate; SIPp sees the plain SIP. `forwarded` counts
    the bytes that reached SIPp: 0 when the client refused the certificate before sending anything."""

    def __init__(self, port: int, backend: int, cert: Path, key: Path):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.backend, self.forwarded = backend, 0
        self.sock = socket.create_server(("127.0.0.1", port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._relay, args=(raw,), daemon=True).start()

    def _relay(self, raw: socket.socket) -> None:
        try:
            tls = self.ctx.wrap_socket(raw, server_side=True)
        except OSError:  # the handshake failed (ssl.SSLError is an OSError)
            raw.close()
            return
        try:
            with tls, socket.create_connection(("127.0.0.1", self.backend)) as back:
                while True:
                    ready = [tls] if tls.pending() else select.select([tls, back], [], [], 1)[0]
                    for s in ready:
                        data = s.recv(65536)
                        if not data:
                            return
                        if s is tls:
                            self.forwarded += len(data)
                            back.sendall(data)
                        else:
                            tls.sendall(data)
        except OSError:
            pass  # one side went away: the connection ends, as a PBX's would

    def close(self) -> None:
        self.sock.close()


class Sipp:
    """SIPp as a UAS on 127.0.0.1:`port` running `scenario`; a context manager that stops it.
    `tls=(cert, key)`: the PBX speaks TLS on `port` (a TlsFront before SIPp over TCP)."""

    def __init__(self, scenario: str | Path, workdir: Path, *args: str, port: int | None = None,
                 calls: int = 1, replace: dict[str, str] | None = None, tls: tuple[Path, Path] | None = None):
        if shutil.which("sipp") is None:
            raise RuntimeError("sipp is not installed (Debian sip-tester; `make test` installs it)")
        self.port = port or free_port()
        self.media_port = free_port()
        self.tls, self.front = tls, None
        sipp_port = free_port() if tls else self.port
        if tls:  # the PBX's Contact: where the ACK and later requests go, over TLS through the front
            replace = {"[local_port];transport=[transport]": f"{self.port};transport=tls", **(replace or {})}
            args = ("-t", "t1", *args)
        path = SCENARIOS / scenario if not Path(scenario).is_absolute() else Path(scenario)
        if replace:
            text = path.read_text()
            for a, b in replace.items():
                text = text.replace(a, b)
            path = workdir / f"{path.stem}-{self.port}.xml"
            path.write_text(text)
        self.log = workdir / f"sipp-{self.port}.log"
        self.cmd = ["sipp", "-sf", str(path), "-i", "127.0.0.1", "-p", str(sipp_port), "-mi", "127.0.0.1",
                    "-mp", str(self.media_port), "-m", str(calls), "-nostdin", "-trace_err", *args]
        self.workdir = workdir
        self.sipp_port = sipp_port

    def __enter__(self) -> "Sipp":
        self.out = open(self.log, "w")
        self.proc = subprocess.Popen(self.cmd, cwd=self.workdir, stdout=self.out, stderr=subprocess.STDOUT)
        time.sleep(0.3)  # SIPp binds its sockets before reading the scenario's first message
        if self.proc.poll() is not None:
            raise RuntimeError(f"sipp exited at once: {self.log.read_text()[-2000:]}")
        if self.tls:
            self.front = TlsFront(self.port, self.sipp_port, *self.tls)
        return self

    def wait(self, timeout: float = 10) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def __exit__(self, *exc) -> None:
        if self.front is not None:
            self.front.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


def write_config(folder: Path, port: int, *, password: str = PASSWORD, transport: str = "udp",
                 agents: list[tuple[str, str, str]] = (), extra: str = "", register: bool = False,
                 sip_extra: str = "") -> Path:
    """A callaudit.toml for a test: the SIPp PBX, recordings in `folder`, a roster (the store: run_cli).
    `sip_extra`: more [sip] lines; `extra`: more lines after [listen]."""
    roster = "".join(f'\n[[roster.agents]]\nextension = "{e}"\nname = "{n}"\ndepartment = "{d}"\n'
                     for e, n, d in agents)
    text = f"""
[sip]
host = "127.0.0.1"
port = {port}
transport = "{transport}"
user = "{USER}"
password = "{password}"
register = {str(register).lower()}
rtp_timeout = 2.0
connect_timeout = 3.0
{sip_extra}

[listen]
recordings = "{folder / 'recordings'}"
supervisor = "test-supervisor"
{extra}
{roster}
"""
    path = folder / "callaudit.toml"
    path.write_text(text)
    return path


def run_cli(config: Path, *args: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    """callaudit in its own process: a pjsua2 abort must not take the test runner down."""
    e = {k: v for k, v in os.environ.items() if k not in ("CALLAUDIT_SIP_PASSWORD", "CALLAUDIT_DB")}
    e.update(CALLAUDIT_CONFIG=str(config), CALLAUDIT_DB=str(Path(config).parent / "callaudit.db"), **(env or {}))
    return subprocess.run(CALLAUDIT + list(args), cwd=ROOT, env=e, capture_output=True, text=True, timeout=timeout)


def read_pcm(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == 8000
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768


def chunk_correlations(ref: np.ndarray, rec: np.ndarray, chunk: float = 0.25, slip: float = 0.1) -> list[float]:
    """Normalised correlation of each voiced `chunk` s of the reference with the recording, each chunk free
    to move by ±`slip` s from where the previous one was found: jitter-buffer slips (20 ms frames, and the
    conference bridge's time-stretching) add up over a call. Silent reference chunks are skipped."""
    rate = 8000
    head = min(len(ref), 2 * rate)  # the recording may begin a few frames before the first RTP packet
    lag = int(np.argmax(np.correlate(rec[:head + rate], ref[:head], "valid")))
    n, s, out = int(chunk * rate), int(slip * rate), []
    for i in range(0, len(ref) - n + 1, n):
        x = ref[i:i + n]
        if np.sqrt(np.mean(x ** 2)) < 10 ** (-40 / 20):
            continue
        if i + lag + n > len(rec):
            break  # the recording ended (cut short by a hang-up)
        lo = max(0, i + lag - s)
        y = rec[lo:i + lag + s + n]
        xc = np.correlate(y, x, "valid")
        energy = np.convolve(y * y, np.ones(n), "valid")
        r = xc / (np.sqrt(np.dot(x, x) * energy) + 1e-12)
        k = int(np.argmax(r))
        out.append(float(r[k]))
        if r[k] > 0.9:
            lag = lo + k - i
    return out


def assert_recording_matches(ref: np.ndarray, got: np.ndarray) -> None:
    """The recording is the stream: 250 ms chunks correlate > 0.95 but where a jitter-buffer slip or the
    start-up of the jitter buffer (it time-stretches a few ms while it settles) falls
    (this shared 2-core machine is often loaded 4x over, so slips happen), and no stretch is missing."""
    corr = np.array(chunk_correlations(ref, got))
    assert len(corr) > 4 and np.sum(corr <= 0.95) <= max(2, 0.15 * len(corr)) and np.median(corr) > 0.99, corr
    assert max(gaps(ref, got), default=0) <= 5


def gaps(ref: np.ndarray, rec: np.ndarray, slip: float = 0.3) -> list[int]:
    """Runs of voiced 20 ms reference frames missing from the recording (in frames), each frame searched
    ±`slip` s around where the previous one was found. A jitter-buffer slip is a run of 1."""
    rate, n = 8000, 160
    head = min(len(ref), 2 * rate)
    lag = int(np.argmax(np.correlate(rec[:head + rate], ref[:head], "valid")))
    s = int(slip * rate)
    runs, run = [], 0
    for i in range(0, len(ref) - n + 1, n):
        x = ref[i:i + n]
        if i + lag + n > len(rec):
            break
        if np.sqrt(np.mean(x ** 2)) < 10 ** (-35 / 20):
            continue
        lo = max(0, i + lag - s)
        y = rec[lo:i + lag + s + n]
        r = np.correlate(y, x, "valid") / (np.sqrt(np.dot(x, x) * np.convolve(y * y, np.ones(n), "valid")) + 1e-12)
        k = int(np.argmax(r))
        if r[k] > 0.9:
            lag = lo + k - i
            if run:
                runs.append(run)
            run = 0
        else:
            run += 1
    return runs + ([run] if run else [])
