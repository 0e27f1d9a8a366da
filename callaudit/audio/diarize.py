"""Who spoke when in a one-channel call: two voices told apart by a pretrained speaker model.

A ChanSpy listen-in and most recorders (MixMonitor, FreePBX) deliver both parties mixed into one
channel. Inside the speech that Silero VAD detected, every stretch of speech is cut into windows
(1.6 s, every 0.5 s; a shorter stretch is one window of its own length), and each window gets a
voice print from GE2E (callaudit/audio/embeddings.py, weights from `callaudit models install
speaker-ge2e`). The call's mean print is subtracted (what the line, the codec and the language
add to every window alike), the windows are grouped into two voices, and every 10 ms frame of
speech is given to a voice by the windows that cover it, with a cost for each change of voice
(Viterbi), so that a voice changes at turns, not inside words.

Two people or one? On narrowband audio even different speakers' prints are similar (cosine
0.5-0.7), so no fixed threshold on a cosine is used. Instead the two groups are compared with
themselves: windows of one person are about as like each other as the two groups' centres are
(one voice split by what it says), while two people's centres lie further apart than the spread
of either group. The more different the voices, the surer the answer: strong differences are
evidence of two speakers, never a reason to give up. Two voices too alike to tell apart come out
as one voice with the reason, and the caller must not guess roles: a missing verdict is
recoverable, a false fail is not.

Overlaps: each frame goes to one voice, so where both talk at once the earlier speaker's turn
ends, at the latest, where the other starts. Where an overlap may have happened (a change of
voice with no or almost no pause, a window that sounds like neither voice alone) the time is
reported (`contested`): there words may be lost and the overlap's length cannot be measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from callaudit.audio.embeddings import HOP, PARTIAL, SpeakerEncoder, level_gain, mel_frames

RATE = 16000
FPS = RATE // HOP          # 100 frames per second
WINDOW_HOP = 50            # frames between windows inside a long stretch (0.5 s)
SHORTEST_WINDOW = 30       # frames: a stretch shorter than 0.3 s gets its voice from its neighbours
# Separation: (within - between) of the two groups' pairs of prints, mapped onto 0..1. One voice
# split in two gave +0.035..+0.067 on the test calls (the same recording on both sides, one
# speaker alone, one semitone apart, with and without overlaps); two different voices
# +0.127..+0.22 (pitch-shifted and TTS pairs, with and without a phone line; bench/diarize.py).
# Between the two: not sure, so one voice and the roles left open.
ONE_VOICE_MARGIN, TWO_VOICES_MARGIN = 0.08, 0.11
QUICK_TAKEOVER = 0.4       # s: a change of voice across a shorter pause may hide an overlap
WEAK_WINDOW = 0.4          # a window this much nearer the middle than usual may hold both voices


@dataclass(frozen=True)
class Diarization:
    """Speech of each voice in a mono call. Voices are numbered by who spoke first ("S1", "S2")."""

    speakers: int                                      # 0 (no speech), 1 (one voice, or two not told apart), 2
    spans: dict[str, tuple[tuple[float, float], ...]]  # voice -> stretches of speech, seconds
    contested: tuple[float, ...]                       # changes of voice with no pause: overlap possible
    separation: float                                  # 0..1: how surely two different people spoke
    detail: dict = field(default_factory=dict)         # the figures behind the decision, for the call's data


# ---------------------------------------------------------------------------------------- windows

def _speech_mask(spans: list[tuple[float, float]], n: int) -> np.ndarray:
    mask = np.zeros(n, bool)
    for s, e in spans:
        mask[max(0, int(s * FPS)):int(np.ceil(e * FPS))] = True
    return mask


def _stretches(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [(int(s), int(e)) for s, e in zip(edges[::2], edges[1::2])]


def windows(stretches: list[tuple[int, int]], length: int = PARTIAL, hop: int = WINDOW_HOP,
            shortest: int = SHORTEST_WINDOW) -> list[tuple[int, int]]:
    """Frame ranges to embed: inside each stretch of speech (never across a pause, where the
    other party may take over), `length` frames every `hop`, the last one flush with the end."""
    out = []
    for s, e in stretches:
        if e - s < shortest:
            continue
        if e - s <= length:
            out.append((s, e))
            continue
        starts = list(range(s, e - length + 1, hop))
        if starts[-1] != e - length:
            starts.append(e - length)
        out.extend((a, a + length) for a in starts)
    return out


def voice_prints(samples: np.ndarray, mel: np.ndarray, spans: list[tuple[int, int]],
                 encoder: SpeakerEncoder) -> np.ndarray:
    """(windows, 256) GE2E prints of the frame ranges `spans`, each window levelled on its own
    (the parties of a mix are rarely equally loud; the network was trained on levelled speech)."""
    gains = [level_gain(samples[HOP * a:HOP * b]) for a, b in spans]
    return encoder.embed([mel[a:b] * np.float32(g) for (a, b), g in zip(spans, gains)])


# ------------------------------------------------------------------------------------- two voices

def _refine(z: np.ndarray, w: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Weighted spherical two-means from a first split."""
    for _ in range(50):
        if min((labels == k).sum() for k in (0, 1)) == 0:
            break
        c = np.stack([np.average(z[labels == k], axis=0, weights=w[labels == k]) for k in (0, 1)])
        new = np.argmax(z @ (c / np.linalg.norm(c, axis=1, keepdims=True)).T, axis=1)
        if (new == labels).all():
            break
        labels = new
    return labels


