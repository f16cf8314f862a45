"""``evidencehub emulate octane|xray``: emulators of the publishing targets (demos, manual tests)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from evidencehub.cli.output import console

app = typer.Typer(help="Run emulators of the remote systems evidencehub publishes to.", no_args_is_help=True)


# Options both emulators take, with one wording.
Host = Annotated[str, typer.Option(help="Address to listen on (keep it on loopback).")]
Port = Annotated[int, typer.Option(help="Port (0 picks a free one and prints it).")]
Fault500 = Annotated[float, typer.Option(min=0, max=1, help="Probability of a 500.")]
Fault502 = Annotated[float, typer.Option(min=0, max=1, help="Probability of a 502 (proxy).")]
Fault503 = Annotated[float, typer.Option(min=0, max=1, help="Probability of a 503.")]
Fault429 = Annotated[float, typer.Option(min=0, max=1, help="Probability of a 429 with Retry-After.")]
Seed = Annotated[int | None, typer.Option(help="Random seed for reproducible faults.")]
ExpireAfter = Annotated[
    int | None,
    typer.Option(min=1, help="A session (Xray: the Cloud token) expires after this many requests."),
]


def _pairs(values: list[str], label: str, shape: str, parameter: str) -> dict[str, str]:
    """``NAME:SECRET`` values as a mapping; a malformed one is refused naming where it came from."""
    from evidencehub.errors import InputError

    found: dict[str, str] = {}
    for pair in values:
        name, separator, secret = pair.partition(":")
        if not separator or not name or not secret:
            raise InputError(
                f"{label} {name or pair[:10]!r}…: expected {shape}", details={"parameter": parameter}
            )
        found[name] = secret
    return found


def _api_keys(pairs: list[str], credentials_file: Path | None) -> dict[str, str]:
    from evidencehub.publish.targets.octane.credentials import read_credentials_file

    from_env = os.environ.get("EVIDENCEHUB_EMULATOR_API_KEYS", "")
    listed = [*filter(None, (item.strip() for item in from_env.split(","))), *pairs]
    keys = _pairs(listed, "API key", "CLIENT_ID:SECRET", "api-key")
    if credentials_file is not None:
        credentials = read_credentials_file(credentials_file)
        keys[credentials.client_id] = credentials.client_secret.get_secret_value()
    return keys


def _common_faults(
    fault_500: float,
    fault_502: float,
    fault_503: float,
    fault_429: float,
    latency_ms: float,
    drop: float,
    seed: int | None,
) -> dict[str, Any]:
    """The faults both emulators inject, under their config's names."""
    return {
        "error_500": fault_500,
        "error_502": fault_502,
        "error_503": fault_503,
        "throttle_429": fault_429,
        "latency_ms": latency_ms,
        "drop_connection": drop,
        "seed": seed,
    }


def _serve(
    serve_forever: Callable[..., None],
    config: object,
    *,
    host: str,
    port: int,
    banner: str,
    warning: str | None,
) -> None:
    """Serve until Ctrl-C; once listening, print where (and ``warning``, if any) for whoever waits on it."""

    def ready(url: str) -> None:
        console.print(banner.format(url=url))
        if warning:
            console.print(f"[yellow]{warning}[/]")
        console.file.flush()

    serve_forever(config, host=host, port=port, ready=ready, log_level="warning")


