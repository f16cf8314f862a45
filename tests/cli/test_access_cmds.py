"""``evidencehub users|tokens`` for bootstrapping access, and ``serve`` end to end."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from evidencehub.config import Settings
from tests.support.cli import CliRunner
from tests.support.web import set_fast_web_env


@pytest.fixture(autouse=True)
def _fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    set_fast_web_env(monkeypatch)


def test_users_create_prints_a_generated_password_once(cli: CliRunner, settings: Settings) -> None:
    created = cli(
        "users", "create", "--org", "acme", "--email", "Boss@Acme.test", "--role", "admin", "--json"
    )
    assert created.exit_code == 0, created.stderr
    body = created.json()
    assert body["email"] == "boss@acme.test" and body["role"] == "admin" and body["organization"] == "acme"
    assert len(body["password"]) >= 20
    listed = cli("users", "list", "--org", "acme", "--json")
    assert [member["email"] for member in listed.json()] == ["boss@acme.test"]
    assert "password" not in listed.stdout
    again = cli("users", "create", "--org", "acme", "--email", "boss@acme.test", "--role", "viewer")
    assert again.exit_code == 5 and "already" in again.stderr


def test_users_create_reads_the_password_from_stdin(
    cli: CliRunner, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough password\n"))
    created = cli(
        "users", "create", "--email", "ana@acme.test", "--role", "tester", "--password-stdin", "--json"
    )
    assert created.exit_code == 0, created.stderr
    assert "password" not in created.json()
    bad_role = cli("users", "create", "--email", "x@acme.test", "--role", "owner")
    assert bad_role.exit_code == 2 and "viewer, tester, release_manager, admin" in bad_role.stderr


def test_tokens_create_list_and_revoke(cli: CliRunner, settings: Settings) -> None:
    assert cli("init").exit_code == 0
    created = cli("tokens", "create", "--name", "jenkins", "--scope", "results:ingest", "--json")
    assert created.exit_code == 0, created.stderr
    token = created.json()
    assert token["token"].startswith("ehp_") and token["scopes"] == ["results:ingest"]
    listed = cli("tokens", "list", "--json")
    assert listed.json()[0]["prefix"] == token["prefix"] and token["token"] not in listed.stdout
    assert cli("tokens", "revoke", str(token["id"])).exit_code == 0
    assert cli("tokens", "list", "--json").json()[0]["revoked_at"] is not None
    refused = cli("tokens", "create", "--name", "x", "--scope", "users:manage")
    assert refused.exit_code == 2


def test_init_writes_a_private_jwt_secret(cli: CliRunner, settings: Settings) -> None:
    assert cli("init").exit_code == 0
    secret = settings.data_dir / "jwt-secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    shown = cli("config", "show", "--json").json()
    assert shown["auth"]["jwt_secret"] is None
    assert secret.read_text().strip() not in cli("config", "show").stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_serve_answers_and_stops_cleanly(tmp_path: Path) -> None:
    """Once, on the embedded default (SQLite and the SQLite queue in a fresh data dir)."""
    port = _free_port()
    env = {**os.environ, "EVIDENCEHUB_LOG__FORMAT": "json", "EVIDENCEHUB_DATA_DIR": str(tmp_path / "data")}
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("evidencehub")), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=5)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(process.communicate()[1][-2000:]) from None
                time.sleep(0.2)
        assert ready.status_code == 200 and ready.json()["checks"]["queue"]["status"] == "ok"
        docs = httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=5).json()
        assert "/api/v1/runs" in docs["paths"]
    finally:
        process.terminate()
        _out, err = process.communicate(timeout=30)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal (exit -15).
    assert process.returncode in (0, -15), err[-2000:]
    assert "Application shutdown complete" in err
    assert '"request_id"' in err  # JSON access lines carry the request id
    assert "Traceback" not in err
