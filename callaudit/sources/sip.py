"""SIP listen-in with pjsua2: one endpoint, one account, any number of spy calls.

Every pj call happens on the thread that created the library (the caller's thread, which drives
`Phone.pump`). The only other pj thread that calls into Python is pjmedia's clock, which hands us 20 ms
frames; its callbacks copy bytes into a deque and return. Shutdown follows the order that keeps pjsua2
from aborting: hang up → pump events → free the ports (`_Port.close`, never by dropping the last
reference) → drop the calls → libDestroy.
"""

from __future__ import annotations

import ctypes
import gc
import os
import sys
import time
from collections import deque
from contextlib import contextmanager
from typing import Callable

import pjsua2 as pj

from callaudit.errors import CallauditError
from callaudit.sources.pbx import CERT_REFUSED, SipError, SipSettings, failure_message

RATE = 8000                       # conference clock: telephone audio, no resampling
FRAME_BYTES = RATE // 50 * 2      # 20 ms of 16-bit mono
_TRANSPORTS = {"udp": pj.PJSIP_TRANSPORT_UDP, "tcp": pj.PJSIP_TRANSPORT_TCP, "tls": pj.PJSIP_TRANSPORT_TLS}
PJ_CERT_ERROR = "PJSIP_TLS_ECERTVERIF"      # in the 503 reason pjsua gives when we refuse the PBX's certificate


class _Port(pj.AudioMediaPort):
    """A conference port: frames the call sends us land in `rx`; `next_tx()` feeds the call (whisper/barge)."""

    def __init__(self, rx: deque[bytes], next_tx: Callable[[], bytes | None] | None):
        super().__init__()
        self.rx = rx
        self.next_tx = next_tx
        self.first_audio = 0.0

    def onFrameReceived(self, frame):  # pjmedia clock thread: copy and return, nothing else
        try:
            if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and frame.size:
                data = bytes(frame.buf)
                if not self.first_audio and data.count(0) != len(data):
                    self.first_audio = time.monotonic()
                self.rx.append(data)
        except Exception:  # an exception escaping into pjmedia aborts the process
            pass

    def onFrameRequested(self, frame):
        try:
            data = self.next_tx() if self.next_tx is not None else None
            if data:
                frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
                frame.buf = pj.ByteVector(data)
                frame.size = len(data)
        except Exception:
            pass

    def close(self) -> None:
        """Take the port out of the conference bridge and free its C++ side now, while this object lives.

        Never let the last reference drop instead. The bridge's clock thread calls put_frame on every port,
        every 20 ms, connected or not, and a call into Python holds the port's lock while it waits for the
        GIL. Python's deallocator would run the C++ destructor (through SWIG, which releases the GIL around
        `delete`) on an object whose reference count is already 0: the waiting callback then runs on the
        half-torn-down object, takes and drops a reference to it, and frees it a second time -- heap
        corruption that crashes the process later, in whatever thread allocates next. Called here, the
        destructor (pjsua2 media.cpp ~AudioMediaPort) queues the port's removal from the bridge and, under
        the port's lock, cuts it off from this object; a callback in flight meanwhile finds it whole."""
        self.next_tx = None  # the spy's bound method: no cycle back to the call
        if self.thisown:
            pj.AudioMediaPort.__swig_destroy__(self)


