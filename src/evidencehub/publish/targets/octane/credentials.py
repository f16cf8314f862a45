"""Octane API credentials: from settings (env/config) or from the per-space credentials file.

The credentials file (``octane.credentials_path``, default
``/core/qzrelease/octane/S-{space_id}`` as the runbook says) holds two keys, in
any of these forms::

    client_id: evidencehub-ci          # YAML-style
    client_secret: 8f3…

    client_id=evidencehub-ci           # key=value (shell/properties style)
    client_secret=8f3…

    {"client_id": "evidencehub-ci", "client_secret": "8f3…"}   # JSON

``user``/``password`` are accepted as synonyms. Blank lines and ``#`` comments
are ignored. The file must be a regular file under 64 KiB; when others can read
it a warning is logged. Values never appear in messages or logs.
"""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from evidencehub.config import OctaneSettings
from evidencehub.errors import ConfigError
from evidencehub.ops.logging import get_logger

log = get_logger(__name__)

MAX_FILE_BYTES = 64 * 1024
_ID_KEYS = ("client_id", "user")
_SECRET_KEYS = ("client_secret", "password")


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: SecretStr
    source: str  # where they came from, for messages: "settings" or the file path

    def __repr__(self) -> str:
        return f"Credentials(client_id={self.client_id!r}, source={self.source!r})"


def credentials_file(settings: OctaneSettings) -> Path:
    try:
        return Path(settings.credentials_path.format(space_id=settings.space_id))
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"octane.credentials_path {settings.credentials_path!r} is not a valid template: only "
            "{space_id} can be filled in",
            details={"setting": "octane.credentials_path"},
        ) from exc


def resolve_credentials(settings: OctaneSettings) -> Credentials:
    """Credentials from settings if both parts are set there, else from the credentials file."""
    has_id = bool(settings.client_id)
    has_secret = settings.client_secret is not None and bool(settings.client_secret.get_secret_value())
    if has_id and has_secret:
        assert settings.client_id is not None
        assert settings.client_secret is not None
        return Credentials(settings.client_id, settings.client_secret, "settings")
    if has_id != has_secret:
        missing = "octane.client_secret" if has_id else "octane.client_id"
        raise ConfigError(
            f"Octane credentials are incomplete: {missing} is not set "
            "(set both EVIDENCEHUB_OCTANE__CLIENT_ID and EVIDENCEHUB_OCTANE__CLIENT_SECRET, or neither "
            "and use the credentials file)",
            details={"missing": missing},
        )
    path = credentials_file(settings)
    if not path.exists():
        raise ConfigError(
            f"no Octane credentials: octane.client_id/client_secret are not set and the credentials file "
            f"{path} (octane.credentials_path for space {settings.space_id}) does not exist",
            details={"credentials_path": str(path)},
        )
    return read_credentials_file(path)


def read_credentials_file(path: Path) -> Credentials:
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(f"cannot read Octane credentials file {path}: {exc.strerror}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"Octane credentials file {path} is not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        raise ConfigError(f"Octane credentials file {path} is larger than {MAX_FILE_BYTES // 1024} KiB")
    if info.st_mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("Octane credentials file is readable by other users; chmod 600 it", path=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read Octane credentials file {path} as UTF-8 text") from exc
    values = _parse(text, path)
    client_id = next((values[key] for key in _ID_KEYS if values.get(key)), None)
    secret = next((values[key] for key in _SECRET_KEYS if values.get(key)), None)
    if not client_id or not secret:
        missing = "client_id" if not client_id else "client_secret"
        raise ConfigError(
            f"Octane credentials file {path} has no {missing} (expected keys client_id and client_secret)",
            details={"credentials_path": str(path), "missing": missing},
        )
    return Credentials(client_id, SecretStr(secret), str(path))


def _parse(text: str, path: Path) -> dict[str, str]:
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            raise ConfigError(
                f"Octane credentials file {path} looks like JSON but is not valid JSON"
            ) from exc
        if not isinstance(data, dict):
            raise ConfigError(f"Octane credentials file {path} must hold a JSON object")
        return {str(key): str(value) for key, value in data.items() if value is not None}
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        separators = [index for index in (line.find("="), line.find(":")) if index > 0]
        if not separators:
            raise ConfigError(
                f"Octane credentials file {path}, line {number}: expected 'key: value' or 'key=value'",
                details={"credentials_path": str(path), "line": number},
            )
        split = min(separators)
        key, value = line[:split].strip(), line[split + 1 :].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values
