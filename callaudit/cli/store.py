"""The store's commands: `db`, `batch`, `worker`, `calls`. Wiring only: the work is in store/, jobs/,
sources/ and reports/."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import click

from callaudit.cli.options import config_of, db_option, echo_json, json_option, lang_option, model_option, rules_option
from callaudit.errors import CallauditError


# ---------------------------------------------------------------- db
@click.group()
def db() -> None:
    """Create and upgrade the call store."""


@db.command("upgrade")
@db_option
@click.pass_context
def db_upgrade(ctx: click.Context, db: str | None) -> None:
    """Bring the database's schema up to date (also done automatically on first use)."""
    from callaudit.store.db import connect, resolve_url, upgrade

    store = connect(resolve_url(db, config_of(ctx)))
    before, now = upgrade(store)
    state = "already up to date" if before == now else f"upgraded from {before or 'an empty database'}"
    click.echo(f"{store.shown}: schema at revision {now} ({state})")


@db.command("status")
@db_option
@json_option()
@click.pass_context
def db_status(ctx: click.Context, db: str | None, as_json: bool) -> None:
    """The schema revision and how many calls are in each state."""
    from callaudit.store.db import connect, resolve_url, revisions
    from callaudit.store.queries import status_counts

    store = connect(resolve_url(db, config_of(ctx)))
    current, head = revisions(store)
    counts: dict[str, int] = {}
    if current:
        with store.session() as s:
            counts = status_counts(s)
    if as_json:
        echo_json({"db": store.shown, "revision": current, "head": head, "calls": counts})
        return
    click.echo(f"{store.shown}: revision {current or 'none (run callaudit db upgrade)'}, newest {head}")
    for status, n in sorted(counts.items()):
        click.echo(f"  {status:8} {n}")


# ---------------------------------------------------------------- batch / worker
def _check_model(cfg) -> None:
    from callaudit import models

    models.resolve(cfg.model.name, Path(cfg.model.dir) if cfg.model.dir else None)


def _stop_on_sigterm() -> None:
    """Ctrl-C, `systemctl stop`, `kill`: stop at once, handing the calls in hand back to the queue."""
    from callaudit.jobs.workers import request_stop

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)


def _settings(store, rules: str | None, run_id: int, cfg, forever: bool = False):
    from callaudit.jobs.workers import WorkerSettings

    st = cfg.store
    if st.lease_seconds <= 0 or st.poll_seconds <= 0 or st.max_attempts < 1:
        raise CallauditError(f"{cfg.source}: [store] lease_seconds and poll_seconds must be above 0, "
                             "max_attempts at least 1")
    return WorkerSettings(db=store.url.render_as_string(hide_password=False), config=cfg, rules=rules,
                          run_id=run_id, forever=forever)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--since", help="Only calls from this time on: today, yesterday, 2026-11-24, "
                              "'2026-11-24 18:00', 2026-11, 3d, 12h.")
@click.option("--workers", type=click.IntRange(min=0),
              help="Worker processes, each loading the model once (default [batch] workers); "
                   "0 = only queue the calls, for `callaudit worker` on other machines.")
@click.option("--limit", type=click.IntRange(min=1), help="Queue at most N calls in this run.")
@click.option("--rescore", is_flag=True, help="Score again calls that are already scored (the old score is kept).")
@click.option("--retry-failed", is_flag=True, help="Try again files that failed in an earlier run.")
@json_option("Print the summary as JSON.")
@db_option
@lang_option("Language of calls that have no sidecar saying otherwise (default: from config).")
@rules_option()
@model_option
@click.option("--cdr", multiple=True, type=click.Path(dir_okay=False),
              help="A CDR CSV with the calls' metadata (repeatable; CSVs in the folders are read too).")
