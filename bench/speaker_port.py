"""Proves the numpy GE2E port (callaudit/audio/embeddings.py) against the reference network in torch.

    python3 -m venv /tmp/ref && /tmp/ref/bin/pip install torch==2.13.0 librosa numpy
    /tmp/ref/bin/python bench/speaker_port.py [--wheel Resemblyzer-0.1.4-py3-none-any.whl] [--write]

torch and librosa live in that throw-away environment only: callaudit never needs them. The
reference is Resemblyzer's VoiceEncoder as its voice_encoder.py defines it (nn.LSTM(40, 256, 3,
batch_first=True) -> Linear(256, 256) -> ReLU -> L2 norm, weights by torch.load of the wheel's
pretrained.pt) and its front end (librosa.feature.melspectrogram, n_fft 400, hop 160, 40 mels).
The input is real telephone speech: Asterisk prompts (8 kHz) brought to 16 kHz, as callaudit
decodes a recording. Prints, per window and overall:
  network    cosine of the port's and torch's embeddings on the same mel input
  front end  largest relative difference of the port's mel frames from librosa's
  both       cosine when each side uses its own front end and network
--write stores the inputs and torch's (and librosa's) outputs in tests/data/ge2e_reference.npz, which
tests/test_embeddings.py checks the port against where torch is absent (no weights in it).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import wave
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callaudit.audio import embeddings  # noqa: E402
from callaudit.torchfile import ge2e_arrays, load_checkpoint  # noqa: E402

PROMPTS = [("en", "hello"), ("en", "queue-thankyou"), ("en", "something-terribly-wrong"),
           ("ru", "hello"), ("ru", "vm-dialout"), ("ru", "sorry-youre-having-problems")]


def speech(lang: str, name: str) -> np.ndarray:
    with wave.open(f"/usr/share/asterisk/sounds/{lang}/{name}.wav") as w:
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
    # 8 -> 16 kHz by FFT zero-padding: a clean band-limited interpolation, like a decoder's.
    spec = np.fft.rfft(x)
    return (np.fft.irfft(np.concatenate([spec, np.zeros(len(x) // 2, complex)]), 2 * len(x)) * 2).astype(np.float32)


def wheel_path(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    tmp = Path(tempfile.mkdtemp(prefix="ge2e-wheel-"))
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(tmp),
                    "resemblyzer==0.1.4"], check=True)
    return next(tmp.glob("*.whl"))


def main() -> None:
    import librosa
    import torch
    from torch import nn

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wheel")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    with zipfile.ZipFile(wheel_path(args.wheel)) as z:
        pt = z.read("resemblyzer/pretrained.pt")
    with tempfile.NamedTemporaryFile(suffix=".pt") as f:
        f.write(pt)
        f.flush()
        state = torch.load(f.name, map_location="cpu", weights_only=False)["model_state"]

    class VoiceEncoder(nn.Module):  # resemblyzer/voice_encoder.py, the network part
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(40, 256, 3, batch_first=True)
            self.linear = nn.Linear(256, 256)
            self.relu = nn.ReLU()

        def forward(self, mels):
            _, (hidden, _) = self.lstm(mels)
            raw = self.relu(self.linear(hidden[-1]))
            return raw / torch.norm(raw, dim=1, keepdim=True)

    ref = VoiceEncoder()
    ref.load_state_dict(state, strict=False)
    ref.eval()
    port = embeddings.from_arrays(ge2e_arrays(load_checkpoint(pt)))

    mels_port, mels_ref = [], []
    worst_mel = 0.0
    for lang, name in PROMPTS:
        x = speech(lang, name)
        x = x * np.sqrt(embeddings.level_gain(x))
        lib = librosa.feature.melspectrogram(y=x, sr=16000, n_fft=400, hop_length=160, n_mels=40).astype(np.float32).T
        mine = embeddings.mel_frames(x)
        assert lib.shape == mine.shape, (lib.shape, mine.shape)
        worst_mel = max(worst_mel, float(np.abs(lib - mine).max() / (np.abs(lib).max() + 1e-12)))
        # Windows of 160 frames from the start and the end of the prompt (padded when shorter).
        for m in (lib, mine):
            m2 = np.pad(m, ((0, max(0, embeddings.PARTIAL - len(m))), (0, 0)))
            (mels_ref if m is lib else mels_port).extend([m2[:embeddings.PARTIAL], m2[-embeddings.PARTIAL:]])
    mels_ref, mels_port = np.stack(mels_ref), np.stack(mels_port)
    with torch.no_grad():
        t0 = time.perf_counter()
        e_ref = ref(torch.from_numpy(mels_ref)).numpy()
        t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    e_net = port.embed(mels_ref)
    t_port = time.perf_counter() - t0
    e_both = port.embed(mels_port)
    net = (e_ref * e_net).sum(axis=1)
    both = (e_ref * e_both).sum(axis=1)
    print(f"{len(mels_ref)} windows of 1.6 s, real Asterisk speech (en, ru) at 8 kHz -> 16 kHz")
    print(f"network   cosine(port, torch) on the same mels: min {net.min():.6f}  mean {net.mean():.6f}")
    print(f"          max |difference| of an embedding component: {np.abs(e_ref - e_net).max():.2e}")
    print(f"front end max |mel port - librosa| / max mel: {worst_mel:.2e}")
    print(f"both      cosine(port with its mels, torch with librosa's): min {both.min():.6f}")
    print(f"speed     1 thread: torch {t_ref / len(mels_ref) * 1000:.1f} ms, numpy {t_port / len(mels_ref) * 1000:.1f} "
          "ms per window")
    if args.write:
        out = ROOT / "tests/data/ge2e_reference.npz"
        out.parent.mkdir(parents=True, exist_ok=True)
        x = speech("en", "hello")
        lib = librosa.feature.melspectrogram(y=x, sr=16000, n_fft=400, hop_length=160, n_mels=40).astype(np.float32).T
        np.savez_compressed(out, mels=mels_ref[::3], embeddings=e_ref[::3], samples=x, librosa_mel=lib)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
