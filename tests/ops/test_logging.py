"""Secrets never reach a log line, not even through a traceback."""

from __future__ import annotations

import io
import json
import logging

import pytest

from evidencehub.config import MASK, LogSettings
from evidencehub.ops.logging import configure_logging, get_logger


def _fail_with_a_secret_in_scope() -> None:
    password = "hunter2-local"  # a local variable a rich traceback would print
    raise RuntimeError(f"cannot reach postgresql://admin:s3cr3t-pass@db.example/prod ({len(password)})")


@pytest.fixture(autouse=True)
def _restore_root_logger() -> object:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_an_exception_logged_shows_neither_locals_nor_url_passwords(log_format: str) -> None:
    stream = io.StringIO()
    configure_logging(LogSettings(format=log_format, level="info"), stream=stream)
    try:
        _fail_with_a_secret_in_scope()
    except RuntimeError:
        get_logger("test").exception("upload failed", api_token="tok-123456")
    output = stream.getvalue()
    assert "RuntimeError" in output  # the traceback itself is kept
    assert "_fail_with_a_secret_in_scope" in output
    for secret in ("hunter2-local", "s3cr3t-pass", "tok-123456"):
        assert secret not in output
    assert MASK in output


def test_json_lines_stay_parseable_with_a_traceback() -> None:
    stream = io.StringIO()
    configure_logging(LogSettings(format="json", level="info"), stream=stream)
    try:
        _fail_with_a_secret_in_scope()
    except RuntimeError:
        get_logger("test").exception("upload failed")
    record = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert record["event"] == "upload failed"
    assert "RuntimeError" in record["exception"]
    assert "s3cr3t-pass" not in record["exception"]
