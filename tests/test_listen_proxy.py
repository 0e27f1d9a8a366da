"""Listen-in through a real proxy: Kamailio authenticates and registers the supervisor and relays the spy
call to SIPp; rtpengine anchors the media, so the call audio callaudit hears comes from rtpengine."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from clihelp import one_error_line
from sip_peer import (
    PASSWORD,
    USER,
    Sipp,
    assert_recording_matches,
    build_stream,
    free_port,
    read_pcm,
    rows,
    run_cli,
    write_config,
)

TEMPLATE = Path(__file__).resolve().parent / "kamailio" / "kamailio.cfg"
MODULES = next(iter(sorted(Path("/usr/lib").glob("*/kamailio/modules/rtpengine.so"))), None)
MISSING = [name for name, there in [("sipp (sip-tester)", shutil.which("sipp")),
                                    ("kamailio", shutil.which("kamailio") and MODULES),
                                    ("rtpengine (rtpengine-daemon)", shutil.which("rtpengine"))] if not there]
pytestmark = pytest.mark.skipif(bool(MISSING),
                                reason=f"not installed: {', '.join(MISSING)} (`make test` installs them)")

RTP_PORTS = (40000, 40999)  # rtpengine's own range: the ports in its stats prove the media went through it
# stream_until_bye.xml's 200 OK, returning the proxy's Record-Route so that our ACK and BYE go through it.
RECORD_ROUTE = {"Contact: <sip:": "[last_Record-Route:]\n      Contact: <sip:"}


class Proxy:
    """rtpengine and Kamailio (from tests/kamailio/kamailio.cfg) in front of a PBX on 127.0.0.1:`pbx_port`."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port, self.pbx_port, self.ctl_port, ng_port = free_port(), free_port(), free_port(), free_port()
        fields = {"SIP_PORT": self.port, "PBX_PORT": self.pbx_port, "CTL_PORT": self.ctl_port, "NG_PORT": ng_port,
                  "MODULES": MODULES.parent, "REALM": "callaudit-test", "USER": USER, "PASSWORD": PASSWORD}
        text = TEMPLATE.read_text()
        for name, value in fields.items():
            text = text.replace(f"@{name}@", str(value))
        self.cfg = workdir / "kamailio.cfg"
        self.cfg.write_text(text)
        # Userspace only (--table=-1: no kernel module, no iptables); --delete-delay=0: a call's packet
        # counts are logged the moment its BYE passes the proxy.
        self.rtpengine_cmd = ["rtpengine", "--config-file=none", "--foreground", "--log-stderr", "--table=-1",
                              "--interface=127.0.0.1", f"--listen-ng=127.0.0.1:{ng_port}",
                              f"--port-min={RTP_PORTS[0]}", f"--port-max={RTP_PORTS[1]}",
                              "--log-level=6", "--delete-delay=0", "--num-threads=2"]
        self.kamailio_cmd = ["kamailio", "-DD", "-E", "-f", str(self.cfg), "-Y", str(workdir), "-m", "32", "-M", "4"]
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> "Proxy":
        try:
            self._start(self.rtpengine_cmd, "rtpengine.log", lambda: "Startup complete" in self.log("rtpengine"))
            # Kamailio checks rtpengine once as it starts, so it comes second.
            self._start(self.kamailio_cmd, "kamailio.log", lambda: self.kamcmd("core.uptime", check=False) is not None)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start(self, cmd: list[str], log: str, ready) -> None:
        with open(self.workdir / log, "w") as out:
            proc = subprocess.Popen(cmd, cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(proc)
        deadline = time.monotonic() + 10
        while not ready():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{cmd[0]} did not start:\n{self.logs()}")
            time.sleep(0.05)

    def __exit__(self, *exc) -> None:
        # Each daemon with the workers it forked (Kamailio's outlive a main process that had to be killed).
        for proc in reversed(self.procs):
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> str:
        """Both daemons' logs' tails, for assertion messages."""
        return "".join(f"\n--- {name}.log (tail)\n{self.log(name)[-4000:]}" for name in ("kamailio", "rtpengine"))

    def kamcmd(self, *args: str, check: bool = True) -> str | None:
        proc = subprocess.run(["kamcmd", "-s", f"tcp:127.0.0.1:{self.ctl_port}", *args],
                              capture_output=True, text=True, timeout=10)
        if proc.returncode and check:
            raise AssertionError(f"kamcmd {' '.join(args)}: {proc.stderr}{self.logs()}")
        return proc.stdout if proc.returncode == 0 else None

    def contacts(self) -> list[str]:
        """The contacts Kamailio's registrar holds right now."""
        return re.findall(r"Address: (\S+)", self.kamcmd("ul.dump"))

    def relayed(self, from_port: int) -> int:
        """RTP packets rtpengine took in from 127.0.0.1:`from_port` on one of its own ports, in the call
        stats it logs when the call is deleted (the BYE passed the proxy); waits a little for them."""
        pattern = re.compile(r"Port\s+127\.0\.0\.1:(\d+) <>\s+127\.0\.0\.1:%d, SSRC \w+, (\d+) p" % from_port)
        deadline = time.monotonic() + 3
        while True:
            hits = [int(n) for port, n in pattern.findall(self.log("rtpengine"))
                    if RTP_PORTS[0] <= int(port) <= RTP_PORTS[1]]
            if hits or time.monotonic() > deadline:
                return sum(hits)
            time.sleep(0.1)


@pytest.fixture
def proxy(tmp_path):
    with Proxy(tmp_path) as p:
        yield p


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    return build_stream(tmp_path_factory.mktemp("stream"))


def _config(tmp_path, proxy, **kw) -> Path:
    return write_config(tmp_path, proxy.port, register=True, **kw)


def _one(proc, proxy) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:] + proxy.logs()
    (session,) = json.loads(proc.stdout)
    return session