@app.command("octane")
def emulate_octane(
    host: Host = "127.0.0.1",
    port: Port = 8090,
    space_id: Annotated[int, typer.Option(help="Shared space id.")] = 1001,
    workspace_id: Annotated[int, typer.Option(help="Workspace id.")] = 1002,
    api_key: Annotated[
        list[str], typer.Option("--api-key", help="CLIENT_ID:SECRET accepted by sign-in (repeatable).")
    ] = [],  # noqa: B006
    credentials_file: Annotated[
        Path | None, typer.Option(help="Accept the key in this credentials file (client_id/client_secret).")
    ] = None,
    queue_limit: Annotated[
        int, typer.Option(min=0, help="Queued tasks above which uploads are refused.")
    ] = 50,
    tasks_per_second: Annotated[float, typer.Option(min=0, help="Processing rate (0 pauses).")] = 5.0,
    queue_full_mode: Annotated[str, typer.Option(help="Answer queue-full with 503 or 429.")] = "503",
    session_ttl: Annotated[float, typer.Option(help="Session lifetime in seconds.")] = 86400.0,
    expire_session_after: ExpireAfter = None,
    fault_500: Fault500 = 0.0,
    fault_502: Fault502 = 0.0,
    fault_503: Fault503 = 0.0,
    fault_429: Fault429 = 0.0,
    latency_ms: Annotated[float, typer.Option(min=0, help="Added latency per request.")] = 0.0,
    drop_connections: Annotated[
        float, typer.Option(min=0, max=1, help="Probability of a dropped response.")
    ] = 0.0,
    lost_tasks: Annotated[
        float, typer.Option(min=0, max=1, help="Probability an accepted task vanishes.")
    ] = 0.0,
    seed: Seed = None,
) -> None:
    """Serve an ALM Octane emulator until Ctrl-C. Control and counters: GET /__emulator__/counters."""
    from evidencehub.emulators.octane.config import EmulatorConfig, FaultConfig
    from evidencehub.emulators.octane.runner import serve_forever
    from evidencehub.errors import InputError

    if queue_full_mode not in ("503", "429"):
        raise InputError(
            f"--queue-full-mode must be 503 or 429, not {queue_full_mode!r}",
            details={"parameter": "queue-full-mode"},
        )
    keys = _api_keys(api_key, credentials_file)
    config = EmulatorConfig(
        space_id=space_id,
        workspace_id=workspace_id,
        api_keys=keys,
        queue_limit=queue_limit,
        tasks_per_second=tasks_per_second,
        queue_full_mode="429" if queue_full_mode == "429" else "503",  # narrowed for the type checker
        session_ttl_seconds=session_ttl,
        session_expire_after_requests=expire_session_after,
        faults=FaultConfig(
            **_common_faults(fault_500, fault_502, fault_503, fault_429, latency_ms, drop_connections, seed),
            lost_tasks=lost_tasks,
        ),
    )
    _serve(
        serve_forever,
        config,
        host=host,
        port=port,
        banner=f"Octane emulator listening on {{url}} (space {space_id}, workspace {workspace_id})",
        warning=None
        if keys
        else "no API keys configured: sign-in will refuse everyone (use --api-key ID:SECRET)",
    )


@app.command("xray")
def emulate_xray(
    host: Host = "127.0.0.1",
    port: Port = 8091,
    flavour: Annotated[str, typer.Option(help="server (Jira Server/DC) or cloud (Xray Cloud).")] = "server",
    user: Annotated[
        list[str], typer.Option("--user", help="Server: USER:PASSWORD accepted by Basic auth (repeatable).")
    ] = [],  # noqa: B006
    token: Annotated[
        list[str], typer.Option("--token", help="Server: personal access token accepted (repeatable).")
    ] = [],  # noqa: B006
    api_key: Annotated[
        list[str], typer.Option("--api-key", help="Cloud: CLIENT_ID:SECRET accepted (repeatable).")
    ] = [],  # noqa: B006
    project: Annotated[
        list[str], typer.Option("--project", help="Known project key (repeatable; default: any).")
    ] = [],  # noqa: B006
    rate_limit: Annotated[
        int | None, typer.Option(min=1, help="Requests per window per caller (Cloud Standard: 300).")
    ] = None,
    rate_window: Annotated[float, typer.Option(min=0.001, help="Rate-limit window in seconds.")] = 300.0,
    token_ttl: Annotated[float, typer.Option(min=0.001, help="Cloud token lifetime in seconds.")] = 86400.0,
    expire_token_after: ExpireAfter = None,
    fault_500: Fault500 = 0.0,
    fault_502: Fault502 = 0.0,
    fault_503: Fault503 = 0.0,
    fault_429: Fault429 = 0.0,
    latency_ms: Annotated[float, typer.Option(min=0, help="Added latency per import.")] = 0.0,
    drop_connections: Annotated[
        float, typer.Option(min=0, max=1, help="Probability an applied import's answer is cut off.")
    ] = 0.0,
    seed: Seed = None,
) -> None:
    """Serve a Jira Xray emulator until Ctrl-C. Read-back: GET /__emulator__/executions, …/counters."""
    from evidencehub.emulators.xray.config import XrayEmulatorConfig, XrayFaults
    from evidencehub.emulators.xray.runner import serve_forever
    from evidencehub.errors import InputError

    if flavour not in ("server", "cloud"):
        raise InputError(
            f"--flavour must be server or cloud, not {flavour!r}", details={"parameter": "flavour"}
        )

    config = XrayEmulatorConfig(
        flavour="cloud" if flavour == "cloud" else "server",
        users=_pairs(user, "--user", "NAME:SECRET", "--user"),
        tokens=list(token),
        api_keys=_pairs(api_key, "--api-key", "NAME:SECRET", "--api-key"),
        projects=list(project) or None,
        rate_limit_requests=rate_limit,
        rate_limit_window_seconds=rate_window,
        token_ttl_seconds=token_ttl,
        token_expire_after_requests=expire_token_after,
        faults=XrayFaults(
            **_common_faults(fault_500, fault_502, fault_503, fault_429, latency_ms, drop_connections, seed)
        ),
    )
    _serve(
        serve_forever,
        config,
        host=host,
        port=port,
        banner=f"Xray {flavour} emulator listening on {{url}}",
        warning=None
        if config.users or config.tokens or config.api_keys
        else "no credentials configured: every import will be refused (401)",
    )
