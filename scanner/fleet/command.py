"""``civiscan worker``: a Celery worker running the scan jobs that coordinators enqueue.

This module imports no Celery until the command runs, so ``civiscan --help``
stays fast.
"""

from __future__ import annotations

import os
import re
import socket

import click

from ..cli import Fail, db_option, open_store, plugin_registry

_ZONE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@click.command("worker")
@click.option("--broker", metavar="URL", envvar="CIVISCAN_BROKER",
              help="Redis broker, redis://HOST:PORT/DB or rediss:// (TLS); the password comes from CIVISCAN_BROKER_PASSWORD.")
@click.option("--queue", "queues", multiple=True, metavar="ZONE",
              help="Take the jobs of this network zone (repeatable); 'default' is the queue of assets with no zone (the default).")
@click.option("--concurrency", type=click.IntRange(1, 1024), default=8, show_default=True, help="Jobs run at once.")
@click.option("--pool", type=click.Choice(["threads", "prefork", "solo"]), default="threads", show_default=True,
              help="Celery pool: threads (jobs wait on the network), prefork (one process per job), solo.")
@click.option("--name", metavar="NAME", help="Worker name (default civiscan-PID@HOST).")
@click.option("--loglevel", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True, help="How much the worker logs (to stderr).")
@db_option
@click.option("--disable-plugin", "disabled", multiple=True, metavar="NAME", help="Do not load this plugin (repeatable).")
def worker(broker: str | None, queues: tuple[str, ...], concurrency: int, pool: str, name: str | None,
           loglevel: str, db: str | None, disabled: tuple[str, ...]) -> None:
    """Run scan jobs from the broker (civiscan scan --engine celery enqueues them).

    Each job's asset is admitted through the scope the job carries before any
    packet leaves this machine. Advisory feeds come from this worker's own
    store (--db). Stop with Ctrl-C or SIGTERM: running jobs finish, the rest
    stay queued.
    """
    from .broker import BrokerConfig
    from .keys import DEFAULT_QUEUE, queue_for

    for zone in queues:
        if zone != "default" and not _ZONE.match(zone):
            raise Fail(f"--queue {zone!r}: a zone is lower-case letters, digits, - or _")
    config = BrokerConfig.load(broker)  # a ConfigError is printed as file:line:col by the CLI (exit 2)
    names = sorted({DEFAULT_QUEUE if z == "default" else queue_for(z) for z in queues} or {DEFAULT_QUEUE})
    registry = plugin_registry(disabled)
    store = open_store(db)
    pid, host = os.getpid(), socket.gethostname()
    node = name or f"civiscan-{pid}@{host}"

    from . import worker as job_worker
    from .app import make_app

    job_worker.configure(config, registry, store, concurrency, node)
    app = make_app(config)
    job_worker.register(app)
    click.echo(f"worker {node}: broker {config.url}, queues {', '.join(names)}, {pool} pool of {concurrency}", err=True)
    app.worker_main(argv=["worker", "--hostname", node, "--queues", ",".join(names), "--concurrency", str(concurrency),
                          "--pool", pool, "--loglevel", loglevel.upper(), "--without-gossip", "--without-mingle",
                          "--without-heartbeat"])
