"""Throughput of `callaudit batch` next to plain faster-whisper on the same recordings, in one run.

    .venv/bin/python bench/batch.py [--minutes 10] [--workers 1] [--threads 2] [--model base] [--db URL]

Builds at least `--minutes` of calls from real recorded speech (the sample scripts, Russian and
English, each with a sidecar JSON naming its language), then runs, each in its own process:

  callaudit  `callaudit batch FOLDER --workers N` into a fresh SQLite store (or --db): decode, both
             channels through VAD + Whisper, rules, verdicts, one transaction per call
  plain      WhisperModel(model, cpu_threads, compute_type).transcribe(file, beam_size as configured,
             vad_filter=True, word_timestamps=True) on each file: what faster-whisper alone does

and prints audio-hours per hour, RTF (wall time / audio time, model loading included, as a nightly
run sees it), CPU seconds (process and workers) and peak RSS (the sum over the process and its
workers, sampled every 0.1 s).
A benchmark, not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CALLAUDIT = ROOT / ".venv" / "bin" / "callaudit"

PLAIN = r"""
import sys, json, time
from faster_whisper import WhisperModel
path, threads, compute, beam, files = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5:]
model = WhisperModel(path, device="cpu", cpu_threads=threads, compute_type=compute, local_files_only=True)
words = 0
for f in files:
    lang = json.load(open(f + ".json"))["language"]
    segments, _ = model.transcribe(f, language=lang, beam_size=beam, vad_filter=True, word_timestamps=True)
    words += sum(len(s.words or []) for s in segments)
print(json.dumps({"words": words}))
"""


def build_calls(folder: Path, minutes: float) -> tuple[list[Path], float]:
    """Sample calls (good and bad, ru and en) until `minutes` of audio; a sidecar names each one's language."""
    from callaudit import samples

    scripts = [(n, lang, lines) for n, (lang, lines) in samples.SAMPLE_CALLS.items()]
    files, total, i = [], 0.0, 0
    while total < minutes * 60:
        name, lang, lines = scripts[i % len(scripts)]
        stamp = f"20261124-{10 + i // 60:02d}{i % 60:02d}00"
        path = folder / f"{name}-{stamp}-{1040 + i % 4}-79001234567-1764000000.{i}.wav"
        placed = samples.build(path, lines, lang, seed=100 + i)
        (folder / (path.name + ".json")).write_text(json.dumps({"language": lang}))
        total += max(p.end for p in placed) + 1.5  # render() adds a 1.5 s tail
        files.append(path)
        i += 1
    return files, total


def tree_rss(pid: int) -> int:
    """Resident memory of `pid` and all its descendants, in bytes."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    family, grew = {pid}, True
    while grew:
        more = {p for p, pp in parents.items() if pp in family} - family
        family |= more
        grew = bool(more)
    total = 0
    for p in family:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def measure(cmd: list[str]) -> tuple[float, float, int, str]:
    """Run `cmd`; (wall seconds, CPU seconds of it and its workers, peak RSS of its process tree, stdout)."""
    start = time.monotonic()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL)
        peak = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, tree_rss(proc.pid))
            time.sleep(0.1)
        wall = time.monotonic() - start
        out.seek(0)
        text = out.read().decode()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"bench: {cmd[0]} exited with {code}")
    # wait4's usage includes the workers the process waited for; CPU time is what contention cannot inflate.
    return wall, usage.ru_utime + usage.ru_stime, peak, text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="audio to generate (default 10)")
    ap.add_argument("--workers", type=int, default=1, help="callaudit batch --workers (default 1)")
    ap.add_argument("--threads", type=int, default=2, help="Whisper CPU threads per worker (default 2)")
    ap.add_argument("--model", default="base", help="model name or folder (default base)")
    ap.add_argument("--db", help="store URL (default: a fresh SQLite file)")
    ap.add_argument("--keep", help="build the calls in this folder and keep them")
    args = ap.parse_args()

    from callaudit import config, models

    with tempfile.TemporaryDirectory(prefix="callaudit-bench-") as tmp:
        folder = Path(args.keep or tmp) / "calls"
        folder.mkdir(parents=True, exist_ok=True)
        files, audio = build_calls(folder, args.minutes)
        cfg_path = Path(tmp) / "bench.toml"
        cfg_path.write_text(f'[model]\nname = "{args.model}"\nthreads = {args.threads}\n'
                            '[transcription]\nlanguage = "ru"\n')
        cfg = config.load(cfg_path)
        mc = cfg["model"]
        db = args.db or str(Path(tmp) / "bench.db")
        print(f"bench/batch.py: {len(files)} calls, {audio / 60:.1f} min of audio (ru + en, 8 kHz stereo); "
              f"model {mc['name']} {mc['compute_type']} beam {mc['beam_size']}, {args.threads} threads x "
              f"{args.workers} worker(s); {os.cpu_count()} CPUs", flush=True)

        load = os.getloadavg()[0]
        wall_c, cpu_c, rss_c, out = measure([str(CALLAUDIT), "--config", str(cfg_path), "batch", str(folder),
                                      "--db", db, "--workers", str(args.workers), "--json"])
        summary = json.loads(out)
        model_path = models.resolve(mc["name"], Path(mc["dir"]) if mc["dir"] else None)
        wall_p, cpu_p, rss_p, out_p = measure([sys.executable, "-c", PLAIN, str(model_path), str(args.threads),
                                        mc["compute_type"], str(mc["beam_size"]), *map(str, files)])

        print(f"{'':22} {'wall s':>7} {'audio-h/h':>10} {'RTF':>6} {'CPU s':>7} {'CPU-RTF':>8} {'peak RSS':>9}")
        for name, wall, cpu, rss in (("callaudit batch", wall_c, cpu_c, rss_c),
                                     ("plain faster-whisper", wall_p, cpu_p, rss_p)):
            print(f"{name:22} {wall:7.1f} {audio / wall:10.1f} {wall / audio:6.3f} {cpu:7.1f} {cpu / audio:8.3f} "
                  f"{rss / 2**20:6.0f} MB")
        print(f"callaudit: scored {summary['scored']}, failed {summary['failed']}, flagged {summary['flagged']}, "
              f"audio stored {summary['audio_seconds'] / 60:.1f} min; plain: {json.loads(out_p)['words']} words")
        print(f"load average before the run: {load:.1f}, after: {os.getloadavg()[0]:.1f} (other work on the machine "
              "inflates wall times; CPU seconds are not inflated by it)")
        print("callaudit transcribes each party's channel on its own (two passes per call) and adds VAD timing, "
              "rules and one database transaction per call; plain faster-whisper hears the mono mix once.")


if __name__ == "__main__":
    main()
