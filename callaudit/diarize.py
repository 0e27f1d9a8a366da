"""Who spoke when in a one-channel call: two voices told apart without any model weights.

A ChanSpy listen-in and many recorders deliver both parties mixed into one channel. Inside the
speech that Silero VAD detected, this module finds where the voice changes (the Bayesian
information criterion between neighbouring windows of MFCCs), groups the pieces into two voices
(two-means on their mean cepstra), then refines every boundary by Viterbi resegmentation with one
Gaussian mixture per voice, trained on this very call. numpy only: no network, no hub, no torch.

Spectral clusters of ONE voice can look as separable as two people (what is said, how loudly, a
different recording session), so two voices are claimed only when the clusters also differ in
what a speaker's anatomy fixes, consistently: the one with the longer vocal tract (its long-term
spectrum is a frequency-compressed copy of the other's) also has the lower pitch. Two similar
voices (same sex, similar build) therefore come out as "not told apart" and the caller must not
guess roles: a missing verdict is recoverable, a false fail is not.

Overlaps: each frame of the mix goes to one voice, so where both talk at once the earlier speaker's
turn ends, at the latest, where the other starts. Changes of voice with no pause between them are
reported (`contested`): there an overlap may have happened and its length cannot be measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

RATE = 16000
HOP = 160          # 10 ms frames
WIN = 400          # 25 ms analysis window
FPS = RATE // HOP
N_MFCC = 16


@dataclass(frozen=True)
class Diarization:
    """Speech of each voice in a mono call. Voices are numbered by who spoke first ("S1", "S2")."""

    speakers: int                                      # 0 (no speech), 1 (one voice, or two not told apart), 2
    spans: dict[str, tuple[tuple[float, float], ...]]  # voice -> stretches of speech, seconds
    contested: tuple[float, ...]                       # changes of voice with no pause: overlap possible
    separation: float                                  # 0..1: how surely two different people spoke
    detail: dict = field(default_factory=dict)         # the figures behind the decision, for the call's data


# ---------------------------------------------------------------------------------------- features

def _mel_filters(n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    def mel(f):
        return 2595 * np.log10(1 + np.asarray(f) / 700)

    def hz(m):
        return 700 * (10 ** (np.asarray(m) / 2595) - 1)

    edges = hz(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    freqs = np.fft.rfftfreq(n_fft, 1 / RATE)
    fb = np.zeros((n_mels, len(freqs)), np.float32)
    for i in range(n_mels):
        lo, mid, hi = edges[i:i + 3]
        fb[i] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0, None)
    return fb


_FB = _mel_filters(512, 32, 100.0, 3800.0)  # telephone band: recordings are mostly 8 kHz
_DCT = np.cos(np.pi / 32 * (np.arange(32)[None, :] + 0.5) * np.arange(1, N_MFCC + 1)[:, None]).astype(np.float32)


BLOCK = 6000  # frames per block (60 s): a long call is processed in pieces to keep memory flat


def _blocks(n: int):
    return ((a, min(n, a + BLOCK)) for a in range(0, n, BLOCK))


def mfcc(samples: np.ndarray) -> np.ndarray:
    """(frames, N_MFCC) cepstra without c0 (loudness), one frame per 10 ms."""
    x = np.asarray(samples, np.float32)
    x = np.append(x[:1], x[1:] - 0.97 * x[:-1])
    if len(x) < WIN:
        x = np.pad(x, (0, WIN - len(x)))
    n = 1 + (len(x) - WIN) // HOP
    window = np.hamming(WIN).astype(np.float32)
    out = np.empty((n, N_MFCC), np.float32)
    for a, b in _blocks(n):
        idx = np.arange(WIN)[None, :] + HOP * np.arange(a, b)[:, None]
        spec = np.abs(np.fft.rfft(x[idx] * window, 512)) ** 2
        out[a:b] = np.log(spec @ _FB.T + 1e-8) @ _DCT.T
    return out


def pitch(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F0 in Hz, voicing strength 0..1) per 10 ms frame, from the normalised autocorrelation of
    40 ms windows of the telephone band (60-400 Hz). Pitch is a property of the speaker, not of the
    line, which makes it the check against splitting one voice by what it says or how it was recorded."""
    x = np.asarray(samples, np.float32)[::2]  # 8 kHz: calls are telephone band; halves the work
    hop, win, nfft = HOP // 2, 320, 1024
    if len(x) < win:
        x = np.pad(x, (0, win - len(x)))
    n = 1 + (len(x) - win) // hop
    taper = np.fft.irfft(np.abs(np.fft.rfft(np.hanning(win), nfft)) ** 2, nfft)[:win]
    lo, hi = 8000 // 400, 8000 // 60
    f0, strength = np.empty(n, np.float32), np.empty(n, np.float32)
    for a, b in _blocks(n):
        frames = x[np.arange(win)[None, :] + hop * np.arange(a, b)[:, None]]
        frames = (frames - frames.mean(axis=1, keepdims=True)) * np.hanning(win).astype(np.float32)
        ac = np.fft.irfft(np.abs(np.fft.rfft(frames, nfft)) ** 2, nfft)[:, :win] / (taper[None, :] + 1e-9)
        ac = ac / (ac[:, :1] + 1e-9)
        lag = lo + np.argmax(ac[:, lo:hi], axis=1)
        f0[a:b] = 8000.0 / lag
        strength[a:b] = ac[np.arange(b - a), lag]
    return f0, strength


