"""A real SIP peer for the listen-in tests and the bench: SIPp playing a PBX's spy feature code.

The call it streams is built from real recorded speech (callaudit.samples) and mixed to mono, as
ChanSpy delivers both parties in one channel; SIPp streams it as 8 kHz µ-law RTP.
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import sqlite3
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

from callaudit.sources import samples  # noqa: E402

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
    return (*mixed_stream(folder, both, f"call-{lang}-{seed}"), placed)


def mixed_stream(folder: Path, both: np.ndarray, name: str) -> tuple[Path, Path, float]:
    """A two-party call (2, n) at 8 kHz mixed into one channel, as ChanSpy delivers it:
    (reference PCM mono WAV, µ-law WAV for SIPp, duration s)."""
    mono = np.clip(both[0] + both[1], -1, 1)[None, :]
    ref = folder / f"{name}.wav"
    samples.write_wav(ref, mono)
    ulaw = folder / f"{name}-ulaw.wav"
    subprocess.run(["sox", str(ref), "-e", "u-law", str(ulaw)], check=True)
    return ref, ulaw, mono.shape[1] / samples.RATE


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
    `tls=(cert, key)`: the PBX speaks TLS on `port` (a TlsFront before SIPp over TCP).
    `port` (and `media_port`) are final once entered: a port another process took before SIPp could bind
    it is replaced by a fresh one."""

    TRIES = 5

    def __init__(self, scenario: str | Path, workdir: Path, *args: str, port: int | None = None,
                 calls: int = 1, replace: dict[str, str] | None = None, tls: tuple[Path, Path] | None = None):
        if shutil.which("sipp") is None:
            raise RuntimeError("sipp is not installed (Debian sip-tester; `make test` installs it)")
        self.scenario = SCENARIOS / scenario if not Path(scenario).is_absolute() else Path(scenario)
        self.workdir, self.args, self.calls, self.replace = workdir, args, calls, replace or {}
        self.fixed_port, self.tls, self.front = port, tls, None
        self._choose_ports()

    def _choose_ports(self) -> None:
        """Ports for SIPp (SIP; RTP on media_port and media_port + 2, where SIPp binds its video socket)
        and the scenario, log and command line that name them."""
        self.port = self.fixed_port or free_port()
        self.sipp_port = free_port() if self.tls else self.port
        self.media_port = free_port()  # + 2 is only checked by SIPp: a clash is a bind failure, retried
        args, replace = self.args, dict(self.replace)
        if self.tls:  # the PBX's Contact: where the ACK and later requests go, over TLS through the front
            replace = {"[local_port];transport=[transport]": f"{self.port};transport=tls", **replace}
            args = ("-t", "t1", *args)
        transport = args[args.index("-t") + 1] if "-t" in args else "u1"
        self.sip_socket = ("tcp" if transport.startswith("t") else "udp", self.sipp_port)
        path = self.scenario
        if replace:
            text = path.read_text()
            for a, b in replace.items():
                text = text.replace(a, b)
            path = self.workdir / f"{path.stem}-{self.port}.xml"
            path.write_text(text)
        self.log = self.workdir / f"sipp-{self.port}.log"
        self.cmd = ["sipp", "-sf", str(path), "-i", "127.0.0.1", "-p", str(self.sipp_port), "-mi", "127.0.0.1",
                    "-mp", str(self.media_port), "-m", str(self.calls), "-nostdin", "-trace_err", *args]

    def __enter__(self) -> "Sipp":
        for attempt in range(self.TRIES):
            with open(self.log, "w") as out:
                self.proc = subprocess.Popen(self.cmd, cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT)
            if self._wait_bound():
                break
            log = self.log.read_text()
            # free_port() only found the ports free a moment ago: another process (a parallel test, a
            # pjsua RTP port) may have bound one since, or SIPp's video port (media_port + 2) was taken.
            # A SIP port the caller fixed cannot be replaced.
            lost = "Unable to bind" in log and not (self.fixed_port and "main socket" in log)
            if not lost or attempt == self.TRIES - 1:
                raise RuntimeError(f"sipp exited at once: {log[:300]} … {log[-1500:]}")  # its error, then its screen
            self._choose_ports()
        if self.tls:
            self.front = TlsFront(self.port, self.sipp_port, *self.tls)
        return self

    def _wait_bound(self, timeout: float = 10) -> bool:
        """Wait until SIPp holds its SIP socket (listening, for TCP) and both RTP sockets: it binds them
        after reading the scenario and before taking calls; a datagram that arrives sooner is refused.
        False when SIPp exited first."""
        want = {self.sip_socket, ("udp", self.media_port), ("udp", self.media_port + 2)}
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if want <= _sockets(self.proc.pid):
                return True
            if time.monotonic() > deadline:
                stop(self.proc)
                raise RuntimeError(f"sipp did not bind {sorted(want)} in {timeout} s: {self.log.read_text()[-2000:]}")
            time.sleep(0.02)  # polling /proc: SIPp tells nobody when it has bound
        return False

    def wait(self, timeout: float = 10) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def __exit__(self, *exc) -> None:
        if self.front is not None:
            self.front.close()
        stop(self.proc)


