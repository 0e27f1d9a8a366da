"""The recording and its clips, as the browser plays them: a WAV with the masked numbers silenced (as in
the reports' clips), served with HTTP range requests so that the player can seek."""

from __future__ import annotations

import io
import re
import threading
import wave
from collections import OrderedDict

import numpy as np
from starlette.responses import Response

from callaudit.audio import decode
from callaudit.errors import CallauditError
from callaudit.reports.redact import Redactor
from callaudit.store.schema import CallRow, ScoreRow

RATE = 8000  # the telephone band: half the bytes of 16 kHz, nothing lost
CLIP_BEFORE, CLIP_AFTER = 2.0, 12.0
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_cache: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
_lock = threading.Lock()
CACHED = 8


def _wav(samples: np.ndarray) -> bytes:
    """(channels, n) float samples at RATE as 16-bit PCM WAV bytes."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(pcm.shape[0])
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.T.tobytes())
    return buf.getvalue()


def samples(call: CallRow, score: ScoreRow, redactor: Redactor) -> np.ndarray:
    """The call's channels at 8 kHz with every masked number silenced; the file must still be the one
    that was scored (same sha256), else CallauditError."""
    key = (call.sha256, score.id)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    rec = decode.load(call.path)
    if rec.sha256 != call.sha256:
        raise CallauditError(f"{call.path} has changed since it was scored (sha256 differs)")
    x = rec.channels[:, : rec.channels.shape[1] // 2 * 2]
    x = x.reshape(x.shape[0], -1, 2).mean(axis=2)  # 16 -> 8 kHz
    for turn in score.turns:
        for a, b in redactor.word_spans([(w.start, w.end, w.text) for w in turn.words]):
            x[:, int(a * RATE):int(b * RATE) + 1] = 0.0
    with _lock:
        _cache[key] = x
        while len(_cache) > CACHED:
            _cache.popitem(last=False)
    return x


def recording(call: CallRow, score: ScoreRow, redactor: Redactor) -> bytes:
    return _wav(samples(call, score, redactor))


def clip(call: CallRow, score: ScoreRow, redactor: Redactor, at: float) -> bytes:
    x = samples(call, score, redactor)
    start = max(0, int((at - CLIP_BEFORE) * RATE))
    return _wav(x[:, start:int((at + CLIP_AFTER) * RATE)])


def ranged(body: bytes, range_header: str | None, filename: str) -> tuple[Response, bool]:
    """A 200 or 206 response for `body` as the Range header asks; and whether it starts at byte 0 (a new
    opening of the recording, as opposed to the player fetching further on while it seeks)."""
    size = len(body)
    headers = {"accept-ranges": "bytes", "content-disposition": f'inline; filename="{filename}"',
               "cache-control": "private, no-store"}
    m = _RANGE.match((range_header or "").strip())
    if not range_header or not m or (not m.group(1) and not m.group(2)):
        return Response(body, 200, headers, media_type="audio/wav"), True
    if m.group(1):
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    else:  # bytes=-N: the last N bytes
        start, end = max(0, size - int(m.group(2))), size - 1
    if start >= size or start > end:
        return Response(b"", 416, {**headers, "content-range": f"bytes */{size}"}), False
    headers["content-range"] = f"bytes {start}-{end}/{size}"
    return Response(body[start:end + 1], 206, headers, media_type="audio/wav"), start == 0