def two_groups(prints: np.ndarray, stretch: np.ndarray, restarts: int = 6) -> np.ndarray:
    """Two groups of mean-removed, length-normalised prints: two-means from a split along their
    main axis (where two people differ most) and from a few random starts, keeping the split whose
    groups lie furthest apart (compare_groups). A stretch's windows overlap, so each weighs
    1/sqrt(windows in its stretch): a long hold announcement does not outvote the rest."""
    z = prints - prints.mean(axis=0)
    z /= np.linalg.norm(z, axis=1, keepdims=True) + 1e-9
    ids, counts = np.unique(stretch, return_counts=True)
    w = 1.0 / np.sqrt(counts[np.searchsorted(ids, stretch)])
    centred = z - np.average(z, axis=0, weights=w)
    axis = np.linalg.svd(centred * np.sqrt(w)[:, None], full_matrices=False)[2][0]
    starts = [(centred @ axis > 0).astype(int)]
    rng = np.random.default_rng(0)
    for _ in range(restarts):
        c = z[rng.choice(len(z), 2, replace=False)]
        starts.append(np.argmax(z @ c.T, axis=1))
    best, best_margin = starts[0], -np.inf
    for start in starts:
        labels = _refine(z, w, start)
        if min((labels == k).sum() for k in (0, 1)) < 2:
            continue
        measured = compare_groups(prints, labels, stretch)
        if measured is None:
            continue
        within, between = measured
        if within - between > best_margin:
            best, best_margin = labels, within - between
    return best


def compare_groups(prints: np.ndarray, labels: np.ndarray, stretch: np.ndarray,
                   most: int = 1200, core: float = 0.8) -> tuple[float, float] | None:
    """(within, between): mean cosine of two prints of the same group, and of prints of different
    groups, in the network's own space, over the `core` share of each group nearest its centre
    (windows where both talk at once, or a cough, belong to neither voice). Windows of one
    stretch of speech overlap and say the same words, so pairs from one stretch are left out:
    they would make any group look tight. A long call is judged on evenly spread windows, `most`
    at most, to keep the pairs' matrix small. None when a group has no such pair (all its windows
    lie in one stretch): then how alike its windows are cannot be measured."""
    if len(prints) > most:
        keep = np.linspace(0, len(prints) - 1, most).astype(int)
        prints, labels, stretch = prints[keep], labels[keep], stretch[keep]
    unit = prints / (np.linalg.norm(prints, axis=1, keepdims=True) + 1e-9)
    central = np.zeros(len(unit), bool)
    for k in (0, 1):
        idx = np.flatnonzero(labels == k)
        if len(idx):
            sim = unit[idx] @ unit[idx].mean(axis=0)
            central[idx[sim >= np.quantile(sim, 1 - core)]] = True
    unit, labels, stretch = unit[central], labels[central], stretch[central]
    cos = unit @ unit.T
    other = stretch[:, None] != stretch[None, :]
    same = labels[:, None] == labels[None, :]
    within = [cos[(labels[:, None] == k) & (labels[None, :] == k) & other] for k in (0, 1)]
    between = cos[~same & other]
    if min(len(w) for w in within) == 0 or len(between) == 0:
        return None
    return float(np.mean([w.mean() for w in within])), float(between.mean())