def _sockets(pid: int) -> set[tuple[str, int]]:
    """("udp", port) of each UDP socket and ("tcp", port) of each listening TCP socket that process `pid`
    holds, from /proc (what `ss -lunp` shows)."""
    try:
        links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
    except OSError:  # exited meanwhile
        return set()
    inodes = {link[8:-1] for link in links if link.startswith("socket:[")}
    found = set()
    for proto in ("udp", "tcp"):
        for line in Path(f"/proc/net/{proto}").read_text().splitlines()[1:]:
            f = line.split()
            if f[9] in inodes and (proto == "udp" or f[3] == "0A"):  # 0A: TCP_LISTEN
                found.add((proto, int(f[1].rsplit(":", 1)[1], 16)))
    return found


def stop(proc: subprocess.Popen) -> None:
    """Ask a peer process to end; kill it if it does not within 5 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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


def cli_env(config: Path, env: dict | None = None) -> dict:
    """The environment of a callaudit process using `config` and the store beside it."""
    e = {k: v for k, v in os.environ.items() if k not in ("CALLAUDIT_SIP_PASSWORD", "CALLAUDIT_DB")}
    e.update(CALLAUDIT_CONFIG=str(config), CALLAUDIT_DB=str(Path(config).parent / "callaudit.db"), **(env or {}))
    return e


def run_cli(config: Path, *args: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    """callaudit in its own process: a pjsua2 abort must not take the test runner down."""
    return subprocess.run(CALLAUDIT + list(args), cwd=ROOT, env=cli_env(config, env), capture_output=True, text=True,
                          timeout=timeout)


def rows(db: Path, sql: str) -> list[tuple]:
    """What `sql` finds in the SQLite store `db` (the tests' view of what callaudit stored)."""
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def read_pcm(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == 8000
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768


def _first_lag(ref: np.ndarray, rec: np.ndarray) -> int:
    head = min(len(ref), 2 * 8000)  # the recording may begin a few frames before the first RTP packet
    return int(np.argmax(np.correlate(rec[:head + 8000], ref[:head], "valid")))


def stream_offset(ref: np.ndarray, rec: np.ndarray) -> float:
    """Seconds from the start of the recording to where the streamed reference begins in it."""
    return _first_lag(ref, rec) / 8000


def _best(x: np.ndarray, rec: np.ndarray, at: int, search: int) -> tuple[int, float]:
    """(where in `rec`, normalised correlation) of the best match of `x` within ±`search` of `at`."""
    lo = max(0, at - search)
    y = rec[lo:at + search + len(x)]
    r = np.correlate(y, x, "valid") / (np.sqrt(np.dot(x, x) * np.convolve(y * y, np.ones(len(x)), "valid")) + 1e-12)
    k = int(np.argmax(r))
    return lo + k, float(r[k])


def chunk_correlations(ref: np.ndarray, rec: np.ndarray, chunk: float = 0.25, slip: float = 0.1,
                       where: bool = False) -> list:
    """Normalised correlation of each voiced `chunk` s of the reference with the recording, each chunk free
    to move by ±`slip` s from where the previous one was found: jitter-buffer slips (20 ms frames, and the
    conference bridge's time-stretching) add up over a call. Silent reference chunks are skipped.
    With `where`, (start sample in the reference, correlation) pairs."""
    lag, n, out = _first_lag(ref, rec), int(chunk * 8000), []
    for i in range(0, len(ref) - n + 1, n):
        x = ref[i:i + n]
        if np.sqrt(np.mean(x ** 2)) < 10 ** (-40 / 20):
            continue
        if i + lag + n > len(rec):
            break  # the recording ended (cut short by a hang-up)
        at, r = _best(x, rec, i + lag, int(slip * 8000))
        out.append((i, r) if where else r)
        if r > 0.9:
            lag = at - i
    return out


def frames(ref: np.ndarray, rec: np.ndarray, slip: float = 0.3) -> list[tuple[int, int | None]]:
    """For each voiced 20 ms frame of the reference: (its start, its offset in the recording, or None when
    it is missing), each searched ±`slip` s around where the previous one was found."""
    lag, n, out = _first_lag(ref, rec), 160, []
    for i in range(0, len(ref) - n + 1, n):
        x = ref[i:i + n]
        if i + lag + n > len(rec):
            break
        if np.sqrt(np.mean(x ** 2)) < 10 ** (-35 / 20):
            continue
        at, r = _best(x, rec, i + lag, int(slip * 8000))
        if r > 0.9:
            lag = at - i
        out.append((i, at - i if r > 0.9 else None))
    return out


SLIP = 2  # analysis frames one lost 20 ms frame can spoil: it rarely falls on the frame grid


def gaps(ref: np.ndarray, rec: np.ndarray, slip: float = 0.3, found: list | None = None) -> list[int]:
    """Runs of voiced 20 ms reference frames missing from the recording (in frames). A jitter-buffer slip
    is a run of at most SLIP. `found`: the `frames` of the two, when already at hand."""
    runs, run = [], 0
    for _, lag in found if found is not None else frames(ref, rec, slip):
        if lag is None:
            run += 1
        elif run:
            runs.append(run)
            run = 0
    return runs + ([run] if run else [])


def slips(found: list[tuple[int, int | None]]) -> list[int]:
    """Reference samples where the recording's timing jumps, from `frames`: a frame missing, or the offset
    between consecutive voiced frames changing (a frame the jitter buffer inserted, dropped or stretched)."""
    out, last = [], None
    for i, lag in found:
        if lag is None or (last is not None and lag != last):
            out.append(i)
        last = lag if lag is not None else last
    return out


def assert_recording_matches(ref: np.ndarray, got: np.ndarray) -> None:
    """The recording is the stream: every voiced 250 ms chunk correlates > 0.95, except a chunk where
    the jitter buffer slipped (a 20 ms frame lost or inserted when a packet came late on this loaded
    machine), and nothing is lost beyond such single-frame slips."""
    found = frames(ref, got)
    corr, jumps = chunk_correlations(ref, got, where=True), slips(found)
    unexplained = [(round(i / 8000, 2), round(r, 3)) for i, r in corr
                   if r <= 0.95 and not any(i - 160 <= j < i + 2000 + 160 for j in jumps)]
    assert len(corr) > 4 and not unexplained and np.median([r for _, r in corr]) > 0.99, (unexplained, corr)
    missing = gaps(ref, got, found=found)
    assert max(missing, default=0) <= SLIP, missing
