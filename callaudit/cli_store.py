"""The store's commands: `db`, `batch`, `worker`, `calls`. Wiring only; the work is in store, queue,
batch, recordings and progress."""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from . import config as config_mod
from .errors import CallauditError

DB_HELP = ("Database: a SQLite file path or a postgresql://user:password@host/db URL "
           "(default: $CALLAUDIT_DB, else [store] db, else ./callaudit.db).")


def _config(ctx: click.Context) -> config_mod.Config:
    return ctx.find_object(dict)["config"]()


def _db_option(f):
    return click.option("--db", envvar="CALLAUDIT_DB", help=DB_HELP)(f)


def _db_errors(f):
    """A database that fails mid-command (server restarted, disk full, lock timeout) is one line, not a traceback."""
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        from sqlalchemy.exc import SQLAlchemyError

        from .store import error_line

        try:
            return f(*args, **kwargs)
        except SQLAlchemyError as e:
            raise CallauditError(f"database error: {error_line(e)}; nothing half-written was kept, run the "
                                 "command again") from None
    return wrapper


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


# ---------------------------------------------------------------- db
@click.group()
def db() -> None:
    """Create and upgrade the call store."""


@db.command("upgrade")
@_db_option
@click.pass_context
@_db_errors
def db_upgrade(ctx: click.Context, db: str | None) -> None:
    """Bring the database's schema up to date (also done automatically on first use)."""
    from .store import connect, resolve_url, upgrade

    store = connect(resolve_url(db, _config(ctx)))
    before, now = upgrade(store)
    state = "already up to date" if before == now else f"upgraded from {before or 'an empty database'}"
    click.echo(f"{store.shown}: schema at revision {now} ({state})")


@db.command("status")
@_db_option
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
@_db_errors
def db_status(ctx: click.Context, db: str | None, as_json: bool) -> None:
    """The schema revision and how many calls are in each state."""
    from sqlalchemy import func, select

    from .schema import Call
    from .store import connect, resolve_url, revisions

    store = connect(resolve_url(db, _config(ctx)))
    current, head = revisions(store)
    counts: dict[str, int] = {}
    if current:
        with store.session() as s:
            counts = dict(s.execute(select(Call.status, func.count()).group_by(Call.status)).all())
    if as_json:
        _echo_json({"db": store.shown, "revision": current, "head": head, "calls": counts})
        return
    click.echo(f"{store.shown}: revision {current or 'none (run callaudit db upgrade)'}, newest {head}")
    for status, n in sorted(counts.items()):
        click.echo(f"  {status:8} {n}")


# ---------------------------------------------------------------- batch / worker
def _check_model(cfg) -> None:
    from . import models

    mc = cfg["model"]
    models.resolve(mc["name"], Path(mc["dir"]) if mc["dir"] else None)


def _stop_on_sigterm() -> None:
    """Ctrl-C, `systemctl stop`, `kill`: stop at once, handing the calls in hand back to the queue."""
    from .batch import request_stop

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)


def _settings(ctx: click.Context, store, rules: str | None, run_id: int, cfg, forever: bool = False):
    from .batch import WorkerSettings

    st = cfg["store"]
    if st["lease_seconds"] <= 0 or st["poll_seconds"] <= 0 or st["max_attempts"] < 1:
        raise CallauditError(f"{cfg.source}: [store] lease_seconds and poll_seconds must be above 0, "
                             "max_attempts at least 1")
    return WorkerSettings(db=store.url.render_as_string(hide_password=False), config=cfg, rules=rules,
                          run_id=run_id, forever=forever)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--since", help="Only calls from this time on: today, yesterday, 2026-11-24, "
                              "'2026-11-24 18:00', 3d, 12h.")
@click.option("--workers", type=click.IntRange(min=0),
              help="Worker processes, each loading the model once (default [batch] workers); "
                   "0 = only queue the calls, for `callaudit worker` on other machines.")