def _speech_mask(spans: list[tuple[float, float]], n: int) -> np.ndarray:
    mask = np.zeros(n, bool)
    for s, e in spans:
        mask[int(s * FPS):int(np.ceil(e * FPS))] = True
    return mask


# ------------------------------------------------------------------------------- change detection

def _logdet(x: np.ndarray) -> float:
    return float(np.sum(np.log(np.var(x, axis=0) + 1e-3)))


def _delta_bic(a: np.ndarray, b: np.ndarray, penalty: float = 1.0) -> float:
    """> 0 when two stretches of cepstra are better described by two Gaussians than by one."""
    both = np.concatenate([a, b])
    n, d = both.shape
    gain = 0.5 * (n * _logdet(both) - len(a) * _logdet(a) - len(b) * _logdet(b))
    return gain - penalty * 0.5 * 2 * d * np.log(n)


def changes(feats: np.ndarray, window: int = 100, step: int = 10, penalty: float = 2.0) -> list[int]:
    """Frames inside one stretch of speech where the voice most likely changes (BIC peaks)."""
    n = len(feats)
    if n < 2 * 40:
        return []
    scores = []
    for c in range(40, n - 40 + 1, step):
        a, b = feats[max(0, c - window):c], feats[c:c + window]
        scores.append((c, _delta_bic(a, b, penalty)))
    out: list[int] = []
    for c, s in sorted(scores, key=lambda cs: -cs[1]):
        if s <= 0:
            break
        if all(abs(c - o) >= 50 for o in out):
            out.append(c)
    return sorted(out)


def segments(feats: np.ndarray, mask: np.ndarray, longest: int = 200, penalty: float = 2.0) -> list[tuple[int, int]]:
    """Stretches of speech (frame ranges) cut at voice changes and at most `longest` frames long."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    out = []
    for s, e in zip(edges[::2], edges[1::2]):
        cuts = [s] + [s + c for c in changes(feats[s:e], penalty=penalty)] + [e]
        for a, b in zip(cuts, cuts[1:]):
            pieces = max(1, int(np.ceil((b - a) / longest)))
            bounds = np.linspace(a, b, pieces + 1).astype(int)
            out.extend((int(x), int(y)) for x, y in zip(bounds, bounds[1:]) if y - x >= 10)
    return out


# ------------------------------------------------------------------------------------- clustering

def kmeans2(feats: np.ndarray, segs: list[tuple[int, int]], restarts: int = 10) -> np.ndarray:
    """Two-means on the segments' mean cepstra (weighted by length); the best of several starts."""
    emb = np.array([feats[a:b].mean(axis=0) for a, b in segs])
    w = np.array([b - a for a, b in segs], float)
    rng = np.random.default_rng(0)
    best, best_cost = np.zeros(len(segs), int), np.inf
    for _ in range(restarts):
        c = emb[rng.choice(len(emb), 2, replace=False)]
        for _ in range(30):
            d = ((emb[:, None, :] - c[None]) ** 2).sum(axis=2)
            lab = d.argmin(axis=1)
            if min((lab == k).sum() for k in (0, 1)) == 0:
                break
            c = np.array([np.average(emb[lab == k], axis=0, weights=w[lab == k]) for k in (0, 1)])
        cost = float((w * d[np.arange(len(emb)), lab]).sum())
        if cost < best_cost and min((lab == k).sum() for k in (0, 1)) > 0:
            best, best_cost = lab, cost
    return best


