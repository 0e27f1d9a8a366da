"""How well callaudit separates and labels the two parties of a mono call.

    .venv/bin/python bench/diarize.py [--lang ru,en] [--cents -400] [--no-verdicts]

Builds generated two-speaker calls from real recorded speech (the sample builder's GOOD_CALL and
BAD_CALL, and GOOD_CALL broken one rule at a time as in tests/test_score_e2e.py), the customer in a
second voice (callaudit/mixes.py: the same real recording shifted by --cents with sox), and for each
call prints:

  DER        diarization error rate of the mono mix against each channel's speech activity in the
             stereo version (Silero VAD per channel), 0.25 s collar, overlapping speech scored
  roles      whether the mono call's agent/customer labels are right ("uncertain" is not right,
             but it is safe: role rules are then not evaluated)
  verdicts   (call, rule) pairs whose mono verdict equals the stereo verdict of the same call
  RTF        diarization alone, and the whole mono scoring (transcription included), per audio second

With --cents closer to 0 the two voices become alike; the figures show how the method then falls
back to "roles uncertain" instead of guessing. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the per-rule variants live with the end-to-end tests

from callaudit import audio, config  # noqa: E402
from callaudit.diarize import diarize  # noqa: E402
from callaudit.mixes import der, mono, roles_right, two_voices  # noqa: E402
from callaudit.samples import BAD_CALL, GOOD_CALL, write_wav  # noqa: E402
from callaudit.transcribe import speech_activity  # noqa: E402
from test_score_e2e import BREAKS  # noqa: E402


def calls() -> list[tuple[str, list]]:
    out = [("good", GOOD_CALL), ("bad", BAD_CALL)]
    out += [(f"breaks-{rule}", [BREAKS[rule].get(i, line) for i, line in enumerate(GOOD_CALL)]) for rule in BREAKS]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lang", default="ru,en")
    ap.add_argument("--cents", type=int, default=-400, help="the customer's voice against the agent's")
    ap.add_argument("--no-verdicts", action="store_true", help="diarization only: no Whisper, no rules")
    args = ap.parse_args()
    scorers = {}
    if not args.no_verdicts:
        from callaudit.pipeline import Scorer
        from callaudit.transcribe import Transcriber

        transcriber = Transcriber(config.defaults())
        scorers = {lang: Scorer(config.defaults().with_overrides(transcription__language=lang), transcriber=transcriber)
                   for lang in args.lang.split(",")}
    tmp = Path(tempfile.mkdtemp(prefix="bench-diarize-"))
    totals = {"scored": 0.0, "errors": 0.0, "audio": 0.0, "diar_s": 0.0, "mono_s": 0.0, "right": 0, "uncertain": 0,
              "wrong": 0, "pairs": 0, "agree": 0, "false_fail": 0, "calls": 0}
    print(f"customer voice {args.cents:+d} cents against the agent's")
    print(f"{'call':28} {'DER':>6} {'voices':>6} {'sep':>5} {'roles':>10} {'conf':>5} {'verdicts':>8}")
    for lang in args.lang.split(","):
        for name, lines in calls():
            stereo, placed = two_voices(lines, lang, args.cents)
            write_wav(tmp / "stereo.wav", stereo)
            write_wav(tmp / "mono.wav", mono(stereo))
            rec_s, rec_m = audio.load(tmp / "stereo.wav"), audio.load(tmp / "mono.wav")
            reference = {"agent": speech_activity(rec_s.channels[0]), "customer": speech_activity(rec_s.channels[1])}
            x = rec_m.channels[0]
            t0 = time.perf_counter()
            d = diarize(x, speech_activity(x))
            totals["diar_s"] += time.perf_counter() - t0
            e = der(reference, d.spans)
            totals["scored"] += e["scored"]
            totals["errors"] += e["der"] * e["scored"]
            totals["audio"] += rec_m.duration
            totals["calls"] += 1
            roles, conf, agree = "-", "-", "-"
            if scorers:
                rs = scorers[lang].score_file(tmp / "stereo.wav")
                t0 = time.perf_counter()
                rm = scorers[lang].score_file(tmp / "mono.wav")
                totals["mono_s"] += time.perf_counter() - t0
                call = rm["call"]
                if call["roles"] != "diarized":
                    roles = "uncertain"
                    totals["uncertain"] += 1
                elif roles_right(rm["transcript"], placed):
                    roles = "right"
                    totals["right"] += 1
                else:
                    roles = "WRONG"
                    totals["wrong"] += 1
                conf = f"{call['role_confidence']:.2f}"
                vs = {f["rule"]: f["status"] for f in rs["findings"]}
                vm = {f["rule"]: f["status"] for f in rm["findings"]}
                same = sum(vs[r] == vm.get(r) for r in vs)
                totals["pairs"] += len(vs)
                totals["agree"] += same
                totals["false_fail"] += sum(vm.get(r) == "failed" and vs[r] != "failed" for r in vs)
                agree = f"{same}/{len(vs)}"
                for r in vs:
                    if vs[r] != vm.get(r):
                        print(f"    {r}: stereo {vs[r]}, mono {vm.get(r)}")
            print(f"{lang + ' ' + name:28} {e['der'] * 100:5.1f}% {d.speakers:>6} {d.separation:5.2f} {roles:>10} "
                  f"{conf:>5} {agree:>8}")
    n = totals["calls"]
    print(f"\nDER (pooled over {n} calls, {totals['scored']:.0f} s of scored speech): "
          f"{totals['errors'] / max(totals['scored'], 1) * 100:.1f} %")
    print(f"RTF diarization alone: {totals['diar_s'] / totals['audio']:.3f}")
    if scorers:
        print(f"roles right: {totals['right']}/{n} ({totals['right'] / n * 100:.0f} %), uncertain {totals['uncertain']}, "
              f"wrong {totals['wrong']}")
        print(f"verdicts same as stereo: {totals['agree']}/{totals['pairs']} "
              f"({totals['agree'] / max(totals['pairs'], 1) * 100:.1f} %); mono fails where stereo did not fail: "
              f"{totals['false_fail']}")
        print(f"RTF mono scoring (transcription + diarization + rules): {totals['mono_s'] / totals['audio']:.3f}")


if __name__ == "__main__":
    main()
