"""Throughput and accuracy of `callaudit batch` next to plain faster-whisper on the same recordings, in one run.

    .venv/bin/python bench/batch.py [--minutes 10] [--workers 1] [--threads 2] [--model base]
                                    [--dense on|off] [--beam N] [--join S] [--db URL] [--keep DIR]

Builds at least `--minutes` of two-channel calls from real recorded speech: the demo's four scripts
and as many again of varied conversations (plain sentences of the sound packages on both channels,
pauses from 0.3 s to a 15 s hold, a few interruptions), Russian and English. A sidecar JSON beside
each call names its language and holds its script: who said what, from when to when. Then, each in
its own process:

  callaudit  `callaudit batch FOLDER --workers N` into a fresh SQLite store (or --db): decode, both
             channels through VAD + Whisper, rules, verdicts, one transaction per call
  plain      WhisperModel(model, cpu_threads, compute_type).transcribe(file, the same beam,
             vad_filter=True, word_timestamps=True) on each file: what faster-whisper alone does
             (it hears the mono mix once)

and prints wall time, audio-hours per hour, RTF (wall time / audio time, model loading included, as a
nightly run sees it), CPU seconds (process and workers), peak RSS (the sum over the process tree,
sampled every 0.1 s) and the word error rate of each party's words against the script: callaudit's
words are the turns it stored per channel; plain's words go to the party whose scripted line they
fall in (by the middle of the word, else the nearest line). It ends with the ratio line of issue 14.
A benchmark, not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CALLAUDIT = ROOT / ".venv" / "bin" / "callaudit"

PLAIN = r"""
import sys, json
from faster_whisper import WhisperModel
path, threads, compute, beam, files = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5:]
model = WhisperModel(path, device="cpu", cpu_threads=threads, compute_type=compute, local_files_only=True)
out = {}
for f in files:
    lang = json.load(open(f + ".json"))["language"]
    segments, _ = model.transcribe(f, language=lang, beam_size=beam, vad_filter=True, word_timestamps=True)
    out[f] = [(w.start, w.end, w.word) for s in segments for w in (s.words or [])]
