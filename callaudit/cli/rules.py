"""`callaudit rules`: read, test and check rule packs. Each subcommand takes `--rules FILE` (test and
lint also the file as an argument); without one, the configured pack, else every default pack."""

from __future__ import annotations

import sys

import click

from callaudit.cli.options import config_of, rules_option
from callaudit.errors import CallauditError

PACK_HELP = "Rule pack file (default: [scoring] rules, else every pack in rules/)."
EMBEDDERS = ("e5", "use", "e5+use")


def _meaning(ctx: click.Context, pack, embedder: str | None = None):
    """The pack's intents with the embedder named, else [scoring] embedder, else the pack's own."""
    from callaudit.analysis.meaning import meaning_for

    return meaning_for(pack, embedder or config_of(ctx).scoring.embedder or None)


def _packs(ctx: click.Context, pack: str | None) -> list:
    from callaudit.analysis import rulepack

    if pack:
        return [rulepack.load(pack)]
    configured = config_of(ctx).scoring.rules
    if configured:
        return [rulepack.load(configured)]
    return [rulepack.load(p) for p in rulepack.default_packs()]


def _one(positional: str | None, option: str | None) -> str | None:
    if positional and option and positional != option:
        raise CallauditError(f"two packs named: {positional} and --rules {option}; give one")
    return positional or option


@click.group()
def rules() -> None:
    """Read, test and check rule packs."""


@rules.command("list")
@rules_option(PACK_HELP)
@click.pass_context
def rules_list(ctx: click.Context, rules: str | None) -> None:
    """The rules of each pack: id, severity, weight, title."""
    for p in _packs(ctx, rules):
        click.echo(f"{p.path}  ({p.version_tag}, {p.language})")
        for r in p.rules:
            click.echo(f"  {r.id:20} {r.severity:9} {r.weight:5g}  {r.kind:17} {r.title}")


@rules.command("show")
@click.argument("rule_id")
@rules_option(PACK_HELP)
@click.pass_context
def rules_show(ctx: click.Context, rule_id: str, rules: str | None) -> None:
    """One rule in full: why it matters, its parameters and its examples."""
    shown = False
    for p in _packs(ctx, rules):
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
        from callaudit.analysis.kinds import KINDS

        for _, name, _ in dict.fromkeys(KINDS[r.kind].intents(r.params)):
            _show_intent(p, p.meaning.get(name))
    if not shown:
        raise CallauditError(f"no rule '{rule_id}' in any pack: see `callaudit rules list`")


def _show_intent(pack, spec) -> None:
    """One intent in full: who says it, its thresholds per embedder, phrases, examples, negatives."""
    click.echo(f"  intent {spec.name}  [{spec.speaker}, {pack.path}:{spec.line}]"
               + (f"  overlaps: {', '.join(spec.overlaps)}" if spec.overlaps else ""))
    if not spec.thresholds:
        click.echo("    thresholds: none yet (run `callaudit rules calibrate --write`)")
    for name, t in spec.thresholds.items():
        mark = " (the pack's embedder)" if name == pack.meaning.embedder else ""
        click.echo(f"    thresholds {name}: threshold {t.threshold:+.4f}, margin {t.margin:.3f}, "
                   f"doubt {t.doubt:.3f}{mark}")
    for title, items in (("phrases", spec.phrases), ("examples", spec.examples), ("negatives", spec.negatives)):
        click.echo(f"    {title} ({len(items)}):")
        for x in items:
            click.echo(f"      {x}")


@rules.command("test")
@click.argument("pack", required=False, type=click.Path(dir_okay=False))
@rules_option(PACK_HELP)
@click.pass_context
def rules_test(ctx: click.Context, pack: str | None, rules: str | None) -> None:
    """Run every rule's pass/fail examples; exit 1 if any verdict is not the expected one."""
    from callaudit.analysis.intentcheck import proofs
    from callaudit.analysis.scoring import run_examples

    bad = total = 0
    for p in _packs(ctx, _one(pack, rules)):
        pm = _meaning(ctx, p)
        for res in run_examples(p, pm):
            total += 1
            if not res.ok:
                bad += 1
                click.echo(f"FAIL {p.path}:{res.example.line} {res.rule.id}: expected {res.example.expect}, "
                           f"got {res.finding.status} ({res.finding.detail})")
        # The intents' own sentences decide themselves at run time; where the judge alone reads one
        # otherwise, the author is told (the judge has not learnt it: similar sentences may go wrong).
        for proof in proofs(p, pm) if pm else []:
            if not proof.ok:
                got = "fails outright" if proof.expect == "example" else "matches"
                click.echo(f"note {p.path}:{proof.line} intent {proof.intent}: the judge alone {got} its "
                           f"{proof.expect} «{proof.text}» (score {proof.score:+.2f}, threshold {proof.threshold:+.2f})")
    click.echo(f"{total - bad} passed, {bad} failed")
    if bad:
        sys.exit(1)