@click.pass_context
def batch(ctx: click.Context, paths: tuple[str, ...], since: str | None, workers: int | None, limit: int | None,
          rescore: bool, retry_failed: bool, as_json: bool, db: str | None, lang: str | None, rules: str | None,
          model: str | None, cdr: tuple[str, ...]) -> None:
    """Score every new recording under PATHS and store the verdicts; safe to re-run and to kill."""
    from callaudit import periods
    from callaudit.jobs.batch import enqueue
    from callaudit.jobs.runs import begin_run, finish_run
    from callaudit.reports.progress import BatchProgress, print_summary
    from callaudit.sources import folders
    from callaudit.sources.metadata import MetadataReader
    from callaudit.store.db import open_store
    from callaudit.store.worklist import sync_roster

    cfg = config_of(ctx).with_overrides(model__name=model, transcription__language=lang)
    since_at = periods.since(since) if since else None
    workers = cfg.batch.workers if workers is None else workers
    if workers > 0:  # a missing model should stop the batch before it hashes a night's recordings
        _check_model(cfg)
    reader = MetadataReader(cfg, [Path(c) for c in cdr])
    files = list(folders.find(paths, cfg.batch.extensions))
    reader.index_cdrs(files, folders.find_cdrs(paths))
    store = open_store(db, cfg)
    with store.session() as s:
        sync_roster(s, cfg.roster)
    options = {"paths": [os.path.abspath(p) for p in paths], "since": since, "workers": workers, "limit": limit,
               "rescore": rescore, "retry_failed": retry_failed, "language": cfg.transcription.language,
               "model": cfg.model.name, "config": cfg.source}
    run_id = begin_run(store, "batch", options)
    settings = _settings(store, rules, run_id, cfg)
    view = BatchProgress()
    _stop_on_sigterm()
    try:
        with view:
            enq = enqueue(store, files, reader, run_id=run_id, language=cfg.transcription.language,
                          since=since_at, limit=limit, rescore=rescore, retry_failed=retry_failed,
                          min_age=cfg.batch.min_age_seconds, progress=lambda n: view.finding(n, len(files)))
            pool = _queue_pool(store, settings, cfg)  # PostgreSQL: the calls become procrastinate jobs
            if workers > 0 and enq.queued:
                view.scoring(len(enq.queued))
                pool(settings, workers, view)
    except KeyboardInterrupt:
        click.echo("callaudit: interrupted; calls in hand went back to the queue: run the same batch again "
                   "to finish", err=True)
        sys.exit(130)
    summary = finish_run(store, run_id, enq, view.tally)
    followed = _follow_requests(store, cfg) if workers > 0 else None
    store.close()
    if followed is not None:
        summary["requests"] = followed.to_json()
    if as_json:
        echo_json(summary)
    else:
        print_summary(summary, click.echo)
        if followed is not None:
            click.echo(followed.line())
    if summary["failed"]:
        sys.exit(1)


def _queue_pool(store, settings, cfg):
    """The pool that scores the queue: SQLite's local one, or procrastinate workers on PostgreSQL (after
    deferring a job for every queued call that has none)."""
    if store.dialect != "postgresql":
        from callaudit.jobs.workers import run_pool

        return run_pool
    from callaudit.jobs.pgqueue import defer_pending, run_pool

    defer_pending(settings.db, cfg, store)
    return run_pool


def _follow_requests(store, cfg):
    """The night's calls update the requests they tell about (never failing the batch: see jobs/requests.py)."""
    from callaudit.jobs.requests import refresh_quietly

    return refresh_quietly(store, cfg, say=lambda m: click.echo(m, err=True))


@click.command()
@db_option
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes on this machine, each loading the model once.")
@click.option("--forever", is_flag=True, help="Keep waiting for new calls instead of stopping when the queue is empty "
                                            "(PostgreSQL: the workers also queue [batch] folders on [batch] "
                                            "schedule).")
@rules_option()
@model_option
@json_option("Print the summary as JSON.")
@click.pass_context
def worker(ctx: click.Context, db: str | None, workers: int, forever: bool, rules: str | None, model: str | None,
           as_json: bool) -> None:
    """Score calls queued by `callaudit batch`. On PostgreSQL this machine joins the shared procrastinate
    queue: run it on any number of machines (with --forever, it also runs [batch] schedule)."""
    from callaudit.jobs.runs import begin_run, worker_summary
    from callaudit.reports.progress import BatchProgress
    from callaudit.store.db import open_store
    from callaudit.store.worklist import backlog

    cfg = config_of(ctx).with_overrides(model__name=model)
    _check_model(cfg)
    store = open_store(db, cfg)
    run_id = begin_run(store, "worker", {"workers": workers, "forever": forever, "model": cfg.model.name,
                                         "config": cfg.source})
    settings = _settings(store, rules, run_id, cfg, forever)
    view = BatchProgress()
    _stop_on_sigterm()
    try:
        with view:
            pool = _queue_pool(store, settings, cfg)
            b = backlog(store)
            view.scoring(b.queued + b.running)
            pool(settings, workers, view)
    except KeyboardInterrupt:
        click.echo("callaudit: interrupted; calls in hand went back to the queue", err=True)
        sys.exit(130)
    summary = worker_summary(store, run_id, view.tally)
    followed = _follow_requests(store, cfg)
    store.close()
    summary["requests"] = followed.to_json()
    if as_json:
        echo_json(summary)
    else:
        click.echo(f"worker run {run_id} ({summary['db']}): scored {summary['scored']}, failed {summary['failed']}, "
                   f"{summary['audio_seconds'] / 60:.1f} min of audio in {summary['wall_seconds']:.0f} s")
        click.echo(followed.line())
    if summary["failed"]:
        sys.exit(1)


