"""How well callaudit separates and labels the two parties of a mono call.

    .venv/bin/python bench/diarize.py [--pairs all] [--calls good,bad,...] [--no-verdicts] [--stereo-cache F]

Builds generated two-speaker calls (the sample builder's GOOD_CALL and BAD_CALL, and GOOD_CALL
broken one rule at a time as in tests/test_score_e2e.py), spoken by the voice pairs of
tests/mixes.py (PAIRS: the real Asterisk voice against itself shifted, against Festival's
Russian and flite's English voices, two TTS voices against each other), every party through a
phone line (300-3400 Hz, µ-law), and mixed into one channel. For each call it prints:

  DER        diarization error rate of the mono mix against each channel's speech activity in the
             stereo version (Silero VAD per channel), 0.25 s collar, overlapping speech scored
  roles      whether the mono call's agent/customer labels are right ("uncertain" is not right,
             but it is safe: role rules are then not evaluated)
  verdicts   rules whose mono verdict equals the stereo verdict of the same call, among the rules
             evaluated (passed or failed) on both; mono fails where stereo passes (must be 0), and
             mono fails where stereo said "not evaluated"
  RTF        diarization alone per audio second: wall clock and CPU time of this process

--stereo-cache keeps the stereo verdicts in a JSON file, so that a second run (another method,
another branch) scores only the mono calls. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the per-rule variants and the voice pairs live with the tests

from mixes import PAIRS, call, der, mono, roles_right  # noqa: E402
from test_score_e2e import BREAKS  # noqa: E402

from callaudit import config, models  # noqa: E402
from callaudit.analysis.contract import result_json  # noqa: E402
from callaudit.audio import decode as audio  # noqa: E402
from callaudit.audio.diarize import diarize  # noqa: E402
from callaudit.sources.samples import BAD_CALL, GOOD_CALL, write_wav  # noqa: E402
from callaudit.transcript.vad import speech_activity  # noqa: E402

EVALUATED = ("passed", "failed")


def calls() -> dict[str, list]:
    out = {"good": GOOD_CALL, "bad": BAD_CALL}
    out.update({f"breaks-{rule}": [BREAKS[rule].get(i, line) for i, line in enumerate(GOOD_CALL)] for rule in BREAKS})
    return out


def diarize_kwargs() -> dict:
    """The speaker model where this checkout's diarize() takes one (an older one takes none)."""
    if "encoder" not in inspect.signature(diarize).parameters:
        return {}
    from callaudit.audio import embeddings

    return {"encoder": embeddings.load(models.resolve("speaker-ge2e"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", default="all", help=f"comma-separated, of: {'; '.join(PAIRS)}")
    ap.add_argument("--calls", default="all", help=f"comma-separated, of: {', '.join(calls())}")
    ap.add_argument("--no-verdicts", action="store_true", help="diarization only: no Whisper, no rules")
    ap.add_argument("--stereo-cache", type=Path, help="JSON file keeping the stereo verdicts between runs")
    args = ap.parse_args()
    pairs = list(PAIRS) if args.pairs == "all" else args.pairs.split(",")
    scripts = calls() if args.calls == "all" else {k: calls()[k] for k in args.calls.split(",")}
    kwargs = diarize_kwargs()
    scorers, cache = {}, {}
    if not args.no_verdicts:
        from callaudit.analysis.pipeline import Scorer
        from callaudit.transcript.transcribe import Transcriber

        transcriber = Transcriber(config.defaults())
        scorers = {lang: Scorer(config.defaults().with_overrides(transcription__language=lang), transcriber=transcriber)
                   for lang in ("ru", "en")}
        if args.stereo_cache and args.stereo_cache.exists():
            cache = json.loads(args.stereo_cache.read_text())
    tmp = Path(tempfile.mkdtemp(prefix="bench-diarize-"))
    t = {"scored": 0.0, "errors": 0.0, "audio": 0.0, "wall": 0.0, "cpu": 0.0, "right": 0, "uncertain": 0, "wrong": 0,
         "both": 0, "agree": 0, "false_fail": 0, "fail_unjudged": 0, "calls": 0, "one_voice": 0}
    print(f"method: {'GE2E speaker model' if kwargs else 'MFCC, no model'}")
    print(f"{'call':44} {'DER':>6} {'voices':>6} {'sep':>5} {'roles':>10} {'conf':>5} {'verdicts':>8}")
    for pair in pairs:
        lang = PAIRS[pair][0]
        for name, lines in scripts.items():
            stereo, placed = call(lines, pair)
            write_wav(tmp / "stereo.wav", stereo)
            write_wav(tmp / "mono.wav", mono(stereo))
            rec_s, rec_m = audio.load(tmp / "stereo.wav"), audio.load(tmp / "mono.wav")
            reference = {"agent": speech_activity(rec_s.channels[0]), "customer": speech_activity(rec_s.channels[1])}
            x = rec_m.channels[0]
            spans = speech_activity(x)
            t0, c0 = time.perf_counter(), time.process_time()
            d = diarize(x, spans, **kwargs)
            t["wall"] += time.perf_counter() - t0
            t["cpu"] += time.process_time() - c0
            e = der(reference, d.spans)
            t["scored"] += e["scored"]
            t["errors"] += e["der"] * e["scored"]
            t["audio"] += rec_m.duration
            t["calls"] += 1
            t["one_voice"] += d.speakers < 2
            roles, conf, agree = "-", "-", "-"
            if scorers:
                key = f"{pair}|{name}"
                if key not in cache:
                    cache[key] = {f["rule"]: f["status"] for f in result_json(scorers[lang].score_file(tmp / "stereo.wav"))["findings"]}
                vs = cache[key]
                rm = result_json(scorers[lang].score_file(tmp / "mono.wav"))
                c = rm["call"]
                if c["roles"] != "diarized":
                    roles = "uncertain"
                    t["uncertain"] += 1
                elif roles_right(rm["transcript"], placed):
                    roles = "right"
                    t["right"] += 1
                else:
                    roles = "WRONG"
                    t["wrong"] += 1
                conf = f"{c['role_confidence']:.2f}"
                vm = {f["rule"]: f["status"] for f in rm["findings"]}
                both = [r for r in vs if vs[r] in EVALUATED and vm.get(r) in EVALUATED]
                same = sum(vs[r] == vm[r] for r in both)
                t["both"] += len(both)
                t["agree"] += same
                t["false_fail"] += sum(vm.get(r) == "failed" and vs[r] == "passed" for r in vs)
                t["fail_unjudged"] += sum(vm.get(r) == "failed" and vs[r] not in EVALUATED for r in vs)
                agree = f"{same}/{len(both)}"
                for r in vs:
                    if vs[r] != vm.get(r):
                        print(f"    {r}: stereo {vs[r]}, mono {vm.get(r)}")
            print(f"{pair + ' ' + name:44} {e['der'] * 100:5.1f}% {d.speakers:>6} {d.separation:5.2f} {roles:>10} "
                  f"{conf:>5} {agree:>8}", flush=True)
    if args.stereo_cache and cache:
        args.stereo_cache.write_text(json.dumps(cache, indent=1, ensure_ascii=False))
    n = t["calls"]
    print(f"\ncalls: {n} ({len(pairs)} voice pairs x {len(scripts)} scripts), {t['audio']:.0f} s of audio")
    print(f"DER (pooled, {t['scored']:.0f} s of scored speech): {t['errors'] / max(t['scored'], 1) * 100:.1f} %")
    print(f"told apart (two voices): {n - t['one_voice']}/{n}")
    print(f"RTF diarization alone: wall {t['wall'] / t['audio']:.4f}, CPU {t['cpu'] / t['audio']:.4f}")
    if scorers:
        labelled = t["right"] + t["wrong"]
        print(f"roles right on the calls labelled: {t['right']}/{labelled} "
              f"({t['right'] / max(labelled, 1) * 100:.0f} %); wrong {t['wrong']}")
        print(f"roles uncertain: {t['uncertain']}/{n} ({t['uncertain'] / n * 100:.0f} %)")
        print(f"verdicts same as stereo, rules evaluated on both: {t['agree']}/{t['both']} "
              f"({t['agree'] / max(t['both'], 1) * 100:.1f} %)")
        print(f"mono fails where stereo passes: {t['false_fail']}; where stereo did not judge: {t['fail_unjudged']}")


if __name__ == "__main__":
    main()