print(json.dumps(out))
"""


def varied_script(lang: str, rng: random.Random) -> list:
    """A conversation of 8 to 14 lines of plain sentences, agent first, with natural and awkward pauses."""
    from callaudit.sources import samples

    pool = samples.plain_sentences(lang)
    lines = [samples.say("agent", rng.choice(pool), at=rng.uniform(0.5, 2.0))]
    for k in range(rng.randint(7, 13)):
        speaker = "customer" if lines[-1].speaker == "agent" or rng.random() < 0.2 else "agent"
        prompts = tuple(rng.sample(pool, 2 if rng.random() < 0.3 else 1))
        gap = rng.choice([0.3, 0.5, 0.8, 1.0, 1.5, 2.5, 4.0])
        if rng.random() < 0.08:
            gap = rng.uniform(10, 15)  # a hold
        elif rng.random() < 0.08 and speaker != lines[-1].speaker:
            gap = -0.8  # one talks over the other
        lines.append(samples.say(speaker, *prompts, gap=gap, gain_db=rng.uniform(-6, 6) if speaker == "customer"
                                 else 0.0))
    return lines


def build_calls(folder: Path, minutes: float) -> tuple[list[Path], float]:
    """Calls (the demo's scripts, then varied ones, ru and en) until `minutes` of audio."""
    from callaudit.sources import samples

    demo = [(n, lang, lines) for n, (lang, lines) in samples.SAMPLE_CALLS.items()]
    rng = random.Random(14)
    files, total, i = [], 0.0, 0
    while total < minutes * 60:
        if i % 2 == 0:
            name, lang, lines = demo[(i // 2) % len(demo)]
        else:
            lang = "ru" if (i // 2) % 2 == 0 else "en"
            name, lines = f"{lang}-varied", varied_script(lang, rng)
        stamp = f"20261124-{10 + i // 60:02d}{i % 60:02d}00"
        path = folder / f"{name}-{stamp}-{1040 + i % 4}-79001234567-1764000000.{i}.wav"
        placed = samples.build(path, lines, lang, seed=100 + i)
        script = [(p.speaker, p.start, p.end, p.text) for p in placed]
        (folder / (path.name + ".json")).write_text(json.dumps({"language": lang, "script": script},
                                                               ensure_ascii=False))
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
            time.sleep(0.1)  # a sampling interval, not synchronisation
        wall = time.monotonic() - start
        out.seek(0)
        text = out.read().decode()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"bench: {cmd[0]} exited with {code}")
    # wait4's usage includes the workers the process waited for; CPU time is what contention cannot inflate.
    return wall, usage.ru_utime + usage.ru_stime, peak, text


def callaudit_words(db: Path, files: list[Path]) -> dict[str, dict[str, str]]:
    """file -> speaker -> the text of its stored turns, in time order."""
    con = sqlite3.connect(db)
    rows = con.execute("SELECT c.path, t.speaker, t.text FROM calls c JOIN scores s ON s.call_id = c.id "
                       "AND s.is_current JOIN turns t ON t.score_id = s.id ORDER BY c.id, t.start").fetchall()
    out: dict[str, dict[str, list[str]]] = {str(f): {"agent": [], "customer": []} for f in files}
    for path, speaker, text in rows:
        if path in out and speaker in out[path]:
            out[path][speaker].append(text)
    return {f: {s: " ".join(t) for s, t in parties.items()} for f, parties in out.items()}


def plain_words(words: list, script: list) -> dict[str, str]:
    """Plain faster-whisper's words given to the party whose scripted line holds their middle, else the nearest."""
    out: dict[str, list[str]] = {"agent": [], "customer": []}
    for start, end, text in words:
        mid = (start + end) / 2
        speaker = min(script, key=lambda line: max(line[1] - mid, mid - line[2], 0.0))[0]
        out[speaker].append(text)
    return {s: " ".join(t) for s, t in out.items()}


def wer(calls: list[tuple[str, dict[str, str]]], speaker: str) -> float:
    """Corpus word error rate of one party over all calls: (S + D + I) / reference words."""
    import jiwer

    from callaudit.sources.samples import reference_text
    from callaudit.text.matching import normalise

    refs, hyps = [], []
    for (lang, script), heard in calls:
        ref = reference_text(" ".join(t for s, _, _, t in script if s == speaker), lang)
        if ref.strip():
            refs.append(ref)
            hyps.append(normalise(heard.get(speaker, "")))
    m = jiwer.process_words(refs, hyps)
    return (m.substitutions + m.deletions + m.insertions) / sum(len(r.split()) for r in refs)


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="audio to generate (default 10)")
    ap.add_argument("--workers", type=int, default=1, help="callaudit batch --workers (default 1)")
    ap.add_argument("--threads", type=int, default=2, help="Whisper CPU threads per worker (default 2)")
    ap.add_argument("--model", default="base", help="model name or folder (default base)")
    ap.add_argument("--dense", choices=("on", "off"), help="[model] dense (default: as configured)")
    ap.add_argument("--beam", type=int, help="[model] beam_size, for both (default: as configured)")
    ap.add_argument("--join", type=float, help="[model] join_silence (default: as configured)")
    ap.add_argument("--db", help="store URL (default: a fresh SQLite file)")
    ap.add_argument("--keep", help="build the calls in this folder and keep them")
    args = ap.parse_args()

    from callaudit import config, models

    with tempfile.TemporaryDirectory(prefix="callaudit-bench-") as tmp:
        folder = Path(args.keep or tmp) / "calls"
        folder.mkdir(parents=True, exist_ok=True)
        files, audio = build_calls(folder, args.minutes)
        model_keys = [f'name = "{args.model}"', f"threads = {args.threads}"]
        model_keys += [f"dense = {'true' if args.dense == 'on' else 'false'}"] if args.dense else []
        model_keys += [f"beam_size = {args.beam}"] if args.beam else []
        model_keys += [f"join_silence = {args.join}"] if args.join is not None else []
        cfg_path = Path(tmp) / "bench.toml"
        cfg_path.write_text("[model]\n" + "\n".join(model_keys) + '\n[transcription]\nlanguage = "ru"\n')
        cfg = config.load(cfg_path)
        mc = cfg.model
        db = Path(args.db or Path(tmp) / "bench.db")
        print(f"bench/batch.py: {len(files)} calls, {audio / 60:.1f} min of audio (ru + en, 8 kHz stereo); "
              f"model {mc.name} {mc.compute_type} beam {mc.beam_size}, dense {mc.dense} (join "
              f"{mc.join_silence:g} s), {args.threads} threads x {args.workers} worker(s); {os.cpu_count()} CPUs",
              flush=True)

        load = os.getloadavg()[0]
        wall_c, cpu_c, rss_c, out = measure([str(CALLAUDIT), "--config", str(cfg_path), "batch", str(folder),
                                             "--db", str(db), "--workers", str(args.workers), "--json"])
        summary = json.loads(out)
        model_path = models.resolve(mc.name, Path(mc.dir) if mc.dir else None)
        wall_p, cpu_p, rss_p, out_p = measure([sys.executable, "-c", PLAIN, str(model_path), str(args.threads),
                                               mc.compute_type, str(mc.beam_size), *map(str, files)])
        plain = json.loads(out_p)
        truth = {str(f): json.loads(Path(str(f) + ".json").read_text()) for f in files}
        # The turns are read back from the SQLite store; a --db server's are not (its WER shows as n/a).
        ours = callaudit_words(db, files) if not args.db else {}
        calls_c = [((t["language"], t["script"]), ours.get(f, {})) for f, t in truth.items()]
        calls_p = [((t["language"], t["script"]), plain_words(plain[f], t["script"])) for f, t in truth.items()]

        def wer_of(calls, speaker, lang=None):
            part = [c for c in calls if lang in (None, c[0][0])]
            return None if calls is calls_c and args.db else wer(part, speaker)

        w = {(who, s): wer_of(calls, s) for who, calls in (("c", calls_c), ("p", calls_p))
             for s in ("agent", "customer")}

        print(f"{'':22} {'wall s':>7} {'audio-h/h':>10} {'RTF':>6} {'CPU s':>7} {'CPU-RTF':>8} {'peak RSS':>9} "
              f"{'WER agent':>10} {'WER cust.':>10}")
        for name, who, wall, cpu, rss in (("callaudit batch", "c", wall_c, cpu_c, rss_c),
                                          ("plain faster-whisper", "p", wall_p, cpu_p, rss_p)):
            print(f"{name:22} {wall:7.1f} {audio / wall:10.1f} {wall / audio:6.3f} {cpu:7.1f} {cpu / audio:8.3f} "
                  f"{rss / 2**20:6.0f} MB {pct(w[who, 'agent']):>10} {pct(w[who, 'customer']):>10}")
        for lang in sorted({t["language"] for t in truth.values()}, reverse=True):
            print(f"  {lang}: WER agent {pct(wer_of(calls_c, 'agent', lang))} vs plain "
                  f"{pct(wer_of(calls_p, 'agent', lang))}, customer {pct(wer_of(calls_c, 'customer', lang))} vs plain "
                  f"{pct(wer_of(calls_p, 'customer', lang))}")
        print(f"callaudit: scored {summary['scored']}, failed {summary['failed']}, flagged {summary['flagged']}, "
              f"audio stored {summary['audio_seconds'] / 60:.1f} min; plain: "
              f"{sum(len(v) for v in plain.values())} words")
        if summary["failed"] and not args.db:  # a failed call would read as 100 % WER: say why it failed
            for path, error in sqlite3.connect(db).execute("SELECT path, error FROM calls WHERE error IS NOT NULL "
                                                           "LIMIT 3"):
                print(f"  failed: {Path(path).name}: {error}")
        print(f"load average before the run: {load:.1f}, after: {os.getloadavg()[0]:.1f} (other work on the machine "
              "inflates wall times; CPU seconds are not inflated by it)")
        print(f"ratio: callaudit CPU = {cpu_c / cpu_p:.2f} × plain; WER agent {pct(w['c', 'agent'])} vs plain "
              f"{pct(w['p', 'agent'])}, customer {pct(w['c', 'customer'])} vs plain {pct(w['p', 'customer'])}")


if __name__ == "__main__":
    main()