# ---------------------------------------------------------------- calls
@click.group()
def calls() -> None:
    """See the calls in the store."""


@calls.command("list")
@db_option
@click.option("--status", type=click.Choice(["queued", "running", "scored", "failed"]),
              help="Only calls in this state.")
@click.option("--agent", help="Only this agent's calls (extension).")
@click.option("--flagged", is_flag=True, help="Only flagged calls.")
@click.option("--since", help="Only calls from this time on (as for batch).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
              help="At most N calls, newest first.")
@json_option()
@click.pass_context
def calls_list(ctx: click.Context, db: str | None, status: str | None, agent: str | None, flagged: bool,
               since: str | None, limit: int, as_json: bool) -> None:
    """Stored calls, newest first: state, agent, score, flag."""
    from callaudit import periods
    from callaudit.reports.shown import printable
    from callaudit.store.db import open_store
    from callaudit.store.queries import list_calls

    since_at = periods.since(since) if since else None
    store = open_store(db, config_of(ctx))
    with store.session() as s:
        out = list_calls(s, status=status, agent=agent, flagged=flagged, since=since_at, limit=limit)
    store.close()
    if as_json:
        echo_json(out)
        return
    if not out:
        click.echo("no calls stored yet: run `callaudit batch FOLDER`")
        return
    click.echo(f"{'id':16}  {'status':7}  {'when':16}  {'agent':18}  {'dur':>5}  {'score':>5}  {'':7}  file")
    for r in out:
        who = ""
        if r["agent"]:
            who = r["agent"]["extension"] + (f" {r['agent']['name']}" if r["agent"]["name"] else "")
        when = r["started_at"][:16].replace("T", " ") if r["started_at"] else ""
        dur = f"{r['duration']:.0f}s" if r["duration"] is not None else ""
        score = f"{r['score']:g}" if r["score"] is not None else ""
        flag = "FLAGGED" if r["flagged"] else ""
        tail = printable(r["file"] if r["status"] != "failed" else f"{r['file']}: {r['error']}")
        click.echo(f"{r['id'] or '-':16}  {r['status']:7}  {when:16}  {who[:18]:18}  {dur:>5}  {score:>5}  {flag:7}  {tail}")


@calls.command("show")
@click.argument("ident", metavar="ID")
@db_option
@json_option("Print the stored call, its verdict and score history as JSON.")
@click.pass_context
def calls_show(ctx: click.Context, ident: str, db: str | None, as_json: bool) -> None:
    """One stored call: metadata, the current verdict with its evidence, and earlier scores."""
    from callaudit.reports.redact import Redactor, redact_result
    from callaudit.reports.scorecard import print_scorecard
    from callaudit.reports.shown import printable
    from callaudit.store.db import open_store
    from callaudit.store.queries import call_summary, find_call

    cfg = config_of(ctx)
    store = open_store(db, cfg)
    with store.session() as s:
        call = find_call(s, ident)
        current = call.current_score
        data = {"call": call_summary(call, current), "meta": call.meta,
                # Numbers customers dictated are masked in every transcript shown (see redact.py).
                "verdict": redact_result(current.verdict, Redactor.from_config(cfg)) if current else None,
                "scores": [{"score": sc.score, "flagged": sc.flagged, "current": sc.is_current,
                            "rules_version": sc.rules_version, "model": sc.model_name,
                            "scored_at": sc.scored_at.isoformat(), "worker": sc.worker} for sc in call.scores]}
    store.close()
    if as_json:
        echo_json(data)
        return
    c = data["call"]
    who = f"{c['agent']['extension']} {c['agent']['name']}".strip() if c["agent"] else "unknown agent"
    click.echo(f"call {c['id']}  {c['status']}  {who}  {c['started_at'] or ''}")
    click.echo(f"  file {printable(c['file'])}")
    click.echo(f"  sha256 {c['sha256']}  src {c['src'] or '-'}  dst {c['dst'] or '-'}  uniqueid {c['uniqueid'] or '-'}")
    if c["error"]:
        click.echo(f"  failed: {c['error']}")
    if len(data["scores"]) > 1:
        click.echo(f"  scored {len(data['scores'])} times; earlier: "
                   + ", ".join(f"{x['score']:g} ({x['rules_version']}, {x['scored_at'][:16]})"
                               for x in data["scores"] if not x["current"]))
    if data["verdict"]:
        print_scorecard(data["verdict"])
