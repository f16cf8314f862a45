"""Entry point: global options, command registration, and errors → exit codes.

Exit codes: 0 ok, 1 unexpected, 2 bad input (and usage errors), 3 configuration
error, 4 not found, 5 conflict, 6 remote error (and a publish job that failed),
7 unavailable — see errors.py; 130 a job stopped by Ctrl-C (resumable).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from evidencehub import __version__
from evidencehub.cli import (
    audit_cmd,
    config_cmd,
    demo_cmd,
    emulate_cmd,
    ingest_cmd,
    init_cmd,
    octane_cmd,
    promote_cmd,
    publish_cmd,
    runs_cmd,
    serve_cmd,
    triage_cmd,
    users_cmd,
    xray_cmd,
)
from evidencehub.cli.context import CliContext
from evidencehub.cli.output import print_error
from evidencehub.errors import EvidenceHubError

app = typer.Typer(
    name="evidencehub",
    help="Test evidence per build: ingest, triage, audit, publish.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"evidencehub {__version__}")
        raise typer.Exit


@app.callback()
def main_options(
    ctx: typer.Context,
    env: Annotated[
        str | None,
        typer.Option("--env", envvar="EVIDENCEHUB_ENV", help="Named environment from the config file."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", envvar="EVIDENCEHUB_CONFIG_FILE", help="YAML config file with environments."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", envvar="EVIDENCEHUB_DATA_DIR", help="Where local state lives."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Global options apply to every command."""
    ctx.obj = CliContext(env=env, config_file=config, overrides={"data_dir": data_dir})


init_cmd.register(app)
ingest_cmd.register(app)
demo_cmd.register(app)
audit_cmd.register(app)
serve_cmd.register(app)
app.add_typer(runs_cmd.app, name="runs")
app.add_typer(config_cmd.app, name="config")
app.add_typer(users_cmd.users_app, name="users")
app.add_typer(users_cmd.tokens_app, name="tokens")
app.add_typer(triage_cmd.app, name="triage")
app.add_typer(publish_cmd.app, name="publish")
app.add_typer(octane_cmd.app, name="octane")
app.add_typer(xray_cmd.app, name="xray")
app.add_typer(emulate_cmd.app, name="emulate")
app.add_typer(promote_cmd.app, name="promote")


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (tests call this directly)."""
    command = typer.main.get_command(app)
    try:
        # Standalone mode renders usage errors (exit 2) and always ends in SystemExit.
        command.main(args=argv, prog_name="evidencehub", standalone_mode=True)
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except EvidenceHubError as error:
        print_error(error)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def main() -> None:
    sys.exit(run())
