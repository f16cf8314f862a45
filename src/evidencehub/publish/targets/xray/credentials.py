"""Xray credentials: Server/DC Basic (user + password) or a personal access token; Cloud client id/secret.

Taken from settings (``xray.*``, env ``EVIDENCEHUB_XRAY__*``) when set there,
else from ``xray.credentials_path``: a file of ``key: value`` or ``key=value``
lines, or a JSON object, with the keys ``user``/``password``, ``token``, or
``client_id``/``client_secret``. Values never appear in messages or logs.
"""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from evidencehub.config import XraySettings
from evidencehub.errors import ConfigError

MAX_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class XrayCredentials:
    kind: str  # "basic", "token" (Server/DC) or "client" (Cloud)
    name: str  # user or client id, shown in messages ("personal access token" for a token)
    secret: SecretStr
    source: str  # "settings" or the file path

    def __repr__(self) -> str:
        return f"XrayCredentials(kind={self.kind!r}, name={self.name!r}, source={self.source!r})"


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None and value.get_secret_value() else None


def _pick(values: dict[str, str | None], cloud: bool, source: str) -> XrayCredentials | None:
    if cloud:
        return _pair(values, "client_id", "client_secret", kind="client", flavour="Cloud", source=source)
    token = values.get("token")
    if token:
        return XrayCredentials("token", "personal access token", SecretStr(token), source)
    return _pair(values, "user", "password", kind="basic", flavour="Server", source=source)


def _pair(
    values: dict[str, str | None], name_key: str, secret_key: str, *, kind: str, flavour: str, source: str
) -> XrayCredentials | None:
    """Credentials from a name and a secret given together; None when neither is given, and a
    ConfigError naming the missing one when only one is (half a pair is a mistake, not an absence)."""
    name, secret = values.get(name_key), values.get(secret_key)
    if name and secret:
        return XrayCredentials(kind, name, SecretStr(secret), source)
    if name or secret:
        missing = secret_key if name else name_key
        raise ConfigError(
            f"Xray {flavour} credentials from {source} are incomplete: {missing} is missing",
            details={"missing": missing, "source": source},
        )
    return None


def resolve_credentials(settings: XraySettings, *, cloud: bool) -> XrayCredentials:
    """The credentials for the flavour: settings first, then the credentials file."""
    from_settings = _pick(
        {
            "client_id": settings.client_id,
            "client_secret": _secret(settings.client_secret),
            "token": _secret(settings.token),
            "user": settings.user,
            "password": _secret(settings.password),
        },
        cloud,
        "settings",
    )
    if from_settings is not None:
        return from_settings
    wanted = (
        "xray.client_id and xray.client_secret" if cloud else "xray.token, or xray.user and xray.password"
    )
    if settings.credentials_path is None:
        raise ConfigError(
            f"no Xray {'Cloud' if cloud else 'Server'} credentials: set {wanted} "
            "(EVIDENCEHUB_XRAY__…) or xray.credentials_path",
            details={"setting": "xray.credentials_path"},
        )
    found = _pick(read_file(settings.credentials_path), cloud, str(settings.credentials_path))
    if found is None:
        raise ConfigError(
            f"Xray credentials file {settings.credentials_path} holds no "
            f"{'client_id/client_secret' if cloud else 'token or user/password'}",
            details={"credentials_path": str(settings.credentials_path)},
        )
    return found


def read_file(path: Path) -> dict[str, str | None]:
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(f"cannot read Xray credentials file {path}: {exc.strerror}") from exc
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
        raise ConfigError(f"Xray credentials file {path} must be a regular file under 64 KiB")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read Xray credentials file {path} as UTF-8 text") from exc
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            raise ConfigError(f"Xray credentials file {path} looks like JSON but is not valid JSON") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"Xray credentials file {path} must hold a JSON object")
        return {str(key): str(value) for key, value in data.items() if value is not None}
    values: dict[str, str | None] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        splits = [index for index in (line.find("="), line.find(":")) if index > 0]
        if not splits:
            raise ConfigError(
                f"Xray credentials file {path}, line {number}: expected 'key: value' or 'key=value'",
                details={"credentials_path": str(path), "line": number},
            )
        split = min(splits)
        value = line[split + 1 :].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[line[:split].strip()] = value
    return values
