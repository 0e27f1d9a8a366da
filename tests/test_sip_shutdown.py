"""The pjsua2 phone's shutdown against pjmedia's clock thread (no PBX needed: the null sound device's clock
delivers frames to every conference port)."""

from __future__ import annotations

import os
import subprocess
import sys

from sip_peer import ROOT

# Each round: a port gets frames from the null capture device, then the main thread holds the GIL for a few
# hundred ms (as the live transcript's and the audit's imports do at the end of a call). The clock thread
# falls behind, its catch-up ticks queue inside put_frame waiting for the GIL, and the port is freed at
# that moment: the interleaving that crashed `callaudit listen` at the end of ~10 % of calls.
ROUNDS = r"""
import time
from collections import deque
import pjsua2 as pj
from callaudit.sources.pbx import SipSettings
from callaudit.sources.sip import FRAME_BYTES, RATE, Phone, _Port

busy = list(range(2_000_000, 0, -1))
with Phone(SipSettings(host="127.0.0.1")) as phone:
    for i in range(6):
        rx = deque()
        port = _Port(rx, None)
        fmt = pj.MediaFormatAudio()
        fmt.init(pj.PJMEDIA_FORMAT_PCM, RATE, 1, 20000, 16)
        port.createPort(f"probe{i}", fmt)
        capture = phone.ep.audDevManager().getCaptureDevMedia()
        capture.startTransmit(port)
        deadline = time.monotonic() + 5
        while len(rx) < 3 and time.monotonic() < deadline:
            phone.ep.libHandleEvents(10)
        assert len(rx) >= 3 and len(rx[0]) == FRAME_BYTES, len(rx)
        sorted(busy)   # one C call: the GIL stays taken while the clock ticks
        port.close()
        port = None
        print("round", i, "ok", flush=True)
"""


def test_a_port_freed_while_the_clock_thread_waits_for_python_does_not_crash():
    env = {**os.environ, "PYTHONFAULTHANDLER": "1", "PYTHONMALLOC": "debug"}  # debug: a double free fails fast
    proc = subprocess.run([sys.executable, "-c", ROUNDS], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count(" ok") == 6