@pytest.mark.slow
def test_listen_in_through_kamailio_and_rtpengine(tmp_path, proxy, stream):
    ref, ulaw, seconds, _ = stream
    assert seconds >= 20
    with Sipp("spy_proxied.xml", tmp_path, "-key", "stream", f"{ulaw},1,0", "-d", str(int(seconds * 1000)),
              port=proxy.pbx_port) as pbx:
        proc = run_cli(_config(tmp_path, proxy, agents=[("1042", "Anna Petrova", "sales")]),
                       "listen", "1042", "--no-audio", "--json")
        assert pbx.wait(10) == 0, pbx.log.read_text()[-3000:] + proxy.logs()  # our 200 to its BYE came back
    s = _one(proc, proxy)
    assert s["result"] == "completed" and s["ended_by"] == "peer", s
    got = read_pcm(s["recording"])
    assert abs(len(got) / 8000 - seconds) / seconds < 0.02, (len(got) / 8000, seconds)
    assert_recording_matches(read_pcm(ref), got)
    # The media went through rtpengine: it took in the whole stream from SIPp's media port on a port of its
    # own range, and callaudit counted as many packets (SIPp sent them nowhere else).
    streamed = int(seconds * 50)
    relayed = proxy.relayed(pbx.media_port)
    assert relayed >= 0.98 * streamed, (relayed, streamed, proxy.log("rtpengine")[-3000:])
    assert abs(s["rtp_packets"] - relayed) <= 0.02 * relayed, (s["rtp_packets"], relayed)
    # Scored and audited.
    assert s["verdict"] and s["verdict"]["call"]["sha256"] == s["sha256"] and s["verdict"]["transcript"]
    db = tmp_path / "callaudit.db"
    (row,) = rows(db, "select extension, result, call_id from listen_sessions")
    assert row == ("1042", "completed", s["call_id"]) and row[2]
    assert rows(db, f"select sha256 from calls where id = {row[2]}") == [(s["sha256"],)]


def test_wrong_password_is_refused_by_the_registrar(tmp_path, proxy):
    proc = run_cli(_config(tmp_path, proxy, password="not-the-password"), "listen", "1042", "--no-audio")
    assert proc.returncode == 2, proc.stderr + proxy.logs()
    one_error_line(proc, "registration failed", "401", f"credentials of user '{USER}'")
    assert proxy.contacts() == []


def test_the_call_goes_through_only_once_registered(tmp_path, proxy, stream):
    # Not registered: the proxy refuses the spy code.
    proc = run_cli(write_config(tmp_path, proxy.port), "listen", "1042", "--no-audio", "--no-record")
    assert "403 Not Registered" in one_error_line(proc)
    # Registered: the registrar holds our contact for as long as the session lasts, and not after.
    seen, done = [], threading.Event()

    def watch():  # kamcmd ul.dump while the session runs
        while not done.is_set() and not seen:
            seen.extend(proxy.contacts())
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    with Sipp("stream_until_bye.xml", tmp_path, "-key", "stream", f"{stream[1]},1,0", port=proxy.pbx_port,
              replace=RECORD_ROUTE) as pbx:
        watcher.start()
        try:
            proc = run_cli(_config(tmp_path, proxy), "listen", "1042", "--no-audio", "--no-record", "--json",
                           "--duration", "2")
        finally:
            done.set()
            watcher.join()
        assert pbx.wait(10) == 0, pbx.log.read_text()[-3000:] + proxy.logs()
    assert _one(proc, proxy)["result"] == "completed"
    assert any(c.startswith(f"sip:{USER}@127.0.0.1:") for c in seen), (seen, proxy.logs())
    assert proxy.contacts() == []  # unregistered on the way out


def test_pbx_hang_up_through_the_proxy_ends_the_session(tmp_path, proxy, stream):
    with Sipp("spy_proxied.xml", tmp_path, "-key", "stream", f"{stream[1]},1,0", "-d", "3000",
              port=proxy.pbx_port) as pbx:
        proc = run_cli(_config(tmp_path, proxy), "listen", "1042", "--no-audio", "--no-record", "--json")
        assert pbx.wait(10) == 0, pbx.log.read_text()[-3000:] + proxy.logs()
    s = _one(proc, proxy)
    assert s["ended_by"] == "peer" and 2.7 <= s["duration"] <= 3.5, s
    assert "Received command 'delete'" in proxy.log("rtpengine")  # the BYE passed Kamailio


def test_our_hang_up_reaches_the_pbx_through_the_proxy(tmp_path, proxy, stream):
    with Sipp("stream_until_bye.xml", tmp_path, "-key", "stream", f"{stream[1]},1,0", port=proxy.pbx_port,
              replace=RECORD_ROUTE) as pbx:
        proc = run_cli(_config(tmp_path, proxy), "listen", "1042", "--no-audio", "--no-record", "--json",
                       "--duration", "2")
        assert pbx.wait(10) == 0, pbx.log.read_text()[-3000:] + proxy.logs()  # SIPp got our BYE
    s = _one(proc, proxy)
    assert s["ended_by"] == "duration" and 1.9 <= s["duration"] <= 2.6, s
    assert "Received command 'delete'" in proxy.log("rtpengine")  # our BYE passed Kamailio
    assert proxy.relayed(pbx.media_port) > 50  # and the 2 s of audio came through rtpengine
