"""`callaudit transcribe`, `score` and `samples`: one recording at a time, printed or as JSON."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from callaudit.cli.options import clock, config_of, echo_json, json_option, lang_option, model_option, rules_option
from callaudit.errors import CallauditError


@click.command()
@click.argument("files", nargs=-1, required=True)
@lang_option()
@rules_option("Rule pack whose cues tell the agent on a mono call (default: by language).")
@model_option
@json_option("Print the call and transcript as JSON.")
@click.pass_context
def transcribe(ctx: click.Context, files: tuple[str, ...], lang: str | None, rules: str | None, model: str | None,
               as_json: bool) -> None:
    """Speaker-labelled transcripts of recorded calls."""
    from callaudit.analysis.contract import call_json, transcript_json
    from callaudit.analysis.cues import role_cues
    from callaudit.analysis.meaning import meaning_for
    from callaudit.analysis.rulepack import PackChooser
    from callaudit.audio import decode
    from callaudit.reports.redact import Redactor
    from callaudit.transcript.transcribe import Transcriber

    cfg = config_of(ctx).with_overrides(model__name=model, transcription__language=lang)
    redactor = Redactor.from_config(cfg)
    packs = PackChooser(rules or cfg.scoring.rules or None)
    packs.for_language(cfg.transcription.language)  # a bad pack is refused before the model loads
    transcriber = Transcriber(cfg)
    failed, results = 0, []
    for f in files:
        try:
            rec = decode.load(f)
            def cues(language: str):
                pack = packs.for_language(language)
                return role_cues(pack, cfg.company.name, meaning_for(pack, cfg.scoring.embedder or None))

            tx = transcriber.transcribe(rec, cues=cues)
        except CallauditError as e:
            failed += 1
            click.echo(f"callaudit: error: {e}", err=True)
            continue
        if as_json:
            transcript = [{**t, "text": redactor.text(t["text"])} for t in transcript_json(tx)]
            results.append({"call": call_json(rec.path, rec.sha256, tx), "transcript": transcript, "model": tx.model})
        else:
            click.echo(f"== {f}  ({tx.duration:.1f} s, {tx.channels}, {tx.language})")
            for t in tx.turns:
                click.echo(f"[{clock(t.start)}-{clock(t.end)}] {t.speaker:8} {redactor.text(t.text)}")
    if as_json:
        echo_json(results[0] if len(files) == 1 and results else results)
    if failed:
        sys.exit(1)


@click.command()
@click.argument("files", nargs=-1, required=True)
@lang_option()
@rules_option()
@model_option
@json_option("Print the verdicts as JSON (the stable contract).")
@click.pass_context
def score(ctx: click.Context, files: tuple[str, ...], lang: str | None, rules: str | None, model: str | None,
          as_json: bool) -> None:
    """Transcribe recorded calls and score them against the service rules."""
    from callaudit.analysis.contract import result_json
    from callaudit.analysis.pipeline import Scorer
    from callaudit.reports.redact import Redactor, redact_result
    from callaudit.reports.scorecard import print_scorecard

    cfg = config_of(ctx).with_overrides(model__name=model, transcription__language=lang)
    redactor = Redactor.from_config(cfg)
    scorer = Scorer(cfg, rules)
    failed, results = 0, []
    for f in files:
        try:
            result = redact_result(result_json(scorer.score_file(f)), redactor)
        except CallauditError as e:
            failed += 1
            click.echo(f"callaudit: error: {e}", err=True)
            continue
        results.append(result)
        if not as_json:
            print_scorecard(result)
    if as_json:
        echo_json(results[0] if len(files) == 1 and results else results)
    if failed:
        sys.exit(1)


@click.command()
@click.argument("folder", type=click.Path(file_okay=False), default="samples")
@click.option("--series", is_flag=True, help="Also a short series of calls with the same customers over two days "
              "(offline TTS voices), whose requests `callaudit requests list` follows.")
def samples(folder: str, series: bool) -> None:
    """Build sample calls from real recorded speech (Debian asterisk-core-sounds) into FOLDER."""
    from callaudit.sources.samples import build_samples

    for path in build_samples(Path(folder)):
        click.echo(path)
    if series:
        from callaudit.sources.series import build_demo_series

        for path in build_demo_series(Path(folder)):
            click.echo(path)
