"""What judging intents costs per call, next to what transcribing the same call costs.

    nice -n 10 .venv/bin/python bench/intents.py [--threads 1] [--sentences 40] [--no-whisper]

Prints, for each embedder (e5, use, e5+use): sentences per CPU second embedded one call at a time
(a batch of `--sentences`, ~ a 3-minute call), the whole judge (split, embed, lexical features,
scores of every intent) per call, and — unless --no-whisper — the CPU seconds Whisper base
(int8, 2 threads, beam 5, VAD, word timestamps) spends per second of the demo calls' real speech,
scaled to a 180 s call, and the share the intents add. CPU time (all threads), not wall time:
the machine is shared, and CPU time is what the nightly batch pays.
A benchmark, not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callaudit.text import calibrate, embeddings  # noqa: E402
from callaudit.text.intents import VectorCache  # noqa: E402

CALL_SECONDS = 180.0


def cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def whisper_cpu_per_audio_second() -> float:
    from faster_whisper import WhisperModel
    from faster_whisper.audio import decode_audio

    from callaudit.sources import samples

    with tempfile.TemporaryDirectory() as tmp:
        calls = samples.build_samples(Path(tmp))
        model = WhisperModel(str(ROOT / "models/base"), device="cpu", compute_type="int8",
                             cpu_threads=2, local_files_only=True)
        audio, spent = 0.0, 0.0
        for path in calls:
            for channel in decode_audio(str(path), split_stereo=True):  # one party per channel
                audio += len(channel) / 16000
                start = time.process_time()
                segments, _ = model.transcribe(channel, beam_size=5, vad_filter=True,
                                               word_timestamps=True, language=path.name[:2])
                list(segments)
                spent += time.process_time() - start
        return spent / audio


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sentences", type=int, default=40)
    ap.add_argument("--no-whisper", action="store_true")
    a = ap.parse_args()
    data = ROOT / "tests/data"
    rows = [json.loads(line) for line in (data / "paraphrases.jsonl").read_text(encoding="utf-8").splitlines()]
    seeds = tomllib.loads((data / "intent-seeds.toml").read_text(encoding="utf-8"))
    utts = calibrate.load_utterances(data / "paraphrases.jsonl")
    rnd = random.Random(7)
    call = [r["text"] for r in rnd.sample([r for r in rows if r["lang"] == "ru"], a.sentences)]

    figures = {}
    for name in ("e5", "use", "e5+use"):
        emb = embeddings.load(name, a.threads)
        emb.encode(["warm up"])
        load = cpu(lambda: embeddings.verify(name))
        per_call = min(cpu(lambda: emb.encode(call)) for _ in range(3))
        cal = calibrate.calibrate(seeds, utts, emb, cache=VectorCache())
        iset = cal.sets["ru"]
        judge = min(cpu(lambda: iset.evidence(call, "agent")) for _ in range(3))
        figures[name] = judge
        print(f"{name:7} embed {a.sentences / per_call:6.0f} sentences/CPU-s; a call of {a.sentences} "
              f"sentences: embed {per_call:.2f} CPU-s, whole judge {judge:.2f} CPU-s; "
              f"hash check of the weights once per process {load:.2f} CPU-s")
    if a.no_whisper:
        return
    per_s = whisper_cpu_per_audio_second()
    whisper = per_s * CALL_SECONDS * 2  # two channels
    print(f"whisper base int8 2 threads: {per_s:.3f} CPU-s per audio second and channel; "
          f"a {CALL_SECONDS:.0f} s two-channel call {whisper:.1f} CPU-s")
    for name, judge in figures.items():
        print(f"  {name:7} intents add {100 * judge / whisper:.1f} % of the transcription's CPU time")


if __name__ == "__main__":
    main()
