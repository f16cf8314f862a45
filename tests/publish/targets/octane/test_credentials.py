"""Octane credentials: settings first, else the per-space file in any documented form; no secret in errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from evidencehub.config import OctaneSettings
from evidencehub.errors import ConfigError
from evidencehub.publish.targets.octane.credentials import credentials_file, resolve_credentials

SECRET = "s3cr3t-value-never-shown"


def settings_for(tmp_path: Path, **changes: object) -> OctaneSettings:
    return OctaneSettings.model_validate({"credentials_path": str(tmp_path / "S-{space_id}"), **changes})


@pytest.mark.parametrize(
    "content",
    [
        f"client_id: ci-key\nclient_secret: {SECRET}\n",
        f"# Octane key for space 1001\nclient_id=ci-key\nclient_secret='{SECRET}'\n",
        json.dumps({"client_id": "ci-key", "client_secret": SECRET}),
        f"user: ci-key\npassword: {SECRET}\n",
    ],
)
def test_the_credentials_file_of_the_space_is_read_in_each_format(tmp_path: Path, content: str) -> None:
    path = tmp_path / "S-1001"
    path.write_text(content)
    path.chmod(0o600)
    credentials = resolve_credentials(settings_for(tmp_path))
    assert credentials.client_id == "ci-key"
    assert credentials.client_secret.get_secret_value() == SECRET
    assert credentials.source == str(path)
    assert SECRET not in repr(credentials)


def test_the_template_takes_the_space_id(tmp_path: Path) -> None:
    assert credentials_file(settings_for(tmp_path, space_id=4242)) == tmp_path / "S-4242"
    assert str(credentials_file(OctaneSettings())) == "/core/qzrelease/octane/S-1001"


def test_settings_win_over_the_file(tmp_path: Path) -> None:
    (tmp_path / "S-1001").write_text("client_id: from-file\nclient_secret: x\n")
    credentials = resolve_credentials(
        settings_for(tmp_path, client_id="from-env", client_secret=SecretStr("y"))
    )
    assert (credentials.client_id, credentials.source) == ("from-env", "settings")


def test_missing_credentials_name_the_file_and_the_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"S-1001.*does not exist") as raised:
        resolve_credentials(settings_for(tmp_path))
    assert "octane.client_id" in raised.value.message


def test_half_configured_credentials_say_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"octane\.client_secret is not set"):
        resolve_credentials(settings_for(tmp_path, client_id="only-id"))


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("client_id: x\n", "has no client_secret"),
        (f"client_secret: {SECRET}\n", "has no client_id"),
        (f"just a line with {SECRET}\n", "line 1: expected 'key: value'"),
        ('{"client_id": ', "not valid JSON"),
    ],
)
def test_a_broken_file_is_a_clear_error_without_the_secret(
    tmp_path: Path, content: str, problem: str
) -> None:
    (tmp_path / "S-1001").write_text(content)
    with pytest.raises(ConfigError, match=problem) as raised:
        resolve_credentials(settings_for(tmp_path))
    assert SECRET not in raised.value.message


def test_a_directory_is_not_a_credentials_file(tmp_path: Path) -> None:
    (tmp_path / "S-1001").mkdir()
    with pytest.raises(ConfigError, match="not a regular file"):
        resolve_credentials(settings_for(tmp_path))