class Spy(pj.Call):
    """One listen-in call. Read `rx` (20 ms frames, 16-bit 8 kHz mono) from the pumping thread."""

    def __init__(self, phone: "Phone", ext: str, mode: str, mic: Callable[[], bytes | None] | None):
        super().__init__(phone.account)
        self.phone, self.ext, self.mode, self.mic = phone, ext, mode, mic
        self.modes = [mode]            # every mode the supervisor was in, in order (for the audit)
        self.number = phone.settings.number(ext, mode)
        self.rx: deque[bytes] = deque()
        self.port: _Port | None = None
        self.audio = None
        self.dialled_at = time.monotonic()
        self.answered_at = 0.0
        self.media_at = 0.0
        self.ended_at = 0.0
        self.code, self.reason = 0, ""
        self.responded = False        # any reply at all from the PBX (to tell "unreachable")
        self.ended_by = ""             # peer | us | rtp-timeout | failed
        self._rx_pkts, self._rtp_seen = -1, 0.0
        self._stat_at = 0.0
        self.rtp: dict = {}            # receive statistics, refreshed while the call runs

    # ---- callbacks (pumping thread); an exception escaping a callback aborts the process
    def onCallState(self, prm):
        try:
            ci = self.getInfo()
            refused = PJ_CERT_ERROR in ci.lastReason  # our TLS check failed: the PBX got no INVITE
            if ci.lastStatusCode and not refused:
                self.responded = True
            if ci.state == pj.PJSIP_INV_STATE_CONFIRMED and not self.answered_at:
                self.answered_at = time.monotonic()
            elif ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                self.code, self.reason = ci.lastStatusCode, ci.lastReason
                if refused:
                    self.reason = self.phone.ep.refused()
                self.ended_at = time.monotonic()
                self.ended_by = self.ended_by or ("peer" if self.answered_at else "failed")
        except Exception:
            pass

    def onCallTsxState(self, prm):
        try:
            if prm.e.body.tsxState.tsx.statusCode >= 100:
                self.responded = True
        except Exception:
            pass

    def onCallMediaState(self, prm):
        try:
            ci = self.getInfo()
            for m in ci.media:
                if m.type == pj.PJMEDIA_TYPE_AUDIO and m.status != pj.PJSUA_CALL_MEDIA_NONE and self.audio is None:
                    self.audio = self.getAudioMedia(m.index)
                    self._media_index = m.index
                    self.port = _Port(self.rx, self.next_tx)
                    fmt = pj.MediaFormatAudio()
                    fmt.init(pj.PJMEDIA_FORMAT_PCM, RATE, 1, 20000, 16)
                    self.port.createPort(f"spy{self.getId()}", fmt)
                    self.audio.startTransmit(self.port)
                    if self.mode != "listen":
                        self.port.startTransmit(self.audio)
                    self.media_at = time.monotonic()
        except Exception:
            pass

    # ---- used by the pumping thread
    @property
    def ended(self) -> bool:
        return bool(self.ended_at)

    @property
    def first_audio_at(self) -> float:
        return self.port.first_audio if self.port else 0.0

    def next_tx(self) -> bytes | None:
        """The supervisor's next 20 ms (clock thread); None in listen mode: nothing reaches the call."""
        if self.mode == "listen" or self.mic is None:
            return None
        return self.mic()

    def set_mode(self, mode: str) -> str:
        """Switch listen/whisper/barge during the call; returns a line for the supervisor."""
        if mode == self.mode:
            return f"already in {mode} mode"
        digit = self.phone.settings.dtmf.get(mode, "")
        if self.audio is not None and self.port is not None:
            if mode == "listen":
                self.port.stopTransmit(self.audio)
            elif self.mode == "listen":
                self.port.startTransmit(self.audio)
        if digit:
            self.dialDtmf(digit)
        self.mode = mode
        self.modes.append(mode)
        return f"mode {mode}" + (f" (DTMF {digit} sent to the PBX)" if digit else "")

    def hang_up(self, why: str = "us") -> None:
        if self.ended or self.ended_by:
            return
        self.ended_by = why
        prm = pj.CallOpParam()
        prm.statusCode = 200 if self.answered_at else 487
        try:
            self.hangup(prm)
        except pj.Error:
            pass

    def watch(self, now: float) -> None:
        """Hang up when the PBX never answers, or when RTP has stopped for rtp_timeout seconds."""
        s = self.phone.settings
        if self.ended or self.ended_by:
            return
        if not self.responded and now - self.dialled_at > s.connect_timeout:
            self.hang_up("failed")
            self.ended_at, self.code, self.reason = now, 408, "no reply"
            return
        if not self.media_at or now - self._stat_at < 0.25:
            return
        self._stat_at = now
        try:
            st = self.getStreamStat(self._media_index)
        except pj.Error:
            return
        rx, jb = st.rtcp.rxStat, st.jbuf
        pkts = rx.pkt
        self.rtp = {"rtp_packets": pkts, "rtp_lost": rx.loss, "rtp_discarded": rx.discard,
                    "rtp_jitter_ms": round(rx.jitterUsec.mean / 1000, 1) if rx.jitterUsec.n else 0.0,
                    "jb_lost_frames": jb.lost, "jb_discarded_frames": jb.discard, "jb_empty_frames": jb.empty,
                    "jb_avg_delay_ms": jb.avgDelayMsec}
        if pkts != self._rx_pkts:
            self._rx_pkts, self._rtp_seen = pkts, now
        if now - max(self._rtp_seen, self.media_at) > s.rtp_timeout:
            self.hang_up("rtp-timeout")

    def release(self) -> None:
        """Free the media port before the call object goes (pjsua2 shutdown order). Removing the port
        from the bridge disconnects it both ways: no stopTransmit first."""
        port, self.port, self.audio = self.port, None, None
        if port is not None:
            port.close()


