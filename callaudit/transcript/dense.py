"""Dense windows: many short stretches of speech decoded together, each word mapped back to its own.

Whisper's encoder always sees 30 s. Decoding every stretch of speech in a window of its own (as
`transcribe.clips` does) makes a 2 s "Да, слушаю" cost a full 30 s window; a call of ~60 such
stretches on two channels costs ~60 windows where ~6 would hold all of its speech. Here the
stretches (of both parties, and of several calls when a batch hands them over together) are laid
end to end into full windows, with `join_silence` seconds of digital silence at each join, and the
windows are decoded in batches. The language of each call is heard once, from the encoder's view of
its first window, which is computed for decoding anyway.

What the earlier attempts lacked is the way back: every word Whisper writes in a packed window is
given to the stretch its timestamps overlap, and its times are moved back into the call. Whisper's
word timing (cross-attention DTW) stretches the first word after a pause back over the pause, so a
word that spans a join is first cut to twice the window's median word length from its end, as
faster-whisper does after a pause, and must then overlap the speech (not the padding) of one
stretch only. A word that still cannot be placed with confidence is not guessed at and not dropped:
the stretches around it are decoded again, each in a window of its own, exactly as the
one-stretch-per-window path would have. So are the stretches of a window whose text looks like a
repetition loop, and a stretch of speech that got no words at all in its packed window.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from math import ceil
from typing import NamedTuple

import numpy as np

from callaudit.audio.decode import RATE
from callaudit.transcript.records import Word

WINDOW = 30.0       # s: what Whisper's encoder sees
FILL = 29.5         # s: packed audio per window; the last half second stays silent so the last word can end
MAX_PIECE = 28.0    # s: a longer stretch is cut (at its quietest moment) into pieces of at most this
SMEAR = 0.15        # s: a word ending this close to a stretch, in the silence beside it, is that stretch's
CORE = 0.1          # s: a word spanning a join must overlap this much of one stretch's speech, and less of the other's
LOOP_RATIO = 2.4    # zlib compression ratio above which a window's text is a loop (Whisper's own threshold)
SILENT_REDO = 1.0   # s of speech: a stretch this long that got no word in a shared window is decoded alone
TOKENS_PER_S = 12   # cap on new tokens per second of speech (Russian runs ~3 tokens a word, ~3 words/s)
PUNCTUATION = ("\"'“¿([{-", "\"'.。,，!！?？:：”)]}、")  # faster-whisper's defaults, merged into words


class Stretch(NamedTuple):
    """One stretch of one party's speech: its audio (16 kHz float32, padding included), where it starts
    in its call and where its speech lies (call times; None: all of it). `party` says whose it is and
    `call` which call (any keys): stretches share a window only when their language and hotwords agree."""

    party: Hashable
    samples: np.ndarray
    start: float
    speech: tuple[float, float] | None = None
    call: Hashable = 0

    @property
    def end(self) -> float:
        return self.start + len(self.samples) / RATE

    @property
    def core(self) -> tuple[float, float]:
        return self.speech or (self.start, self.end)


class Heard(NamedTuple):
    """What `decode_dense_stats` returns: the words of each stretch (call times); each call's language as
    heard in its first window (language, probability, seconds of speech in that window); the number of
    windows decoded (packed plus re-decoded) and why each re-decoded stretch was decoded again."""

    words: list[list[Word]]
    languages: dict[Hashable, tuple[str, float, float]]
    windows: int
    redecoded: dict[int, str]


@dataclass
class _Window:
    language: str | None  # None: the call's language is not known yet
    hotwords: str | None
    slots: list[tuple[int, float]] = field(default_factory=list)  # (piece index, offset in the window, s)
    used: float = 0.0

    def audio(self, pieces: list[Stretch], join: float) -> np.ndarray:
        gap = np.zeros(int(round(join * RATE)), np.float32)
        parts = []
        for k, (i, _) in enumerate(self.slots):
            parts += [gap] if k else []
            parts.append(np.asarray(pieces[i].samples, np.float32))
        return np.concatenate(parts)


def decode_dense(model, stretches: list[Stretch], *, language: str | None | Mapping[Hashable, str | None],
                 beam_size: int = 1, batch_size: int = 8, join_silence: float = 0.5,
                 hotwords: str | Mapping[Hashable, str] | None = None) -> list[list[Word]]:
    """The words of each stretch, in call time, decoded in packed 30 s windows (see the module's note).

    `model`: a faster-whisper WhisperModel or BatchedInferencePipeline. `language`: for every call, or
    call -> language; None: heard from the call's first window. `hotwords`: for every stretch, or looked
    up by (call, party), then by party."""
    return decode_dense_stats(model, stretches, language=language, beam_size=beam_size, batch_size=batch_size,
                              join_silence=join_silence, hotwords=hotwords).words


def decode_calls(model, calls: list[tuple[dict, str | None, dict]], windows: Callable[[list, float], list[dict]],
                 **options) -> tuple[list[dict[Hashable, list[Word]]], dict[int, tuple[str, float, float]]]:
    """Several calls' parties decoded together: `calls` holds (party -> (samples, speech spans in s),
    language or None, party -> hotwords) per call; `windows(spans, duration)` gives the stretches to cut
    ({start, end}, padding included) for each party. Returns each call's party -> words, and each call's
    language as heard (see Heard); `options` as for decode_dense."""
    stretches = []
    for k, (parties, _, _) in enumerate(calls):
        for party, (samples, spans) in parties.items():
            for w in windows(spans, len(samples) / RATE):
                inside = [(a, b) for a, b in spans if b > w["start"] and a < w["end"]]
                speech = (max(w["start"], inside[0][0]), min(w["end"], inside[-1][1])) if inside else None
                a, b = int(w["start"] * RATE), int(w["end"] * RATE)
                stretches.append(Stretch(party, samples[a:b], a / RATE, speech, k))
    heard = decode_dense_stats(model, stretches, language={k: c[1] for k, c in enumerate(calls)},
                               hotwords={(k, party): hw for k, c in enumerate(calls) for party, hw in c[2].items()},
                               **options)
    words: list[dict[Hashable, list[Word]]] = [{party: [] for party in c[0]} for c in calls]
    for s, ws in zip(stretches, heard.words):
        words[s.call][s.party] += ws
    return words, heard.languages


def decode_dense_stats(model, stretches: list[Stretch], *, language: str | None | Mapping[Hashable, str | None],
                       beam_size: int = 1, batch_size: int = 8, join_silence: float = 0.5,
                       hotwords: str | Mapping[Hashable, str] | None = None) -> Heard:
    """decode_dense, with each call's language as heard, the windows decoded and the stretches decoded again."""
    model = model if hasattr(model, "feature_extractor") else model.model  # a pipeline holds its model
    pieces, parent = _pieces(stretches)
    calls = dict.fromkeys(p.call for p in pieces)
    given = {c: language.get(c) if isinstance(language, Mapping) else language for c in calls}
    if not model.model.is_multilingual:
        given = dict.fromkeys(calls, "en")

    def hot(p: Stretch) -> str | None:
        if not isinstance(hotwords, Mapping):
            return hotwords or None
        return hotwords.get((p.call, p.party)) or hotwords.get(p.party) or None

    # A call whose language is unknown keeps to its own windows until its language is heard.
    keys = [(given[p.call], hot(p), None if given[p.call] else p.call) for p in pieces]
    packed = _pack(pieces, keys, join_silence)
    first = {}  # call -> index of the window that holds its first piece
    for k, w in enumerate(packed):
        for i, _ in w.slots:
            first.setdefault(pieces[i].call, k)
    heard_as: dict[Hashable, tuple[str, float, float]] = {}
    results: dict[int, tuple] = {}
    unknown = [first[c] for c in calls if given[c] is None]
    detect = model.model.is_multilingual
    for k, (res, lang) in zip(unknown, _decode(model, pieces, [packed[k] for k in unknown], join_silence,
                                               beam_size, batch_size, [True] * len(unknown))):
        results[k] = res
        call = pieces[packed[k].slots[0][0]].call
        heard_as[call] = (*lang, _speech_in(packed[k], pieces, call))
        for w in packed:  # the rest of the call's windows are decoded in the language heard
            if w.language is None and pieces[w.slots[0][0]].call == call:
                w.language = lang[0]
    rest = [k for k in range(len(packed)) if k not in results]
    firsts = set(first.values())  # a call's language is heard in its first window only
    for k, (res, lang) in zip(rest, _decode(model, pieces, [packed[k] for k in rest], join_silence, beam_size,
                                            batch_size, [detect and k in firsts for k in rest])):
        results[k] = res
        for call, f in first.items():
            if f == k and call not in heard_as and lang:
                heard_as[call] = (*lang, _speech_in(packed[k], pieces, call))

    words: list[list[Word]] = [[] for _ in pieces]
    redo: dict[int, str] = {}
    for k, window in enumerate(packed):
        heard, looped = results[k]
        shared = len(window.slots) > 1
        if looped and shared:
            redo.update({i: "loop" for i, _ in window.slots})
            continue
        placed, unsure = _place(heard, window, pieces)
        for i, w in placed:
            words[i].append(w)
        if shared:
            redo.update({i: "join" for i in unsure})
            for i, _ in window.slots:
                a, b = pieces[i].core
                if i in redo:
                    continue
                if not words[i] and b - a >= SILENT_REDO:
                    redo[i] = "no words"
                elif _looped(" ".join(w.text for w in words[i])):
                    redo[i] = "loop"
    window_of = {i: w for w in packed for i, _ in w.slots}
    alone = [_Window(window_of[i].language, keys[i][1], slots=[(i, 0.0)]) for i in sorted(redo)]
    for window, ((heard, _), _) in zip(alone, _decode(model, pieces, alone, join_silence, beam_size, batch_size,
                                                      [False] * len(alone))):
        i = window.slots[0][0]
        words[i] = [w for _, w in _place(heard, window, pieces)[0]]
    out: list[list[Word]] = [[] for _ in stretches]
    for i, ws in enumerate(words):
        out[parent[i]].extend(sorted(ws))
    return Heard(out, heard_as, len(packed) + len(alone), {parent[i]: why for i, why in redo.items()})


