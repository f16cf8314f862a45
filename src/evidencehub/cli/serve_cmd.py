"""``evidencehub serve`` (the web API) and ``evidencehub worker`` (task-queue consumers)."""

from __future__ import annotations

import os
import shutil
from typing import Annotated

import typer

from evidencehub.cli.context import cli_context
from evidencehub.cli.output import console


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        ctx: typer.Context,
        host: Annotated[str | None, typer.Option(help="Address to listen on (web.host).")] = None,
        port: Annotated[int | None, typer.Option(help="Port to listen on (web.port).")] = None,
        workers: Annotated[int | None, typer.Option(min=1, help="Worker processes (web.workers).")] = None,
    ) -> None:
        """Run the web API (migrating the database first); consumes the embedded task queue too."""
        import uvicorn

        from evidencehub.auth.tokens import ensure_jwt_secret
        from evidencehub.tasks.queue import describe_queue

        context = cli_context(ctx)
        settings = context.settings
        web = settings.web.model_copy(
            update={
                key: value
                for key, value in {"host": host, "port": port, "workers": workers}.items()
                if value is not None
            }
        )
        database = context.database()
        ensure_jwt_secret(settings)  # written once, before several workers could race for it
        console.print(
            f"evidencehub serve · http://{web.host}:{web.port}/api/v1/docs · {database.display_url} · "
            f"queue {describe_queue(settings)}"
        )
        if web.workers > 1:
            # Counters summed across the worker processes for /metrics.
            metrics_dir = settings.data_dir / "prometheus"
            shutil.rmtree(metrics_dir, ignore_errors=True)
            metrics_dir.mkdir(parents=True)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
            uvicorn.run(
                "evidencehub.web.main:app",
                factory=True,
                host=web.host,
                port=web.port,
                workers=web.workers,
                log_config=None,
                access_log=False,
                proxy_headers=True,
                # A worker imports and builds the app before answering the parent's
                # health check; on a busy machine that takes longer than the 5 s default.
                timeout_worker_healthcheck=60,
            )
            return
        from evidencehub.web import create_app

        uvicorn.run(
            create_app(settings, database=database),
            host=web.host,
            port=web.port,
            log_config=None,
            access_log=False,
            proxy_headers=True,
        )

    @app.command()
    def worker(
        ctx: typer.Context,
        workers: Annotated[int, typer.Option("--workers", min=1, help="Worker threads.")] = 2,
    ) -> None:
        """Consume the task queue (reports, promotions…) until interrupted."""
        from huey.consumer import Consumer

        from evidencehub.tasks.queue import describe_queue, get_queue

        context = cli_context(ctx)
        settings = context.settings
        context.database()
        console.print(f"evidencehub worker · {workers} thread(s) · queue {describe_queue(settings)}")
        consumer = Consumer(get_queue(settings).huey, workers=workers, worker_type="thread", periodic=True)
        consumer.run()