@rules.command("lint")
@click.argument("pack", required=False, type=click.Path(dir_okay=False))
@rules_option(PACK_HELP)
@click.option("--no-warnings", "warn", is_flag=True, default=True, flag_value=False,
              help="Only the problems; skip judging the intents' examples against each other.")
@click.pass_context
def rules_lint(ctx: click.Context, pack: str | None, rules: str | None, warn: bool) -> None:
    """Check a pack: `file:line: reason` for each problem; exit 1 if there is any. Also warns (exit 0)
    where two intents' examples are closer than their thresholds allow."""
    from callaudit.analysis.rulepack import PackError, default_packs, load

    named = _one(pack, rules) or config_of(ctx).scoring.rules
    bad = False
    for path in [named] if named else default_packs():
        try:
            p = load(path)
        except PackError as e:
            bad = True
            for line in e.problems:
                click.echo(line)
            continue
        notes = []
        if p.meaning.intents and warn:
            from callaudit.analysis.intentcheck import warnings

            pm = _meaning(ctx, p)
            notes = warnings(p, pm) if pm else []
            for line in notes:
                click.echo(line)
        intents = f", {len(p.meaning.intents)} intents" if p.meaning.intents else ""
        warned = f", {len(notes)} warnings" if notes else ""
        click.echo(f"{path}: ok ({len(p.rules)} rules, {sum(len(r.examples) for r in p.rules)} examples"
                   f"{intents}{warned})")
    if bad:
        sys.exit(1)


@rules.command("calibrate")
@rules_option(PACK_HELP)
@click.option("--data", type=click.Path(dir_okay=False, exists=True),
              help="Labelled utterances, JSON lines (default: tests/data/paraphrases.jsonl of the checkout).")
@click.option("--embedder", type=click.Choice(EMBEDDERS), help="Embedder to calibrate for (default: the pack's).")
@click.option("--write", is_flag=True, help="Write the thresholds into the pack (this changes its version tag).")
@click.pass_context
def rules_calibrate(ctx: click.Context, rules: str | None, data: str | None, embedder: str | None,
                    write: bool) -> None:
    """Set each intent's threshold, margin and doubt band from the tuning part of the labelled set, and
    print precision and recall per intent on its evaluation part (never seen by the calibration)."""
    from pathlib import Path

    from callaudit.analysis import calibration
    from callaudit.analysis.meaning import THREADS
    from callaudit.text import calibrate as textcal
    from callaudit.text import embeddings

    packs = [p for p in _packs(ctx, rules) if p.meaning.intents]
    if not packs:
        raise CallauditError("no pack with intents to calibrate: see `callaudit rules list`")
    path = Path(data) if data else calibration.default_data()
    if not path.is_file():
        raise CallauditError(f"labelled set {path} not found: name one with --data")
    name = embedder or packs[0].meaning.embedder
    emb = embeddings.load(name, THREADS)
    cal = calibration.calibrate(packs, path, emb, cache=_vectors())
    click.echo(textcal.table(cal.result, "evaluation"))
    for lang, n in cal.left_out.items():
        if n:
            click.echo(f"note: {n} tuning utterances ({lang}) are not in the pack and were left out; "
                       "add them to its intents to learn from them")
    missed = [k for k, ok in cal.result.reached.items() if not ok]
    if missed:
        click.echo(f"note: the tuning target (precision {textcal.TARGET_PRECISION:g}) was out of reach for "
                   f"{', '.join(missed)}: their thresholds favour precision (F0.5)")
    for p in cal.packs:
        if write and any(p.path.resolve() == q.path.resolve() for q in packs):
            p.path.write_text(calibration.write(p, cal.thresholds(p), name), encoding="utf-8")
            from callaudit.analysis.rulepack import load

            click.echo(f"wrote the {name} thresholds of {len(p.meaning.intents)} intents into {p.path} "
                       f"({load(p.path).version_tag})")


def _vectors():
    from callaudit.analysis.meaning import cache_folder
    from callaudit.text.intents import VectorCache

    return VectorCache(cache_folder())