@contextmanager
def _quiet_stdout():
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        ctypes.CDLL(None).fflush(None)  # pjlib writes through C stdio: empty its buffer into /dev/null
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


class _Account(pj.Account):
    def __init__(self):
        super().__init__()
        self.reg_code, self.reg_reason, self.reg_done = 0, "", False

    def onRegState(self, prm):
        try:
            self.reg_code, self.reg_reason = prm.code, prm.reason
            self.reg_done = True
        except Exception:
            pass


class _Endpoint(pj.Endpoint):
    """Keeps why the last TLS connection was refused: the call itself only learns "verification error"."""

    def __init__(self):
        super().__init__()
        self.cert_problem = ""

    def onTransportState(self, prm):
        try:
            tls = prm.tlsInfo
            if prm.state == pj.PJSIP_TP_STATE_DISCONNECTED and tls.verifyStatus:
                self.cert_problem = "; ".join(tls.verifyMsgs)
        except Exception:
            pass

    def refused(self) -> str:
        """The reason to keep for a call or registration whose TLS connection we refused."""
        return f"{CERT_REFUSED}: {self.cert_problem or 'no detail'}"


class Phone:
    """The pjsua2 endpoint and the supervisor's account. Use as a context manager on one thread."""

    def __init__(self, settings: SipSettings, log_level: int = 0):
        self.settings = settings
        self.log_level = log_level
        self.ep: _Endpoint | None = None
        self.account: _Account | None = None
        self.calls: list[Spy] = []

    def __enter__(self) -> "Phone":
        s = self.settings
        self.ep = _Endpoint()
        with _quiet_stdout():  # libCreate logs at pjlib's default level before any config applies
            self.ep.libCreate()
        try:
            cfg = pj.EpConfig()
            cfg.uaConfig.threadCnt = 0          # callbacks only in the thread that pumps
            cfg.uaConfig.mainThreadOnly = False
            cfg.uaConfig.userAgent = "callaudit"
            cfg.uaConfig.maxCalls = 32
            cfg.logConfig.level = self.log_level  # level ≥ 5 would log SIP messages (hashes, never the password)
            cfg.logConfig.consoleLevel = self.log_level
            cfg.medConfig.clockRate = RATE
            cfg.medConfig.sndClockRate = RATE
            cfg.medConfig.channelCount = 1
            cfg.medConfig.ecTailLen = 0
            cfg.medConfig.noVad = True
            # A deeper jitter buffer than pjsua's default (which starts near empty): a listen-in can afford
            # 60-80 ms, and it rides out bursts (several calls starting at once) without inserting gaps.
            cfg.medConfig.jbInit = 60
            cfg.medConfig.jbMinPre = 60
            cfg.medConfig.jbMaxPre = 240
            cfg.medConfig.jbMax = 500
            self.ep.libInit(cfg)
            tcfg = pj.TransportConfig()
            tcfg.port = s.local_port
            if s.transport == "tls":
                tcfg.tlsConfig.CaListFile = s.tls_ca_file
                tcfg.tlsConfig.verifyServer = s.tls_verify  # also checks that the certificate names host
                tcfg.tlsConfig.proto = pj.PJ_SSL_SOCK_PROTO_TLS1_2 | pj.PJ_SSL_SOCK_PROTO_TLS1_3
            try:
                self.ep.transportCreate(_TRANSPORTS[s.transport], tcfg)
            except pj.Error as e:
                raise CallauditError(f"cannot open a local SIP {s.transport} port {s.local_port or '(any)'}: "
                                     f"{e.reason}: change [sip] local_port") from None
            self.ep.libStart()
            self.ep.audDevManager().setNullDev()  # frames reach Python without a sound card
            self.account = _Account()
            self.account.create(self._account_config())
            if s.register:
                self._wait_registered()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _account_config(self) -> pj.AccountConfig:
        s = self.settings
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{s.user or 'callaudit'}@{s.domain or s.host}"
        if s.register:
            acfg.regConfig.registrarUri = s.uri("").replace("sip:@", "sip:")
            acfg.regConfig.timeoutSec = 300
        if s.user:
            acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", s.user, 0, s.password))
        acfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_INACTIVE  # a PBX refresh must not drop a listen-in
        acfg.mediaConfig.lockCodecEnabled = False
        acfg.mediaConfig.transportConfig.port = 0             # any free RTP port: many sessions at once
        return acfg

    def _wait_registered(self) -> None:
        deadline = time.monotonic() + self.settings.connect_timeout
        while not self.account.reg_done and time.monotonic() < deadline:
            self.ep.libHandleEvents(20)
        code, reason = self.account.reg_code, self.account.reg_reason
        if PJ_CERT_ERROR in reason:
            reason = self.ep.refused()
        if not self.account.reg_done or code // 100 != 2:
            raise SipError("registration failed: " + failure_message(self.settings, "REGISTER", code, reason), code)

    def dial(self, ext: str, mode: str = "listen", mic: Callable[[], bytes | None] | None = None) -> Spy:
        """Start a spy call on extension `ext`; watch it with `pump` and `Spy.ended`."""
        spy = Spy(self, ext, mode, mic)
        prm = pj.CallOpParam(True)
        prm.opt.audioCount, prm.opt.videoCount = 1, 0
        self.calls.append(spy)
        try:
            spy.makeCall(self.settings.uri(spy.number), prm)
        except pj.Error as e:
            spy.ended_at, spy.code, spy.reason, spy.ended_by = time.monotonic(), 0, e.reason, "failed"
        return spy

    def pump(self, ms: int = 10) -> None:
        """Run pjsua's events for up to `ms` and the watchdogs of every call."""
        self.ep.libHandleEvents(ms)
        now = time.monotonic()
        for spy in self.calls:
            spy.watch(now)

    def __exit__(self, *exc) -> None:
        if self.ep is None:
            return
        call = None
        for call in self.calls:
            call.hang_up("us")
        deadline = time.monotonic() + 2.0
        while any(not c.ended for c in self.calls) and time.monotonic() < deadline:
            self.ep.libHandleEvents(20)
        for call in self.calls:
            call.release()
        call = None  # no name may keep a Call alive past libDestroy: that aborts the process
        self.calls.clear()
        self.account = None
        gc.collect()
        self.ep.libDestroy()
        self.ep = None