# --------------------------------------------------------------------------------- resegmentation

def frame_scores(n: int, spans: list[tuple[int, int]], score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: the mean score of the windows covering it, and how many cover it."""
    total, count = np.zeros(n + 1), np.zeros(n + 1)
    for (a, b), s in zip(spans, score):
        total[a] += s
        total[b] -= s
        count[a] += 1
        count[b] -= 1
    total, count = np.cumsum(total)[:n], np.cumsum(count)[:n]
    return np.where(count > 0, total / np.maximum(count, 1), 0.0), count


def viterbi(ll: np.ndarray, switch: float) -> np.ndarray:
    """Best state per frame for (frames, states) log-likelihoods, paying `switch` for each change."""
    n, k = ll.shape
    back = np.zeros((n, k), np.int8)
    score = ll[0].copy()
    for t in range(1, n):
        best_other = score.max() - switch
        back[t] = np.where(score >= best_other, np.arange(k), int(score.argmax()))
        score = np.maximum(score, best_other) + ll[t]
    path = np.zeros(n, int)
    path[-1] = int(score.argmax())
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def _runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """(start, end, label) of each run of equal labels, skipping -1 (no speech)."""
    edges = np.flatnonzero(np.diff(labels)) + 1
    starts, ends = np.concatenate([[0], edges]), np.concatenate([edges, [len(labels)]])
    return [(int(s), int(e), int(labels[s])) for s, e in zip(starts, ends) if labels[s] >= 0]


def _absorb_short(labels: np.ndarray, s: int, e: int, shortest: int = 40) -> None:
    """Inside one stretch of unbroken speech, a run of under 0.4 s beside runs of the other voice
    is nearly always a misjudged onset, not a turn: give it to the longer neighbour. A short reply
    on its own (a "yes" between pauses) is a stretch of its own and keeps its voice."""
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


def resegment(n: int, stretches: list[tuple[int, int]], spans: list[tuple[int, int]], score: np.ndarray,
              switch: float) -> np.ndarray:
    """A voice (0, 1) for every frame of speech, -1 elsewhere. `score` > 0: a window sounds like
    voice 0. A stretch no window covers takes the voice of the nearest stretch that has one."""
    per_frame, covered = frame_scores(n, spans, score)
    labels = np.full(n, -1)
    scale = 10.0  # scores are cosine differences (about +-0.3): make a second of evidence outweigh a switch
    for s, e in stretches:
        if covered[s:e].max(initial=0) == 0:
            continue
        ll = scale * np.stack([per_frame[s:e], -per_frame[s:e]], axis=1)
        labels[s:e] = viterbi(ll, switch)
        _absorb_short(labels, s, e)
    judged = [(s, e) for s, e in stretches if labels[s] >= 0]
    for s, e in stretches:
        if labels[s] < 0 and judged:
            near = min(judged, key=lambda r: min(abs(r[0] - e), abs(s - r[1])))
            labels[s:e] = labels[near[0]] if abs(near[0] - e) < abs(s - near[1]) else labels[near[1] - 1]
    return labels


def overlaps(labels: np.ndarray, stretches: list[tuple[int, int]], spans: list[tuple[int, int]],
             score: np.ndarray, full: np.ndarray) -> tuple[float, ...]:
    """Times (s) where both may have talked at once, which a mix cannot measure: a change of voice
    inside a stretch of speech or across a pause under QUICK_TAKEOVER (the VAD may have bridged or
    barely split an overlap), and a 1.6 s window whose print lies between the two voices (under
    WEAK_WINDOW of the call's typical distance: on the test calls nearly all such windows held
    both voices, and a louder party can hide the other's words there)."""
    times = []
    prev_end, prev_label = None, None
    for a, b in stretches:
        inside = labels[a:b]
        times += [float(t) / FPS for t in np.flatnonzero(np.diff(inside)) + 1 + a]
        if prev_end is not None and inside[0] != prev_label and a - prev_end < QUICK_TAKEOVER * FPS:
            times.append(float(a) / FPS)
        prev_end, prev_label = b, inside[-1]
    typical = float(np.median(np.abs(score[full])))
    times += [(a + b) / 2 / FPS for (a, b), sc, f in zip(spans, score, full) if f and abs(sc) < WEAK_WINDOW * typical]
    merged: list[float] = []
    for t in sorted(times):
        if not merged or t - merged[-1] > 1.0:
            merged.append(round(t, 2))
    return tuple(merged)


# ------------------------------------------------------------------------------------------ the method

def _spans_of(on: np.ndarray) -> tuple[tuple[float, float], ...]:
    return tuple((round(s / FPS, 2), round(e / FPS, 2)) for s, e in _stretches(on))


def _scores(prints: np.ndarray, reference: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """> 0 where a print is nearer voice 0 than voice 1, with the centres of the grouped
    `reference` prints and the reference's mean removed from both."""
    mean = reference.mean(axis=0)

    def unit(x):
        return x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-9)

    zr = unit(reference - mean)
    if min((labels == k).sum() for k in (0, 1)) == 0:
        return np.zeros(len(prints))
    centres = unit(np.stack([zr[labels == k].mean(axis=0) for k in (0, 1)]))
    z = unit(prints - mean)
    return z @ centres[0] - z @ centres[1]


def _scores_like(prints: np.ndarray, reference: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """_scores, less the point halfway between where the reference's own two voices score. The
    mean removed is mostly the voice that talks more, so that voice's prints lie nearer the middle
    and score nearer 0 than the other's (on the ru test calls cuts of the agent's windows scored
    -0.5 on average, the customer's +1.3): 0 is not the boundary between them. A short stretch of
    the talkative voice then scored just across 0 and was taken for the other party, reporting
    a quick takeover that never happened. Halfway between the two voices' scores is."""
    own = _scores(reference, reference, labels)
    if min((labels == k).sum() for k in (0, 1)) == 0:
        return np.zeros(len(prints))
    middle = float(np.mean([own[labels == k].mean() for k in (0, 1)]))
    return _scores(prints, reference, labels) - middle


def separation_of(within: float, between: float) -> float:
    """0..1 from how much further apart the groups' centres are than the spread of each group."""
    return float(np.clip((within - between - ONE_VOICE_MARGIN) / (TWO_VOICES_MARGIN - ONE_VOICE_MARGIN), 0, 1))


def diarize(samples: np.ndarray, spans: list[tuple[float, float]], min_separation: float = 0.25,
            encoder: SpeakerEncoder | None = None, switch: float = 30.0) -> Diarization:
    """Tell apart the voices of a mono call (16 kHz float32) inside its detected speech `spans`.

    Two voices are reported only when their separation reaches `min_separation`; otherwise all
    speech is one voice "S1" and `detail["why"]` says why. `encoder` is the speaker model
    (embeddings.load(models/speaker-ge2e)); without it no voices are told apart. `switch` is what
    a change of voice costs in the Viterbi pass (higher: fewer, longer turns)."""
    samples = np.asarray(samples, np.float32)
    n = 1 + len(samples) // HOP
    mask = _speech_mask(spans, n)
    speech_s = float(mask.sum()) / FPS
    detail: dict = {"method": "ge2e-windows-twomeans-viterbi", "speech_seconds": round(speech_s, 2)}
    if speech_s < 0.3:
        return Diarization(0, {}, (), 0.0, {**detail, "why": "no speech"})
    one = {"S1": _spans_of(mask)}
    if encoder is None:
        return Diarization(1, one, (), 0.0, {**detail, "why": "the speaker model is not installed: "
                                             "run `callaudit models install speaker-ge2e`"})
    stretches = _stretches(mask)
    spans_w = windows(stretches)
    full = np.array([b - a == PARTIAL for a, b in spans_w], bool)
    stretch_of = np.searchsorted([s for s, _ in stretches], [a for a, _ in spans_w], side="right") - 1
    detail["windows"] = len(spans_w)
    if full.sum() < 6:
        return Diarization(1, one, (), 0.0, {**detail, "why": "too little speech to compare voices"})
    mel = mel_frames(samples)[:n]
    prints = voice_prints(samples, mel, spans_w, encoder)
    # Grouped and judged on full-length windows: a short window's print is noisier and, being a
    # shorter run of the network, lies elsewhere; short stretches are placed afterwards.
    labels_f = two_groups(prints[full], stretch_of[full])
    if min((labels_f == k).sum() for k in (0, 1)) < 2:
        return Diarization(1, one, (), 0.0, {**detail, "why": "all speech sounds like one voice"})
    measured = compare_groups(prints[full], labels_f, stretch_of[full])
    if measured is None:  # not "too alike": the figures that would say so do not exist
        return Diarization(1, one, (), 0.0, {**detail, "why": "too little speech to compare voices: one voice "
                                             "spoke for 1.6 s or more in only one stretch"})
    within, between = measured
    separation = separation_of(within, between)
    minor = float(min((labels_f == k).mean() for k in (0, 1)))
    detail.update(within=round(within, 4), between=round(between, 4), minor_share=round(minor, 3),
                  separation=round(separation, 3))
    if separation < min_separation:
        why = "one voice, or two voices too alike to tell apart"
        return Diarization(1, one, (), round(separation, 3),
                           {**detail, "why": f"{why} (separation {separation:.2f} below {min_separation:g})"})
    score = np.zeros(len(spans_w))
    score[full] = _scores_like(prints[full], prints[full], labels_f)
    full_spans = [w for w, f in zip(spans_w, full) if f]
    for lo, hi in ((SHORTEST_WINDOW, 60), (60, 100), (100, PARTIAL)):
        members = np.flatnonzero(~full & np.array([lo <= b - a < hi for a, b in spans_w]))
        if not len(members):
            continue
        # Short prints are compared with prints of the same length cut from the grouped windows
        # (their last frames): like with like, whatever a shorter run of the network adds.
        length = int(np.median([spans_w[i][1] - spans_w[i][0] for i in members]))
        keep = np.linspace(0, len(full_spans) - 1, min(len(full_spans), 120)).astype(int)
        ref = voice_prints(samples, mel, [(full_spans[i][1] - length, full_spans[i][1]) for i in keep], encoder)
        score[members] = _scores_like(prints[members], ref, labels_f[keep])
    labels = resegment(n, stretches, spans_w, score, switch)
    if min((labels == c).sum() for c in (0, 1)) < FPS // 2:
        return Diarization(1, one, (), round(separation, 3), {**detail, "why": "the second voice is under 0.5 s"})
    first = {c: int(np.flatnonzero(labels == c)[0]) for c in (0, 1)}
    order = sorted((0, 1), key=first.get)
    voices = {f"S{i + 1}": _spans_of(labels == c) for i, c in enumerate(order)}
    contested = overlaps(labels, stretches, spans_w, score, full)
    return Diarization(2, voices, contested, round(separation, 3), detail)
