"""`callaudit jobs list|retry`: the PostgreSQL queue's jobs (procrastinate's, jobs/pgqueue.py). Wiring only."""

from __future__ import annotations

import click

from callaudit.cli.options import config_of, db_option, echo_json, json_option
from callaudit.errors import CallauditError

STATUSES = ["todo", "doing", "succeeded", "failed", "cancelled", "aborted"]


def _queue_store(ctx: click.Context, db: str | None):
    from callaudit.store.db import open_store

    cfg = config_of(ctx)
    store = open_store(db, cfg)
    if store.dialect != "postgresql":
        store.close()
        raise CallauditError(f"{store.shown}: jobs are kept by the PostgreSQL queue; a SQLite store has none "
                             "(see `callaudit calls list --status failed`)")
    return cfg, store


@click.group()
def jobs() -> None:
    """See and retry the jobs of the PostgreSQL queue."""


@jobs.command("list")
@db_option
@click.option("--status", type=click.Choice(STATUSES), help="Only jobs in this state.")
@click.option("--retried", is_flag=True, help="Only jobs put back in the queue at least once (a failure retried, "
                                            "a dead worker's job, `jobs retry`).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most N jobs, newest first.")
@json_option()
@click.pass_context
def jobs_list(ctx: click.Context, db: str | None, status: str | None, retried: bool, limit: int,
              as_json: bool) -> None:
    """Jobs, newest first: status, runs that ended, times retried, the call and its file, the call's error."""
    from callaudit.reports.shown import printable
    from callaudit.store.queue_rows import jobs as list_jobs

    _, store = _queue_store(ctx, db)
    out = list_jobs(store, status=status, retried=retried, limit=limit)
    store.close()
    if as_json:
        echo_json(out)
        return
    if not out:
        click.echo("no jobs")
        return
    click.echo(f"{'job':>7}  {'task':14}  {'status':9}  {'runs':>4}  {'retried':>7}  {'moved':16}  {'call':16}  "
               "file / error")
    for j in out:
        moved = (j["moved_at"] or "")[:16].replace("T", " ")
        what = j["file"] or ", ".join(f"{k}={v}" for k, v in (j["args"] or {}).items())
        if j["error"]:
            what = f"{what}: {j['error']}"
        click.echo(f"{j['id']:>7}  {j['task'][:14]:14}  {j['status']:9}  {j['attempts']:>4}  {j['retries']:>7}  "
                   f"{moved:16}  {j['call'] or '-':16}  {printable(what)}")


@jobs.command("retry")
@click.argument("ids", nargs=-1, type=int, metavar="[ID]...")
@click.option("--failed", "all_failed", is_flag=True, help="Retry every failed job.")
@db_option
@click.pass_context
def jobs_retry(ctx: click.Context, ids: tuple[int, ...], all_failed: bool, db: str | None) -> None:
    """Put failed jobs back in the queue now (their failed calls are queued again)."""
    from callaudit.jobs.pgqueue import retry
    from callaudit.store.queue_rows import job_ids

    if not ids and not all_failed:
        raise CallauditError("jobs retry: name job IDs or --failed")
    cfg, store = _queue_store(ctx, db)
    wanted = list(ids) + (job_ids(store, "failed") if all_failed else [])
    done = retry(store.url.render_as_string(hide_password=False), cfg, store, wanted)
    store.close()
    missed = sorted(set(wanted) - set(done))
    click.echo(f"{len(done)} job(s) back in the queue" + (f"; not failed nor running: {missed}" if missed else ""))