@click.option("--limit", type=click.IntRange(min=1), help="Queue at most N calls in this run.")
@click.option("--rescore", is_flag=True, help="Score again calls that are already scored (the old score is kept).")
@click.option("--retry-failed", is_flag=True, help="Try again files that failed in an earlier run.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_db_option
@click.option("--lang", type=click.Choice(config_mod.LANGUAGES),
              help="Language of calls that have no sidecar saying otherwise (default: from config).")
@click.option("--rules", type=click.Path(dir_okay=False), help="Rule pack file (default: by language).")
@click.option("--model", help="Model name or folder (default: from config).")
@click.option("--cdr", multiple=True, type=click.Path(dir_okay=False),
              help="A CDR CSV with the calls' metadata (repeatable; CSVs in the folders are read too).")
@click.pass_context
@_db_errors
def batch(ctx: click.Context, paths: tuple[str, ...], since: str | None, workers: int | None, limit: int | None,
          rescore: bool, retry_failed: bool, as_json: bool, db: str | None, lang: str | None, rules: str | None,
          model: str | None, cdr: tuple[str, ...]) -> None:
    """Score every new recording under PATHS and store the verdicts; safe to re-run and to kill."""
    from . import recordings
    from .batch import begin_run, finish_run, run_pool
    from .progress import BatchProgress, print_summary
    from .queue import enqueue, sync_roster
    from .store import open_store

    cfg = _config(ctx).with_overrides(model__name=model, transcription__language=lang)
    since_at = recordings.parse_since(since) if since else None
    workers = cfg["batch"]["workers"] if workers is None else workers
    if workers > 0:  # a missing model should stop the batch before it hashes a night's recordings
        _check_model(cfg)
    reader = recordings.MetadataReader(cfg, [Path(c) for c in cdr])
    files = list(recordings.find(paths, cfg["batch"]["extensions"]))
    reader.index_cdrs(files, recordings.find_cdrs(paths))
    store = open_store(db, cfg)
    with store.session() as s:
        sync_roster(s, config_mod.roster(cfg))
    options = {"paths": [os.path.abspath(p) for p in paths], "since": since, "workers": workers, "limit": limit,
               "rescore": rescore, "retry_failed": retry_failed, "language": cfg["transcription"]["language"],
               "model": cfg["model"]["name"], "config": cfg.source}
    run_id = begin_run(store, "batch", options)
    settings = _settings(ctx, store, rules, run_id, cfg)
    view = BatchProgress()
    _stop_on_sigterm()
    try:
        with view:
            enq = enqueue(store, files, reader, run_id=run_id, language=cfg["transcription"]["language"],
                          since=since_at, limit=limit, rescore=rescore, retry_failed=retry_failed,
                          min_age=cfg["batch"]["min_age_seconds"], progress=lambda n: view.finding(n, len(files)))
            if workers > 0 and enq.queued:
                view.scoring(len(enq.queued))
                run_pool(settings, workers, view)
    except KeyboardInterrupt:
        click.echo("callaudit: interrupted; calls in hand went back to the queue: run the same batch again "
                   "to finish", err=True)
        sys.exit(130)
    summary = finish_run(store, run_id, enq, view.tally)
    store.close()
    if as_json:
        _echo_json(summary)
    else:
        print_summary(summary, click.echo)
    if summary["failed"]:
        sys.exit(1)


@click.command()
@_db_option
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes on this machine, each loading the model once.")
@click.option("--forever", is_flag=True, help="Keep waiting for new calls instead of stopping when the queue is empty.")
@click.option("--rules", type=click.Path(dir_okay=False), help="Rule pack file (default: by language).")
@click.option("--model", help="Model name or folder (default: from config).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
@_db_errors
def worker(ctx: click.Context, db: str | None, workers: int, forever: bool, rules: str | None, model: str | None,
           as_json: bool) -> None:
    """Score calls queued by `callaudit batch` (this machine joins a shared PostgreSQL queue)."""
    from .batch import begin_run, run_pool, worker_summary
    from .progress import BatchProgress
    from .queue import backlog
    from .store import open_store

    cfg = _config(ctx).with_overrides(model__name=model)
    _check_model(cfg)
    store = open_store(db, cfg)
    run_id = begin_run(store, "worker", {"workers": workers, "forever": forever, "model": cfg["model"]["name"],
                                         "config": cfg.source})
    settings = _settings(ctx, store, rules, run_id, cfg, forever)
    view = BatchProgress()
    _stop_on_sigterm()
    try:
        with view:
            b = backlog(store)
            view.scoring(b.queued + b.running)
            run_pool(settings, workers, view)
    except KeyboardInterrupt:
        click.echo("callaudit: interrupted; calls in hand went back to the queue", err=True)
        sys.exit(130)
    summary = worker_summary(store, run_id, view.tally)
    store.close()
    if as_json:
        _echo_json(summary)
    else:
        click.echo(f"worker run {run_id} ({summary['db']}): scored {summary['scored']}, failed {summary['failed']}, "
                   f"{summary['audio_seconds'] / 60:.1f} min of audio in {summary['wall_seconds']:.0f} s")
    if summary["failed"]:
        sys.exit(1)


# ---------------------------------------------------------------- calls
@click.group()
def calls() -> None:
    """See the calls in the store."""


def _call_row(c, score) -> dict[str, Any]:
    return {
        "id": c.public_id, "sha256": c.sha256, "file": c.path, "status": c.status, "error": c.error,
        "started_at": c.started_at.isoformat() if c.started_at else None,
        "agent": {"extension": c.extension, "name": c.agent.name if c.agent else "",
                  "department": c.agent.department if c.agent else ""} if c.extension else None,
        "src": c.src, "dst": c.dst, "uniqueid": c.uniqueid, "language": c.language, "duration": c.duration,
        "channels": c.channels, "attempts": c.attempts,
        "score": score.score if score else None, "flagged": score.flagged if score else None,
        "rules_version": score.rules_version if score else None, "model": score.model_name if score else None,
        "scored_at": score.scored_at.isoformat() if score else None,
    }


@calls.command("list")
@_db_option
@click.option("--status", type=click.Choice(["queued", "running", "scored", "failed"]),
              help="Only calls in this state.")
@click.option("--agent", help="Only this agent's calls (extension).")
@click.option("--flagged", is_flag=True, help="Only flagged calls.")
@click.option("--since", help="Only calls from this time on (as for batch).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
              help="At most N calls, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
@_db_errors
def calls_list(ctx: click.Context, db: str | None, status: str | None, agent: str | None, flagged: bool,
               since: str | None, limit: int, as_json: bool) -> None:
    """Stored calls, newest first: state, agent, score, flag."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import joinedload

    from .recordings import parse_since
    from .schema import Call, Score
    from .store import open_store

    store = open_store(db, _config(ctx))
    with store.session() as s:
        q = (select(Call, Score).outerjoin(Score, (Score.call_id == Call.id) & Score.is_current)
             .options(joinedload(Call.agent)))
        if status:
            q = q.where(Call.status == status)
        if agent:
            q = q.where(Call.extension == agent)
        if flagged:
            q = q.where(Score.flagged.is_(True))
        if since:
            q = q.where(func.coalesce(Call.started_at, Call.queued_at) >= parse_since(since))
        rows = s.execute(q.order_by(func.coalesce(Call.started_at, Call.queued_at).desc(), Call.id.desc())
                         .limit(limit)).all()
        out = [_call_row(c, sc) for c, sc in rows]
    store.close()
    if as_json:
        _echo_json(out)
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
        tail = r["file"] if r["status"] != "failed" else f"{r['file']}: {r['error']}"
        click.echo(f"{r['id']:16}  {r['status']:7}  {when:16}  {who[:18]:18}  {dur:>5}  {score:>5}  {flag:7}  {tail}")


def _find_call(s, ident: str):
    from sqlalchemy import select

    from .schema import Call

    ident = ident.strip().lower()
    if ident.isdigit() and len(ident) < 6:
        call = s.get(Call, int(ident))
        if call:
            return call
    if len(ident) < 6 or any(ch not in "0123456789abcdef" for ch in ident):
        raise CallauditError(f"no call {ident!r}: give the id from `callaudit calls list` (at least 6 hex digits)")
    found = s.scalars(select(Call).where(Call.sha256.like(ident + "%")).limit(2)).all()
    if not found:
        raise CallauditError(f"no call {ident!r} in the store: see `callaudit calls list`")
    if len(found) > 1:
        raise CallauditError(f"call id {ident!r} is ambiguous: give more digits")
    return found[0]


@calls.command("show")
@click.argument("ident", metavar="ID")
@_db_option
@click.option("--json", "as_json", is_flag=True, help="Print the stored call, its verdict and score history as JSON.")
@click.pass_context
@_db_errors
def calls_show(ctx: click.Context, ident: str, db: str | None, as_json: bool) -> None:
    """One stored call: metadata, the current verdict with its evidence, and earlier scores."""
    from .redact import Redactor, redact_result
    from .scorecard import print_scorecard
    from .store import open_store

    store = open_store(db, _config(ctx))
    with store.session() as s:
        call = _find_call(s, ident)
        current = call.current_score
        data = {"call": _call_row(call, current), "meta": call.meta,
                # Numbers customers dictated are masked in every transcript shown (see redact.py).
                "verdict": redact_result(current.verdict, Redactor.from_config(_config(ctx))) if current else None,
                "scores": [{"score": sc.score, "flagged": sc.flagged, "current": sc.is_current,
                            "rules_version": sc.rules_version, "model": sc.model_name,
                            "scored_at": sc.scored_at.isoformat(), "worker": sc.worker} for sc in call.scores]}
    store.close()
    if as_json:
        _echo_json(data)
        return
    c = data["call"]
    who = f"{c['agent']['extension']} {c['agent']['name']}".strip() if c["agent"] else "unknown agent"
    click.echo(f"call {c['id']}  {c['status']}  {who}  {c['started_at'] or ''}")
    click.echo(f"  file {c['file']}")
    click.echo(f"  sha256 {c['sha256']}  src {c['src'] or '-'}  dst {c['dst'] or '-'}  uniqueid {c['uniqueid'] or '-'}")
    if c["error"]:
        click.echo(f"  failed: {c['error']}")
    if len(data["scores"]) > 1:
        click.echo(f"  scored {len(data['scores'])} times; earlier: "
                   + ", ".join(f"{x['score']:g} ({x['rules_version']}, {x['scored_at'][:16]})"
                               for x in data["scores"] if not x["current"]))
    if data["verdict"]:
        print_scorecard(data["verdict"])
