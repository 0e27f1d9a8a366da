"""Local audio for a listen-in: the recording on disk, the supervisor's headset and microphone.

The recording is written as the frames arrive, so a crash or a killed process still leaves the call on
disk: the header says "length unknown" until the file is closed, and readers take such a file to its end.
Only the supervisor may read it (mode 0600): a call recording holds a customer's personal data.
"""

from __future__ import annotations

import os
import struct
import wave
from collections import deque
from pathlib import Path

import numpy as np

from callaudit.digest import sha256_of
from callaudit.errors import CallauditError

RATE = 8000
FRAME_BYTES = RATE // 50 * 2  # 20 ms, 16-bit mono
PREBUFFER = 10                # frames (200 ms) queued before the headset plays: rides out start-up bursts


class WavWriter:
    """A 16-bit mono WAV written frame by frame, created with mode 0600; `close()` returns its sha256."""

    def __init__(self, path: Path, rate: int = RATE):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise CallauditError(f"{self.path}: a recording of that name exists already; not overwriting") from None
        except OSError as e:
            raise CallauditError(f"cannot create recording {self.path}: {e.strerror}: check [listen] recordings") \
                from None
        os.fchmod(fd, 0o600)  # whatever the umask says
        self.file = os.fdopen(fd, "wb")
        self.rate = rate
        self.bytes = 0
        # 0xFFFFFFFF sizes: a streaming header, valid while the file grows and after a crash.
        self.file.write(b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVEfmt " +
                        struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data" +
                        struct.pack("<I", 0xFFFFFFFF))

    @property
    def duration(self) -> float:
        return self.bytes / 2 / self.rate

    def write(self, pcm: bytes) -> None:
        self.file.write(pcm)
        self.bytes += len(pcm)

    def close(self) -> str:
        """Finalise the header and return the file's sha256."""
        if not self.file.closed:
            self.file.seek(4)
            self.file.write(struct.pack("<I", 36 + self.bytes))
            self.file.seek(40)
            self.file.write(struct.pack("<I", self.bytes))
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
        return sha256_of(self.path)


class FileMic:
    """A WAV file played into the call as if spoken into the microphone (announcements, tests)."""

    def __init__(self, path: Path):
        try:
            with wave.open(str(path)) as w:
                if w.getframerate() != RATE or w.getsampwidth() != 2 or w.getnchannels() != 1:
                    raise CallauditError(f"{path}: the microphone file must be 8 kHz 16-bit mono WAV "
                                         f"(sox IN -r 8000 -c 1 -b 16 OUT.wav)")
                data = w.readframes(w.getnframes())
        except (OSError, wave.Error, EOFError) as e:
            raise CallauditError(f"{path}: cannot read the microphone file: {e}") from None
        self.frames = deque(data[i:i + FRAME_BYTES] for i in range(0, len(data) - FRAME_BYTES + 1, FRAME_BYTES))

    def __call__(self) -> bytes | None:  # pjmedia clock thread
        try:
            return self.frames.popleft()
        except IndexError:
            return None


def _sounddevice():
    try:
        import sounddevice
    except OSError:
        raise CallauditError("no audio: the PortAudio library is missing (apt-get install libportaudio2); "
                             "or use --no-audio to record without listening") from None
    return sounddevice


class Headset:
    """The supervisor's headset through sounddevice: `play(pcm)` queues call audio; `mic()` gives 20 ms of
    the microphone (opened only for whisper/barge). Refuses at once, in one line, when there is no device."""

    def __init__(self, need_mic: bool = False):
        sd = _sounddevice()
        self.sd = sd
        try:
            sd.query_devices(kind="output")
        except Exception:
            raise CallauditError("no audio output device (headset) found: plug one in, or use --no-audio "
                                 "to record without listening") from None
        self.out: deque[bytes] = deque(maxlen=50)  # 1 s; older audio is dropped rather than played late
        self.inp: deque[bytes] = deque(maxlen=10)
        self._pending = b""
        self._playing = False
        try:
            self.player = sd.RawOutputStream(samplerate=RATE, channels=1, dtype="int16", blocksize=160,
                                             latency=0.06, callback=self._play)
            self.player.start()
        except Exception as e:
            raise CallauditError(f"cannot open the headset: {e}: check the sound settings, or use --no-audio") \
                from None
        self.recorder = None
        if need_mic:
            self.open_mic()

    def open_mic(self) -> None:
        if self.recorder is not None:
            return
        try:
            self.sd.query_devices(kind="input")
            self.recorder = self.sd.RawInputStream(samplerate=RATE, channels=1, dtype="int16", blocksize=160,
                                                   latency="low", callback=self._hear)
            self.recorder.start()
        except Exception:
            self.recorder = None
            raise CallauditError("no microphone found: whisper and barge need one (or --mic-file)") from None

    def _play(self, outdata, frames, time_info, status) -> None:
        # Frames come from the network in bursts: play only with PREBUFFER frames in hand, and after
        # running dry wait for them again, so that jitter costs one pause rather than a crackle per frame.
        need = len(outdata)
        buf = self._pending
        self._playing = self._playing or len(self.out) >= PREBUFFER
        while len(buf) < need and self.out and self._playing:
            buf += self.out.popleft()
        if len(buf) < need:
            self._playing = False
        outdata[:] = buf[:need].ljust(need, b"\0")
        self._pending = buf[need:]

    def _hear(self, indata, frames, time_info, status) -> None:
        self.inp.append(bytes(indata))

    def play(self, pcm: bytes) -> None:
        self.out.append(pcm)

    def mic(self) -> bytes | None:
        try:
            data = self.inp.popleft()
        except IndexError:
            return None
        return data if len(data) == FRAME_BYTES else None

    def close(self) -> None:
        for stream in (self.player, self.recorder):
            if stream is not None:
                try:
                    stream.stop()
                    stream.close()
                except Exception:
                    pass


def pcm_to_float(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
