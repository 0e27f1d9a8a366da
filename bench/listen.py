"""Listen-in latency against a real SIP peer (SIPp streaming a recorded two-party call, mixed to mono).

Prints:
  * command start -> first audio frame: `callaudit listen` launched as a process (interpreter start,
    imports, pjsua2 start, INVITE with digest auth, 200 OK, RTP) until the first frame with sound reaches
    Python; also the same measured from inside the command (without interpreter start and imports);
  * speech -> live transcript: how long after a stretch of speech arrived its text appears on screen,
    for the line in progress (partial) and the finished line (final, which first waits for the pause
    that ends it), p50 / p95, with the configured model (default base) on the CPU.
Goal: first frame <= 300 ms; live text <= 1.5 s behind speech at p50.

    .venv/bin/python bench/listen.py [--runs 5] [--model base]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from sip_peer import CALLAUDIT, PASSWORD, Sipp, build_stream, write_config  # noqa: E402


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(xs, p)) if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5, help="process launches for the first-frame figure")
    ap.add_argument("--model", default="base")
    ap.add_argument("--lang", default="ru")
    args = ap.parse_args()

    from callaudit import config
    from callaudit.analysis.cues import live_rules
    from callaudit.analysis.rulepack import PackChooser
    from callaudit.sources.listen import listen
    from callaudit.transcript.live import LiveTranscript
    from callaudit.transcript.transcribe import Transcriber

    tmp = Path(tempfile.mkdtemp(prefix="bench-listen-"))
    ref, ulaw, seconds, placed = build_stream(tmp, lang=args.lang)
    print(f"call: {seconds:.1f} s, {len(placed)} lines, {args.lang}; model {args.model}; "
          f"machine: {sys.platform}, python {sys.version.split()[0]}")

    # 1. Command start -> first audio frame, as a user runs it.
    proc_ms, inproc_ms = [], []
    for _ in range(args.runs):
        with Sipp("spy.xml", tmp, "-key", "stream", f"{ulaw},1,0", "-d", "1500") as pbx:
            cfg_path = write_config(tmp, pbx.port)
            t0 = time.time()
            out = subprocess.run(CALLAUDIT + ["--config", str(cfg_path), "listen", "1042", "--no-audio",
                                              "--no-record", "--json"], cwd=ROOT, capture_output=True, text=True,
                                 env={"PATH": "/usr/bin:/bin", "CALLAUDIT_SIP_PASSWORD": PASSWORD,
                                      "CALLAUDIT_DB": str(tmp / "callaudit.db")})
        if out.returncode or not out.stdout.startswith("["):
            sys.exit(f"listen failed: {out.stdout[-1500:]} {out.stderr[-2000:]}")
        (s,) = json.loads(out.stdout)
        proc_ms.append((s["first_audio_epoch"] - t0) * 1000)
        inproc_ms.append(s["first_audio_ms"])
    print(f"command start -> first audio frame ({args.runs} runs): process p50 {pct(proc_ms, 50):.0f} ms, "
          f"p95 {pct(proc_ms, 95):.0f} ms; inside the command p50 {pct(inproc_ms, 50):.0f} ms, "
          f"p95 {pct(inproc_ms, 95):.0f} ms")

    # 2. Speech -> live transcript, in process, the model warm as it is once the first call is under way.
    with Sipp("spy.xml", tmp, "-key", "stream", f"{ulaw},1,0", "-d", str(int(seconds * 1000))) as pbx:
        cfg = config.load(write_config(tmp, pbx.port)).with_overrides(model__name=args.model,
                                                                     transcription__language=args.lang)
        model = Transcriber(cfg.with_overrides(model__batched=False)).model
        lines = []
        rules = live_rules(PackChooser(cfg.scoring.rules or None).for_language(args.lang))
        live = LiveTranscript(cfg, rules, args.lang, show=lines.append, model=model)
        t0 = time.monotonic()
        listen(cfg, "1042", record=False, sinks=[live.push], say=lambda m: None, started=t0)
        live.close()
    partial = [line.lag for line in lines if line.kind == "partial"]
    final = [line.lag for line in lines if line.kind == "final"]
    print(f"speech -> live text: partial p50 {pct(partial, 50):.2f} s, p95 {pct(partial, 95):.2f} s "
          f"({len(partial)} updates); final p50 {pct(final, 50):.2f} s, p95 {pct(final, 95):.2f} s "
          f"({len(final)} lines)")
    for line in lines:
        if line.kind != "partial":
            print(f"  [{line.at:5.1f}] {line.kind:7} +{line.lag:.2f} s  {line.text}")


if __name__ == "__main__":
    main()
