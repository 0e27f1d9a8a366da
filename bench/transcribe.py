"""Speed, memory and accuracy of callaudit's transcription next to plain faster-whisper.

    .venv/bin/python bench/transcribe.py [--lang ru,en] [--out test-output/bench]

For each language it builds a long stereo call from real recorded speech (every Debian
asterisk-core-sounds prompt that is a plain sentence, about 5 minutes of speech, on the agent's
channel; short replies on the customer's), then runs, each in its own process:

  callaudit  Transcriber.transcribe on the stereo recording (base model, the default config)
  plain      WhisperModel(models/base, cpu_threads=2, compute_type="int8").transcribe(mono mix,
             beam_size=5), i.e. what one would get by handing the recording to faster-whisper

and prints RTF (processing time / audio time, model loading excluded), peak RSS (of that process
alone, from os.wait4, so the two variants' figures never mix) and WER against the known texts.
A benchmark, not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPLIES = ("auth-thankyou", "check-number-dial-again", "please-try-again", "sorry")


def build_call(lang: str, folder: Path) -> tuple[Path, Path]:
    from callaudit.sources import samples
    from callaudit.sources.samples import say

    lines = []
    for i, name in enumerate(samples.plain_sentences(lang)):
        lines.append(say("agent", name, gap=1.0))
        if i % 4 == 3:
            lines.append(say("customer", REPLIES[(i // 4) % len(REPLIES)], gap=0.8))
    wav = folder / f"bench-{lang}.wav"
    placed = samples.build(wav, lines, lang)
    truth = folder / f"bench-{lang}.json"
    truth.write_text(json.dumps([p.__dict__ for p in placed], ensure_ascii=False, indent=1))
    return wav, truth


def child(variant: str, wav: str, lang: str) -> None:
    """Runs in its own process: load the model, transcribe once, print the words as JSON."""
    if variant == "callaudit":
        from callaudit import config
        from callaudit.audio import decode as audio
        from callaudit.transcript.transcribe import Transcriber

        t0 = time.perf_counter()
        tr = Transcriber(config.defaults())
        rec = audio.load(wav)
        t1, c1 = time.perf_counter(), time.process_time()
        tx = tr.transcribe(rec, lang)
        t2, c2 = time.perf_counter(), time.process_time()
        result = {"all": " ".join(t.text for t in tx.turns), "agent": " ".join(t.text for t in tx.by("agent")),
                  "duration": rec.duration, "setup": t1 - t0, "seconds": t2 - t1, "cpu": c2 - c1,
                  "settings": {k: tx.model[k] for k in ("beam_size", "batched", "compute_type")}}
    else:
        from faster_whisper import WhisperModel, decode_audio

        from callaudit import models

        t0 = time.perf_counter()
        model = WhisperModel(str(models.resolve("base")), cpu_threads=2, compute_type="int8",
                             local_files_only=True)
        mono = decode_audio(wav, sampling_rate=16000)  # both channels mixed, as a mono recorder would
        t1, c1 = time.perf_counter(), time.process_time()
        segments, _ = model.transcribe(mono, beam_size=5, language=lang)
        text = " ".join(s.text for s in segments)  # the generator does the work
        t2, c2 = time.perf_counter(), time.process_time()
        result = {"all": text, "agent": None, "duration": len(mono) / 16000, "setup": t1 - t0,
                  "seconds": t2 - t1, "cpu": c2 - c1,
                  "settings": {"beam_size": 5, "batched": False, "compute_type": "int8"}}
    print(json.dumps(result, ensure_ascii=False))


def run_variant(variant: str, wav: Path, lang: str) -> dict:
    proc = subprocess.Popen([sys.executable, __file__, "--child", variant, "--wav", str(wav), "--lang", lang],
                            stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    # wait4 gives this child's own rusage; RUSAGE_CHILDREN would report the largest of all children so far.
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{variant} on {wav} failed with exit code {proc.returncode}")
    result = json.loads(out)
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return result


def wer(reference: str, hypothesis: str, lang: str) -> float:
    import jiwer

    from callaudit.sources.samples import reference_text
    from callaudit.text.matching import normalise

    return jiwer.wer(reference_text(reference, lang), normalise(hypothesis))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lang", default="ru,en", help="comma-separated: ru, en")
    ap.add_argument("--out", default=str(ROOT / "test-output" / "bench"), help="where the calls are written")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--wav", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.wav, args.lang)

    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    # On a shared machine wall-clock RTF grows with other people's load; CPU-RTF (CPU seconds of the
    # process per audio second, all its threads) does much less. Idle, RTF ~ CPU-RTF / threads.
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; base model, 2 threads; "
          "RTF excludes loading the model")
    print(f"{'lang':4} {'variant':10} {'audio s':>8} {'speech s':>8} {'load s':>6} {'run s':>7} {'RTF':>6} "
          f"{'CPU-RTF':>7} {'peak RSS':>9} {'WER all':>8} {'WER agent':>9}  settings")
    for lang in args.lang.split(","):
        wav, truth = build_call(lang, folder)
        placed = json.loads(truth.read_text())
        ref_all = " ".join(p["text"] for p in sorted(placed, key=lambda p: p["start"]))
        ref_agent = " ".join(p["text"] for p in placed if p["speaker"] == "agent")
        speech = sum(p["end"] - p["start"] for p in placed)
        for variant in ("callaudit", "plain"):
            r = run_variant(variant, wav, lang)
            agent = f"{wer(ref_agent, r['agent'], lang):9.1%}" if r["agent"] is not None else f"{'-':>9}"
            print(f"{lang:4} {variant:10} {r['duration']:8.1f} {speech:8.1f} {r['setup']:6.1f} {r['seconds']:7.1f} "
                  f"{r['seconds'] / r['duration']:6.3f} {r['cpu'] / r['duration']:7.3f} {r['peak_rss_mb']:7.0f}MB "
                  f"{wer(ref_all, r['all'], lang):8.1%} {agent}  {r['settings']}", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")

if __name__ == "__main__":
    main()
