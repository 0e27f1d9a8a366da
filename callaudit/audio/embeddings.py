"""Speaker embeddings with a pretrained network, in numpy: no torch at run time.

The network is GE2E (Wan et al. 2018) as trained and published by Resemblyzer 0.1.4: a 40-band
mel spectrogram (25 ms windows every 10 ms at 16 kHz, power, not log) goes through three LSTM
layers of 256; the last hidden state goes through a linear layer, ReLU and L2 normalisation
into a 256-dimensional voice print of 1.6 s of speech. This module reimplements the front end
(librosa's Slaney mel filterbank, centred zero-padded STFT) and the network with numpy matrix
products, from the weights that `callaudit models install speaker-ge2e` converts out of the
wheel. bench/speaker_port.py proves it against the reference network in torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from callaudit.errors import CallauditError

RATE = 16000
N_FFT = 400          # 25 ms
HOP = 160            # 10 ms: one mel frame per 10 ms, the diarizer's frame too
N_MELS = 40
PARTIAL = 160        # frames in one embedding window (1.6 s), what the network was trained on
TARGET_DBFS = -30.0  # Resemblyzer levels every utterance to this before its spectrogram
LAYERS = 3
WEIGHTS = "ge2e.npz"


def _hz_to_mel(f):
    """Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, np.float64)
    logstep = np.log(6.4) / 27.0
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / logstep, f * 3.0 / 200.0)


def _mel_to_hz(m):
    m = np.asarray(m, np.float64)
    logstep = np.log(6.4) / 27.0
    return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), m * 200.0 / 3.0)


@lru_cache(maxsize=1)
def mel_filters() -> np.ndarray:
    """(40, 201) triangles with Slaney area normalisation, as librosa.filters.mel(sr=16000, n_fft=400)."""
    fft_f = np.fft.rfftfreq(N_FFT, 1.0 / RATE)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(RATE / 2), N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_f[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    return weights.astype(np.float32)


def mel_frames(samples: np.ndarray, block: int = 6000) -> np.ndarray:
    """(frames, 40) mel power spectrogram of 16 kHz samples, frame i centred on sample 160 i
    (librosa.feature.melspectrogram with Resemblyzer's settings), computed in blocks so that an
    hour-long call keeps memory flat."""
    x = np.pad(np.asarray(samples, np.float32), N_FFT // 2)
    n = 1 + (len(x) - N_FFT) // HOP
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hann
    fb = mel_filters()
    out = np.empty((n, N_MELS), np.float32)
    for a in range(0, n, block):
        b = min(n, a + block)
        idx = np.arange(N_FFT)[None, :] + HOP * np.arange(a, b)[:, None]
        power = np.abs(np.fft.rfft(x[idx] * window, N_FFT)) ** 2
        out[a:b] = power.astype(np.float32) @ fb.T
    return out


def level_gain(samples: np.ndarray) -> float:
    """The power gain that brings speech up to TARGET_DBFS (never down, as Resemblyzer does)."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) + 1e-9
    change_db = TARGET_DBFS - 20 * np.log10(rms)
    return float(10 ** (max(change_db, 0.0) / 10))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow for large negative inputs, unlike 1/(1+e^-x)


@dataclass(frozen=True)
class SpeakerEncoder:
    """The GE2E network's weights: per LSTM layer (W_ih, W_hh, b_ih + b_hh), then the linear layer."""

    lstm: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]
    linear_w: np.ndarray
    linear_b: np.ndarray
    source: str = ""

    def embed(self, mels: np.ndarray | list[np.ndarray], batch: int = 96) -> np.ndarray:
        """(windows, 256) L2-normed embeddings of mel spectrograms: a (windows, frames, 40) array,
        or a list of (frames_i, 40) arrays of different lengths."""
        seqs = list(mels) if isinstance(mels, list) else list(np.asarray(mels, np.float32))
        if any(m.ndim != 2 or m.shape[1] != N_MELS or len(m) == 0 for m in seqs):
            raise ValueError(f"expected mel spectrograms of shape (frames, {N_MELS})")
        out = np.empty((len(seqs), self.linear_w.shape[0]), np.float32)
        for a in range(0, len(seqs), batch):
            part = seqs[a:a + batch]
            longest = max(len(m) for m in part)
            # Windows of different lengths share one pass: each is right-aligned and its state held
            # at zero until its first frame, which is exactly a fresh run of its own length.
            x = np.zeros((len(part), longest, N_MELS), np.float32)
            starts = np.array([longest - len(m) for m in part])
            for i, m in enumerate(part):
                x[i, starts[i]:] = m
            out[a:a + batch] = self._forward(x, starts)
        return out

    def _forward(self, x: np.ndarray, starts: np.ndarray) -> np.ndarray:
        b, t, _ = x.shape
        seq = x
        for w_ih, w_hh, bias in self.lstm:
            hidden = w_hh.shape[1]
            # The input's share of every gate for all time steps in one product; only the
            # recurrent part has to walk the sequence.
            gates_in = (seq.reshape(b * t, -1) @ w_ih.T + bias).reshape(b, t, 4 * hidden)
            h = np.zeros((b, hidden), np.float32)
            c = np.zeros((b, hidden), np.float32)
            outs = np.empty((b, t, hidden), np.float32)
            w_hh_t = np.ascontiguousarray(w_hh.T)
            for k in range(t):
                g = gates_in[:, k] + h @ w_hh_t
                i, f = _sigmoid(g[:, :hidden]), _sigmoid(g[:, hidden:2 * hidden])
                cell, o = np.tanh(g[:, 2 * hidden:3 * hidden]), _sigmoid(g[:, 3 * hidden:])
                c = f * c + i * cell
                h = o * np.tanh(c)
                if k < starts.max():
                    waiting = (starts > k)[:, None]
                    c, h = np.where(waiting, 0.0, c), np.where(waiting, 0.0, h)
                outs[:, k] = h
            seq = outs
        raw = np.maximum(h @ self.linear_w.T + self.linear_b, 0.0)
        return raw / (np.linalg.norm(raw, axis=1, keepdims=True) + 1e-9)


def load(folder: Path) -> SpeakerEncoder:
    """The encoder from an installed speaker model folder (models/speaker-ge2e)."""
    path = Path(folder) / WEIGHTS
    if not path.is_file():
        raise CallauditError(f"speaker model weights {path} are missing: run `callaudit models install speaker-ge2e`")
    with np.load(path, allow_pickle=False) as z:
        w = {k: z[k] for k in z.files}
    try:
        return from_arrays(w, str(path))
    except KeyError as e:
        raise CallauditError(f"{path} is not a GE2E speaker model (no {e.args[0]}): "
                             "run `callaudit models install speaker-ge2e` again") from None


def from_arrays(w: dict[str, np.ndarray], source: str = "") -> SpeakerEncoder:
    """The encoder from the checkpoint's tensors by their torch names (lstm.weight_ih_l0, ...)."""
    w = {k: np.asarray(v, np.float32) for k, v in w.items()}
    lstm = tuple((w[f"lstm.weight_ih_l{k}"], w[f"lstm.weight_hh_l{k}"],
                  w[f"lstm.bias_ih_l{k}"] + w[f"lstm.bias_hh_l{k}"]) for k in range(LAYERS))
    return SpeakerEncoder(lstm, w["linear.weight"], w["linear.bias"], source)