# ------------------------------------------------------------------------------------------ GMMs

class GMM:
    """A diagonal-covariance Gaussian mixture, fitted by EM (enough for one voice's cepstra)."""

    def __init__(self, x: np.ndarray, k: int = 8, iters: int = 12, seed: int = 0):
        k = max(1, min(k, len(x) // 40))
        rng = np.random.default_rng(seed)
        self.mu = x[rng.choice(len(x), k, replace=False)].astype(np.float64)
        floor = 0.01 * np.var(x, axis=0) + 1e-4
        self.var = np.tile(np.var(x, axis=0) + 1e-4, (k, 1))
        self.w = np.full(k, 1.0 / k)
        for _ in range(iters):
            r = self._resp(x)
            nk = r.sum(axis=0) + 1e-9
            self.w = nk / nk.sum()
            self.mu = (r.T @ x) / nk[:, None]
            self.var = np.maximum((r.T @ (x * x)) / nk[:, None] - self.mu ** 2, floor)

    def _comp(self, x: np.ndarray) -> np.ndarray:
        """Per frame and component: log weight + log density, via the expanded square (no frames x
        components x dimensions array, so an hour-long call stays small)."""
        prec = 1.0 / self.var
        const = np.log(self.w) - 0.5 * (np.sum(np.log(2 * np.pi * self.var), axis=1)
                                        + np.sum(self.mu ** 2 * prec, axis=1))
        return const[None, :] - 0.5 * ((x * x) @ prec.T) + x @ (self.mu * prec).T

    def _resp(self, x: np.ndarray) -> np.ndarray:
        ll = self._comp(x)
        ll -= ll.max(axis=1, keepdims=True)
        r = np.exp(ll)
        return r / r.sum(axis=1, keepdims=True)

    def score(self, x: np.ndarray) -> np.ndarray:
        """Log-likelihood of each frame."""
        ll = self._comp(x)
        m = ll.max(axis=1, keepdims=True)
        return (m + np.log(np.exp(ll - m).sum(axis=1, keepdims=True)))[:, 0]


def viterbi(ll: np.ndarray, switch: float) -> np.ndarray:
    """Best state per frame for (frames, states) log-likelihoods, paying `switch` for each change."""
    n, k = ll.shape
    back = np.zeros((n, k), np.int8)
    score = ll[0].copy()
    for t in range(1, n):
        stay = score
        best_other = score.max() - switch
        arg = int(score.argmax())
        move = np.where(stay >= best_other, np.arange(k), arg)
        score = np.maximum(stay, best_other) + ll[t]
        back[t] = move
    path = np.zeros(n, int)
    path[-1] = int(score.argmax())
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


# ------------------------------------------------------------------------------- two people or one?

def _runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """(start, end, label) of each run of equal labels, skipping -1 (no speech)."""
    edges = np.flatnonzero(np.diff(labels)) + 1
    starts, ends = np.concatenate([[0], edges]), np.concatenate([edges, [len(labels)]])
    return [(int(s), int(e), int(labels[s])) for s, e in zip(starts, ends) if labels[s] >= 0]


def heldout_agreement(f: np.ndarray, labels: np.ndarray) -> float:
    """Share of speech (pieces of <= 1.5 s) that models trained on the other pieces give to its own
    voice: two folds by alternate pieces, so no piece judges itself."""
    pieces = []
    for s, e, lab in _runs(labels):
        bounds = np.linspace(s, e, max(1, (e - s) // 150) + 1).astype(int)
        pieces.extend((int(a), int(b), lab) for a, b in zip(bounds, bounds[1:]) if b - a >= 20)
    won = total = 0
    for k in (0, 1):
        train = [p for i, p in enumerate(pieces) if i % 2 != k]
        frames = [[f[a:b] for a, b, lab in train if lab == c] for c in (0, 1)]
        if min(sum(len(x) for x in fr) for fr in frames) < 60:
            return 0.0
        models = [GMM(np.concatenate(fr), k=4) for fr in frames]
        for a, b, lab in (p for i, p in enumerate(pieces) if i % 2 == k):
            own, other = (models[c].score(f[a:b]).mean() for c in (lab, 1 - lab))
            won += (b - a) * (own > other)
            total += b - a
    return won / max(total, 1)


def _ltas(samples: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Long-term average log spectrum (512-point, 16 kHz) of the given 10 ms frames, each weighted alike."""
    idx = np.arange(WIN)[None, :] + HOP * frames[:, None]
    power = np.abs(np.fft.rfft(samples[idx] * np.hamming(WIN).astype(np.float32), 512)) ** 2
    return np.log((power / (power.sum(axis=1, keepdims=True) + 1e-12)).mean(axis=0) + 1e-10)


_FREQS = np.fft.rfftfreq(512, 1 / RATE)
_BAND = (_FREQS > 200) & (_FREQS < 3400)
_TILT = np.vstack([np.ones(_BAND.sum()), _FREQS[_BAND]]).T


def spectral_scale(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(semitones, correlation): how far voice b's long-term spectrum is shifted in log-frequency
    against voice a's (negative: b's formants lower, a longer vocal tract). A linear tilt, which a
    telephone line adds, is removed before comparing."""
    def flat(x):
        y = x[_BAND]
        return y - _TILT @ np.linalg.lstsq(_TILT, y, rcond=None)[0]

    ref = flat(a)
    best = (0.0, -1.0)
    for semis in np.arange(-7.0, 7.01, 0.2):
        warped = flat(np.interp(_FREQS * 2 ** (semis / 12), _FREQS, b))
        c = float(np.corrcoef(ref, warped)[0, 1])
        if c > best[1]:
            best = (round(float(semis), 2), c)
    return best


def _voice_check(samples: np.ndarray, f: np.ndarray, labels: np.ndarray) -> tuple[float, dict]:
    """Separation 0..1 that the two clusters are two different people, and the figures behind it."""
    f0, voicing = pitch(samples)
    n = min(len(f0), len(labels), 1 + max(0, len(samples) - WIN) // HOP)
    voiced = [np.flatnonzero((labels[:n] == c) & (voicing[:n] > 0.6)) for c in (0, 1)]
    detail = {"voiced_seconds": [round(len(v) / FPS, 1) for v in voiced]}
    if min(len(v) for v in voiced) < 2 * FPS:
        return 0.0, {**detail, "why": "less than 2 s of voiced speech in one of the voices"}
    pitch_st = float(np.median(np.log2(f0[voiced[1]])) - np.median(np.log2(f0[voiced[0]]))) * 12
    scale_st, corr = spectral_scale(_ltas(samples, voiced[0]), _ltas(samples, voiced[1]))
    agreement = float(heldout_agreement(f, labels))
    detail.update(pitch_semitones=round(pitch_st, 2), formant_semitones=scale_st,
                  spectrum_match=round(corr, 3), heldout_agreement=round(agreement, 3))
    if agreement < 0.75:
        return 0.0, {**detail, "why": "the two clusters do not hold up on held-out speech"}
    if corr < 0.8:
        return 0.0, {**detail, "why": "the long-term spectra are too unlike to compare"}
    if pitch_st * scale_st <= 0:
        return 0.0, {**detail, "why": "pitch and formants do not differ the same way: one voice, split by content"}
    # Under a semitone apart is within one person's range across a call; 2.5 is a different person.
    return float(np.clip((min(abs(pitch_st), abs(scale_st)) - 0.75) / 1.75, 0.0, 1.0)), detail


# ------------------------------------------------------------------------------------------ the method

def _spans_of(on: np.ndarray) -> tuple[tuple[float, float], ...]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], on.astype(np.int8), [0]])))
    return tuple((round(float(s) / FPS, 2), round(float(e) / FPS, 2)) for s, e in zip(edges[::2], edges[1::2]))


def _absorb_short(labels: np.ndarray, s: int, e: int, shortest: int = 40) -> None:
    """Inside one stretch of unbroken speech, a run of under 0.4 s between or beside runs of the
    other voice is nearly always a misheard onset (the hiss of an "s"), not a turn: give it to the
    longer neighbour. A short reply on its own (a "yes" between pauses) is a stretch of its own."""
    while True:
        runs = _runs(labels[s:e])
        if len(runs) < 2:
            return
        k = min(range(len(runs)), key=lambda i: runs[i][1] - runs[i][0])
        a, b, _ = runs[k]
        if b - a >= shortest:
            return
        neighbours = [runs[i] for i in (k - 1, k + 1) if 0 <= i < len(runs)]
        labels[s + a:s + b] = max(neighbours, key=lambda r: r[1] - r[0])[2]


def diarize(samples: np.ndarray, spans: list[tuple[float, float]], min_separation: float = 0.25,
            switch: float = 30.0) -> Diarization:
    """Tell apart the voices of a mono call (16 kHz float32) inside its detected speech `spans`.

    Two voices are reported only when their separation reaches `min_separation`; otherwise all
    speech is one voice "S1" and `detail["why"]` says why. `switch` is the log-likelihood a change
    of voice costs in the Viterbi pass (higher: fewer, longer turns)."""
    samples = np.asarray(samples, np.float32)
    feats = mfcc(samples)
    mask = _speech_mask(spans, len(feats))
    speech_s = float(mask.sum()) / FPS
    detail: dict = {"method": "mfcc-bic-kmeans-gmm-viterbi", "speech_seconds": round(speech_s, 2)}
    if speech_s < 0.3:
        return Diarization(0, {}, (), 0.0, {**detail, "why": "no speech"})
    one = Diarization(1, {"S1": _spans_of(mask)}, (), 0.0, detail)
    f = (feats - feats[mask].mean(axis=0)) / (feats[mask].std(axis=0) + 1e-6)
    segs = segments(f, mask)
    if len(segs) < 2:
        return Diarization(1, one.spans, (), 0.0, {**detail, "why": "too little speech to compare voices"})
    labels = np.full(len(f), -1)
    for (a, b), lab in zip(segs, kmeans2(f, segs)):
        labels[a:b] = lab
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    stretches = list(zip(edges[::2], edges[1::2]))
    for _ in range(3):
        if min((labels == c).sum() for c in (0, 1)) < 60:
            break
        models = [GMM(f[labels == c]) for c in (0, 1)]
        for s, e in stretches:
            labels[s:e] = viterbi(np.stack([m.score(f[s:e]) for m in models], axis=1), switch)
            _absorb_short(labels, s, e)
    separation, why = _voice_check(samples, f, labels)
    detail.update(why)
    detail["separation"] = round(separation, 3)
    if separation < min_separation:
        detail.setdefault("why", f"separation {separation:.2f} below {min_separation:g}")
        return Diarization(1, one.spans, (), round(separation, 3), detail)
    first = {c: int(np.flatnonzero(labels == c)[0]) for c in (0, 1)}
    order = sorted((0, 1), key=first.get)
    voices = {f"S{i + 1}": _spans_of(labels == c) for i, c in enumerate(order)}
    contested = tuple(round(float(s) / FPS, 2) for a, b in stretches
                      for s in (np.flatnonzero(np.diff(labels[a:b])) + 1 + a))
    return Diarization(2, voices, contested, round(separation, 3), detail)
