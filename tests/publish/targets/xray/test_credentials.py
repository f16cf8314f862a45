"""Xray credentials: settings first, then the credentials file; incomplete ones named, secrets never shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evidencehub.config import XraySettings
from evidencehub.errors import ConfigError
from evidencehub.publish.targets.xray.credentials import resolve_credentials


def test_settings_win_and_a_token_beats_basic() -> None:
    settings = XraySettings(user="ci", password="pw-1", token="pat-2")  # type: ignore[arg-type]
    credentials = resolve_credentials(settings, cloud=False)
    assert (credentials.kind, credentials.source) == ("token", "settings")
    assert "pat-2" not in repr(credentials)


@pytest.mark.parametrize(
    ("text", "cloud", "kind", "name"),
    [
        ("user: ci\npassword: 'pw 1'\n", False, "basic", "ci"),
        ("# Xray\ntoken=pat-xyz\n", False, "token", "personal access token"),
        ('{"client_id": "ABC", "client_secret": "s3"}', True, "client", "ABC"),
    ],
)
def test_the_credentials_file_forms(tmp_path: Path, text: str, cloud: bool, kind: str, name: str) -> None:
    path = tmp_path / "xray.credentials"
    path.write_text(text, encoding="utf-8")
    credentials = resolve_credentials(XraySettings(credentials_path=path), cloud=cloud)
    assert (credentials.kind, credentials.name, credentials.source) == (kind, name, str(path))


def test_incomplete_or_missing_credentials_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="client_secret is missing"):
        resolve_credentials(XraySettings(client_id="ABC"), cloud=True)
    with pytest.raises(ConfigError, match=re.escape("xray.token, or xray.user and xray.password")):
        resolve_credentials(XraySettings(), cloud=False)
    path = tmp_path / "creds"
    path.write_text("user ci\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="line 1: expected 'key: value'"):
        resolve_credentials(XraySettings(credentials_path=path), cloud=False)
    path.write_text("client_id: ABC\nclient_secret: zz-secret\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="holds no token or user/password") as refused:
        resolve_credentials(XraySettings(credentials_path=path), cloud=False)
    assert "zz-secret" not in refused.value.message