def _speech_in(window: _Window, pieces: list[Stretch], call: Hashable) -> float:
    return sum(pieces[i].core[1] - pieces[i].core[0] for i, _ in window.slots if pieces[i].call == call)


def _pieces(stretches: list[Stretch]) -> tuple[list[Stretch], list[int]]:
    """Stretches longer than MAX_PIECE cut at their quietest 100 ms in the last 8 s before the limit, so
    that a cut is unlikely to split a word; (pieces, the stretch each piece came from)."""
    pieces, parent = [], []
    for n, s in enumerate(stretches):
        x, start = np.asarray(s.samples, np.float32), s.start
        while len(x) > MAX_PIECE * RATE:
            lo, hi, frame = int((MAX_PIECE - 8) * RATE), int(MAX_PIECE * RATE), RATE // 10
            energy = [float(np.mean(x[k:k + frame] ** 2)) for k in range(lo, hi - frame, frame // 2)]
            cut = lo + int(np.argmin(energy)) * (frame // 2) + frame // 2
            pieces.append(_part(s, x[:cut], start))
            parent.append(n)
            x, start = x[cut:], start + cut / RATE
        pieces.append(_part(s, x, start))
        parent.append(n)
    return pieces, parent


def _part(s: Stretch, x: np.ndarray, start: float) -> Stretch:
    end = start + len(x) / RATE
    a, b = s.core
    return Stretch(s.party, x, start, (min(max(a, start), end), max(min(b, end), start)), s.call)


def _pack(pieces: list[Stretch], keys: list[tuple], join: float) -> list[_Window]:
    """First fit decreasing: the longest pieces first, each into the first window of its key (language,
    hotwords, call while its language is unknown) with room for it and a join, else into a new one;
    short pieces then fill the gaps (in time order, ~10 % fewer windows than filling in time order).
    Within a window the pieces are then put back in the order given (time order, for one call), so
    Whisper hears a conversation, not a shuffle."""
    windows: list[tuple[tuple, _Window]] = []
    for i in sorted(range(len(pieces)), key=lambda i: -len(pieces[i].samples)):
        length = len(pieces[i].samples) / RATE
        for key, w in windows:
            if key == keys[i] and w.used + join + length <= FILL:
                w.slots.append((i, 0.0))
                w.used += join + length
                break
        else:
            windows.append((keys[i], _Window(keys[i][0], keys[i][1], slots=[(i, 0.0)], used=length)))
    out = []
    for _, w in windows:
        offset, slots = 0.0, []
        for i, _ in sorted(w.slots):
            slots.append((i, offset))
            offset += len(pieces[i].samples) / RATE + join
        out.append(_Window(w.language, w.hotwords, slots, w.used))
    return sorted(out, key=lambda w: w.slots[0][0])  # a call's first window first


def _decode(model, pieces: list[Stretch], windows: list[_Window], join: float, beam_size: int, batch_size: int,
            detect: list[bool]) -> list[tuple[tuple[list, bool], tuple[str, float] | None]]:
    """((words in window time, looped?), (language heard, probability) or None) for each window, batch by
    batch: one generate call per batch, each window with its own prompt. The language is heard in the
    windows marked in `detect`; one whose language is None is decoded in the language heard in it."""
    import ctranslate2

    out: list = [None] * len(windows)
    for b in range(0, len(windows), batch_size):
        batch = list(range(b, min(b + batch_size, len(windows))))
        audios = [windows[k].audio(pieces, join) for k in batch]
        # The encoder runs one window at a time: on a CPU a batch of them is no faster per window (measured
        # 0.81 CPU s a window alone, 1.01 in eights) and its attention scores take ~140 MB a window.
        # The decoder's small steps do gain from a batch, so its input is stacked.
        parts = [np.asarray(model.encode(_features(model, a)[None])) for a in audios]
        encoded = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.concatenate(parts)))
        heard: list = [None] * len(batch)
        ask = [j for j, k in enumerate(batch) if detect[k]]
        if ask:  # the encoder's output is there already: hearing the language costs one decoder step
            view = encoded if len(ask) == len(batch) else ctranslate2.StorageView.from_array(
                np.ascontiguousarray(np.asarray(encoded)[ask]))
            for j, langs in zip(ask, model.model.detect_language(view)):
                heard[j] = (langs[0][0][2:-2], langs[0][1])
        languages = [windows[k].language or h[0] for k, h in zip(batch, heard)]
        # Words are aligned with one tokenizer, whose language token matters: one call per language.
        for lang in dict.fromkeys(languages):
            idx = [j for j, lg in enumerate(languages) if lg == lang]
            part = encoded if len(idx) == len(batch) else ctranslate2.StorageView.from_array(
                np.ascontiguousarray(np.asarray(encoded)[idx]))
            for j, res in zip(idx, _generate(model, part, [windows[batch[j]] for j in idx],
                                             [audios[j] for j in idx], lang, beam_size, pieces)):
                out[batch[j]] = (res, heard[j])
    return out


def _features(model, audio: np.ndarray) -> np.ndarray:
    # The audio, not the features, is padded to 30 s, as Whisper was trained: zero features are not silence.
    fe, n = model.feature_extractor, int(WINDOW * RATE)
    return fe(np.pad(audio[:n], (0, n - len(audio[:n]))), padding=0)[:, :fe.nb_max_frames]


def _generate(model, encoded, windows: list[_Window], audios: list[np.ndarray], language: str, beam_size: int,
              pieces: list[Stretch]) -> list[tuple[list, bool]]:
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_suppressed_tokens

    multilingual = model.model.is_multilingual
    tok = Tokenizer(model.hf_tokenizer, multilingual, task="transcribe", language=language if multilingual else None)
    prompts = [model.get_prompt(tok, [], without_timestamps=True, hotwords=w.hotwords) for w in windows]
    speech = max(sum(pieces[i].core[1] - pieces[i].core[0] for i, _ in w.slots) for w in windows)
    max_length = min(model.max_length, max(len(p) for p in prompts) + int(TOKENS_PER_S * speech) + 16)
    results = model.model.generate(encoded, prompts, beam_size=beam_size, max_length=max_length,
                                   suppress_blank=True, suppress_tokens=list(get_suppressed_tokens(tok, [-1])),
                                   return_scores=True, return_no_speech_prob=True, sampling_temperature=0.0)
    tokens = [r.sequences_ids[0] for r in results]
    segments = [[{"tokens": t, "start": 0.0, "end": len(a) / RATE, "seek": 0}] for t, a in zip(tokens, audios)]
    sizes = [int(ceil(len(a) / RATE) * model.frames_per_second) for a in audios]
    model.add_word_timestamps(segments, tok, encoded, sizes, *PUNCTUATION, 0.0)
    out = []
    for t, seg, p in zip(tokens, segments, prompts):
        # Out of tokens: a loop ate the window. (A repetitive text alone is not one: a window can hold
        # the same greeting from several calls; each stretch's own text is checked once placed.)
        looped = len(p) + len(t) >= max_length - 1
        out.append(([(w["start"], w["end"], w["word"].strip(), w["probability"])
                     for w in seg[0].get("words", []) if w["word"].strip()], looped))
    return out


def _looped(text: str) -> bool:
    data = text.encode("utf-8")
    return len(data) > 20 and len(data) / len(zlib.compress(data)) > LOOP_RATIO


def _overlap(a: float, b: float, c: float, d: float) -> float:
    return min(b, d) - max(a, c)


def _place(heard: list, window: _Window, pieces: list[Stretch]) -> tuple[list[tuple[int, Word]], set[int]]:
    """Each word to the stretch of the window it belongs to, in call time; and the stretches next to a
    word that could not be placed with confidence (those are decoded again, alone)."""
    # (piece, slot start, slot end, speech start, speech end), all in window time
    slots = [(i, off, off + len(pieces[i].samples) / RATE, off + pieces[i].core[0] - pieces[i].start,
              off + pieces[i].core[1] - pieces[i].start) for i, off in window.slots]
    lengths = [e - s for s, e, _, _ in heard if e > s]
    longest = 2 * min(0.7, float(np.median(lengths))) if lengths else 1.4  # faster-whisper's max_duration
    placed, unsure = [], set()
    for start, end, text, p in heard:
        touched = [s for s in slots if _overlap(start, end, s[1], s[2]) > 0]
        if len(touched) > 1:  # across a join
            if end - start > longest:
                start = end - longest  # the first word after a pause: its end is right, its start smeared back
            # Then it must lie in one stretch's speech, not in padding: a word whose end was smeared
            # forward to the next stretch's first sound lies in no speech, and is not guessed at.
            speech = [s for s in slots if _overlap(start, end, s[3], s[4]) >= CORE]
            if len(speech) != 1:
                unsure |= {s[0] for s in touched}
                continue
            touched = speech
        if not touched:  # in the silence of a join: right next to one stretch and well away from the others
            gaps = sorted((-_overlap(start, end, s[1], s[2]), s) for s in slots)
            if gaps[0][0] > SMEAR or (len(gaps) > 1 and gaps[1][0] < 2 * SMEAR):
                unsure |= {s[0] for _, s in gaps[:2]}
                continue
            touched = [gaps[0][1]]
        i, a, b = touched[0][:3]
        shift = pieces[i].start - a
        s, e = min(max(start, a), b) + shift, min(max(end, a), b) + shift
        placed.append((i, Word(round(s, 3), round(max(e, s), 3), text, p)))
    return placed, unsure
