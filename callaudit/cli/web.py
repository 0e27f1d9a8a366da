"""`callaudit serve`: the workspace (HR reviews, agents appeal) on the call store."""

from __future__ import annotations

import click

from callaudit.cli.options import config_of, db_option


@click.command()
@click.option("--host", help="Address to listen on (default: [web] host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: [web] port, 8080).")
@db_option
@click.pass_context
def serve(ctx, host, port, db) -> None:
    """Serve the workspace: the review queue, calls with audio and evidence, agents, department,
    calibration, listen-ins. Accounts come from `callaudit users add`."""
    import uvicorn

    from callaudit.store.db import open_store
    from callaudit.store.schema import UserRow
    from callaudit.web.app import create_app, secret_of

    cfg = config_of(ctx)
    host, port = host or cfg.web.host, port or cfg.web.port
    store = open_store(db, cfg)
    with store.session() as s:
        anyone = s.query(UserRow.id).first() is not None
    _, where = secret_of(cfg)
    click.echo(f"callaudit workspace on http://{host}:{port}/ (store {store.shown}; session key {where})")
    if not anyone:
        click.echo("no accounts yet: create the first with `callaudit users add NAME --role admin --password-stdin`")
    app = create_app(cfg, store)
    try:
        # Access lines carry paths and addresses only: no form bodies, so no password, ever.
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, server_header=False,
                    proxy_headers=False)
    finally:
        store.close()
